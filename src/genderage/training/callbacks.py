"""What a training run reports while it runs: a progress bar, one log line and the metric
logs per epoch, learning curves at the end. :func:`~.loop.train` calls a
:class:`TrainLogger` (or any object with the same methods)."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)


class TrainLogger:
    """Writes ``metrics.json`` and ``metrics.csv`` after every epoch and
    ``learning_curves.png`` at the end into ``out_dir``; logs one line per epoch (INFO);
    shows a tqdm progress bar per epoch when ``progress``."""

    def __init__(self, out_dir: str | Path, progress: bool = True):
        self.out_dir = Path(out_dir)
        self.progress = progress
        self._bar = None

    def epoch_start(self, epoch: int, epochs: int, steps: int) -> None:
        if self.progress:
            from tqdm import tqdm
            self._bar = tqdm(total=steps, desc=f"epoch {epoch}/{epochs}", unit="batch",
                             leave=False, dynamic_ncols=True)

    def step(self, mean_loss: float) -> None:
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{mean_loss:.4f}", refresh=False)
            self._bar.update()

    def epoch_end(self, row: dict, history: list[dict]) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        write_logs(self.out_dir, history)
        log.info("%s", epoch_line(row))

    def train_end(self, history: list[dict]) -> None:
        plot_curves(self.out_dir, history)


def epoch_line(row: dict) -> str:
    """One epoch's headline figures on one line."""
    parts = [f"epoch {row['epoch']}", f"lr {row['lr']:.2e}", f"train {row['train_loss']:.4f}",
             f"val {row['val_loss']:.4f}", f"acc {row['val_gender_acc']:.4f}",
             f"mae {row['val_age_mae_regression']:.2f}"]
    if "val_age_mae_expectation" in row:
        parts.append(f"mae_ldl {row['val_age_mae_expectation']:.2f}")
    if "ema_val_loss" in row:
        parts.append(f"ema acc {row['ema_val_gender_acc']:.4f} "
                     f"mae {row.get('ema_val_age_mae_expectation', row['ema_val_age_mae_regression']):.2f}")
    if "recrop_val_gender_acc" in row:
        parts.append(f"re-crop acc {row['recrop_val_gender_acc']:.4f}")
    parts.append(f"{row['train_images_per_s']:.0f} img/s {row['epoch_seconds']:.0f}s")
    return " | ".join(parts)


def write_logs(out_dir: Path, history: list[dict]) -> None:
    (out_dir / "metrics.json").write_text(json.dumps(history, indent=2) + "\n")
    keys = list(dict.fromkeys(k for row in history for k in row))
    with (out_dir / "metrics.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, keys, lineterminator="\n")
        w.writeheader()
        w.writerows(history)


def plot_curves(out_dir: Path, history: list[dict]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [r["epoch"] for r in history]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    axes[0].plot(ep, [r["train_loss"] for r in history], label="train")
    axes[0].plot(ep, [r["val_loss"] for r in history], label="val")
    axes[0].set_title("loss")
    axes[1].plot(ep, [r["val_gender_acc"] for r in history], label="val")
    axes[1].set_title("gender accuracy")
    axes[2].plot(ep, [r["val_age_mae_regression"] for r in history], label="val (regression)")
    if history and "val_age_mae_expectation" in history[0]:
        axes[2].plot(ep, [r["val_age_mae_expectation"] for r in history], label="val (distribution)")
    if history and "ema_val_loss" in history[0]:
        axes[0].plot(ep, [r["ema_val_loss"] for r in history], label="val (EMA)")
        axes[1].plot(ep, [r["ema_val_gender_acc"] for r in history], label="val (EMA)")
    axes[2].set_title("age MAE (years)")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_dir / "learning_curves.png", dpi=100)
    plt.close(fig)
