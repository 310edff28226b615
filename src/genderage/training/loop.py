"""``genderage train``: the training loop.

Reads top to bottom: config, data, model, optimizer, the epoch loop with validation,
checkpointing and early stopping. Every epoch draws its shuffling, augmentation and dropout
from generators seeded by (seed, epoch), so ``--resume`` from an epoch checkpoint continues
to the same result as an uninterrupted run.
"""

from __future__ import annotations

import copy
import csv
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..contract import AGE_SCALE
from ..data.split import age_band, manifest_hash, read_manifest
from .arch import AGE_BINS, build_model, count_parameters, model_config
from .augment import PRESETS, augment
from .cache import load_faces
from .checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Training settings. Defaults are the model card's unless docs/training.md says why."""

    data_dir: str = ""
    manifest: str = ""
    out_dir: str = "runs/train"
    arch: str = "card"
    epochs: int = 50
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "plateau"        # plateau (the card's) | cosine
    plateau_patience: int = 5
    plateau_factor: float = 0.5
    warmup_epochs: float = 1.0       # cosine: linear warm-up from 0, then cosine decay to 0
    early_stop_patience: int = 10    # 0 disables early stopping
    age_weight: float = 2.0          # loss = CE(gender) + age_weight * MSE(age / 100)
    label_smoothing: float = 0.0
    age_distribution: bool = False   # add the age-distribution head (label distribution learning)
    ldl_weight: float = 1.0
    ldl_sigma: float = 2.0           # years; width of the Gaussian target distribution
    age_output: str = "regression"
    augment: str = "standard"
    recrop: float = 0.0              # probability a training face is its pipeline re-crop
    recrop_detector: str | None = None
    ema_decay: float = 0.0           # 0 disables the weight EMA
    seed: int = 0
    checkpoint_every: int = 10
    precision: str = "auto"          # auto | bf16 | fp32
    device: str = "auto"             # auto | cpu | cuda
    max_steps: int = 0               # stop after this many optimizer steps (0 = no limit; tests)
    limit_train: int = 0             # use only the first N training rows (0 = all; tests)
    cache_dir: str | None = "runs/cache"
    threads: int = 0
    init: str | None = None          # start from this checkpoint's weights (EMA when kept)
    balance_race: float = 0.0        # sample faces with weight count(race)^-p (0 = plain shuffle)
    balance_age: float = 0.0         # ... times count(age band)^-p (the metrics' age bands)
    mixup: float = 0.0               # mixup Beta(a, a) concentration (0 = off)
    extra: dict = field(default_factory=dict)


def cosine_lr(step: int, total_steps: int, warmup_steps: int, base_lr: float) -> float:
    """Learning rate at optimizer ``step`` (0-based): linear warm-up, then cosine to 0."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return base_lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def group_weights(groups: list[int], power: float) -> np.ndarray:
    """Per-face sampling weights ``count(group) ** -power``, normalised to sum to 1.

    ``power`` 1 draws every group (e.g. race) equally often, 0.5 halfway (in log terms)
    between that and the data's own mix, 0 leaves the mix as it is.
    """
    _, inverse, counts = np.unique(np.asarray(groups), return_inverse=True,
                                   return_counts=True)
    w = counts[inverse].astype(np.float64) ** -power
    return w / w.sum()


def mix_recrops(chips: np.ndarray, recrops: np.ndarray, found: np.ndarray, p: float,
                g: torch.Generator) -> np.ndarray:
    """Each face of a batch is its pipeline re-crop with probability ``p`` (if one was found),
    else the original chip. One draw per face from ``g``, so runs stay reproducible."""
    use = (torch.rand(len(chips), generator=g).numpy() < p) & found
    return np.where(use[:, None, None, None], recrops, chips)


def bf16_supported() -> bool:
    """True if this CPU runs bf16 matmuls natively (AVX-512 BF16 / AMX)."""
    try:
        return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    except (AttributeError, RuntimeError):
        return False


def resolve_device(cfg: TrainConfig) -> tuple[torch.device, torch.dtype | None]:
    dev = cfg.device
    if dev == "auto":
        dev = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(dev)
    if cfg.precision == "fp32":
        return device, None
    if device.type == "cuda":
        return device, torch.bfloat16
    if cfg.precision == "bf16" or bf16_supported():
        return device, torch.bfloat16
    return device, None


def age_targets(ages: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian label distributions over integer ages 0..120, ``[N, AGE_BINS]``."""
    grid = torch.arange(AGE_BINS, dtype=torch.float32, device=ages.device)
    d = torch.exp(-0.5 * ((grid[None] - ages[:, None].float()) / sigma) ** 2)
    return d / d.sum(1, keepdim=True)


def compute_loss(model, out: dict, gender: torch.Tensor, age: torch.Tensor, cfg: TrainConfig):
    """Total loss and its parts. ``age`` in years, ``gender`` model indices."""
    g_loss = F.cross_entropy(out["gender_logits"].float(), gender,
                             label_smoothing=cfg.label_smoothing)
    a_loss = F.mse_loss(out["age_reg"].float(), age / AGE_SCALE)
    total = g_loss + cfg.age_weight * a_loss
    parts = {"gender_loss": g_loss.item(), "age_loss": a_loss.item()}
    if "age_logits" in out:
        logp = F.log_softmax(out["age_logits"].float(), dim=1)
        ldl = F.kl_div(logp, age_targets(age, cfg.ldl_sigma), reduction="batchmean")
        total = total + cfg.ldl_weight * ldl
        parts["ldl_loss"] = ldl.item()
    parts["loss"] = total.item()
    return total, parts


def mixup_batch(x: torch.Tensor, alpha: float, g: torch.Generator
                ) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Mixup (Zhang et al. 2018): blend each face with another face of the batch.

    Returns the mixed batch, the partner indices ``j`` and the weight ``lam`` of the
    original faces: ``x_mix = lam * x + (1 - lam) * x[j]``, ``lam ~ Beta(alpha, alpha)``
    (drawn from ``g``, as the rest of the batch's randomness).
    """
    seed = int(torch.randint(2 ** 31, (1,), generator=g))
    lam = float(np.random.default_rng(seed).beta(alpha, alpha))
    j = torch.randperm(len(x), generator=g)
    return lam * x + (1 - lam) * x[j], j, lam


def _to_float(x: np.ndarray, device, channels_last: bool) -> torch.Tensor:
    t = torch.from_numpy(x).to(device).permute(0, 3, 1, 2).float().div_(255.0)
    return t.contiguous(memory_format=torch.channels_last) if channels_last else t.contiguous()


@torch.no_grad()
def evaluate_split(model, faces, genders, ages, cfg, device, amp_dtype, channels_last,
                   batch_size: int = 256) -> dict:
    """Validation loss and headline metrics (gender accuracy, age MAE) of ``model``."""
    model.eval()
    sums: dict[str, float] = {}
    correct, abs_err, n = 0, 0.0, 0
    abs_err_expect = 0.0
    for start in range(0, len(faces), batch_size):
        x = _to_float(faces[start:start + batch_size], device, channels_last)
        g = torch.from_numpy(genders[start:start + batch_size]).to(device)
        a = torch.from_numpy(ages[start:start + batch_size]).float().to(device)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            out = model(x)
        _, parts = compute_loss(model, out, g, a, cfg)
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + v * len(g)
        main = model.contract_outputs(out)
        correct += (main[0][:, :2].argmax(1) == g).sum().item()
        abs_err += (out["age_reg"].float() * AGE_SCALE - a).abs().sum().item()
        if len(main) > 1:
            abs_err_expect += ((main[1] * model.ages).sum(1) - a).abs().sum().item()
        n += len(g)
    metrics = {k: v / n for k, v in sums.items()}
    metrics["gender_acc"] = correct / n
    metrics["age_mae_regression"] = abs_err / n
    if abs_err_expect:
        metrics["age_mae_expectation"] = abs_err_expect / n
    return metrics


class EMA:
    """Exponential moving average of weights and BatchNorm buffers.

    The decay warms up as ``min(decay, (1 + step) / (10 + step))``: with a fixed 0.999 the
    random initial weights would still carry 29% of the average after 1,200 steps.
    """

    def __init__(self, model, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))
        for e, m in zip(self.model.state_dict().values(), model.state_dict().values()):
            if e.dtype.is_floating_point:
                e.mul_(decay).add_(m.detach(), alpha=1 - decay)
            else:
                e.copy_(m)


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True) -> dict:
    """Train a model as ``cfg`` says; returns the final summary (also in ``out_dir``)."""
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device, amp_dtype = resolve_device(cfg)
    channels_last = device.type == "cpu" and amp_dtype is not None

    # --- data
    rows = read_manifest(cfg.manifest)
    train_rows = [r for r in rows if r.split == "train"]
    val_rows = [r for r in rows if r.split == "val"]
    if cfg.limit_train:
        train_rows = train_rows[:cfg.limit_train]
    if not train_rows or not val_rows:
        raise ValueError(f"{cfg.manifest}: needs both train and val rows")
    t0 = time.time()
    train_x = load_faces(cfg.data_dir, train_rows, cfg.cache_dir)
    val_x = load_faces(cfg.data_dir, val_rows, cfg.cache_dir)
    train_g = np.array([r.gender for r in train_rows], np.int64)
    train_a = np.array([r.age for r in train_rows], np.float32)
    val_g = np.array([r.gender for r in val_rows], np.int64)
    val_a = np.array([r.age for r in val_rows], np.float32)
    train_rx = train_found = val_rx = None
    if cfg.recrop > 0:
        from .recrop import load_recrops
        train_rx, train_found = load_recrops(cfg.data_dir, [r.file for r in train_rows],
                                             cfg.cache_dir, cfg.recrop_detector)
        val_rx, val_found = load_recrops(cfg.data_dir, [r.file for r in val_rows],
                                         cfg.cache_dir, cfg.recrop_detector)
        val_rx, val_rg, val_ra = val_rx[val_found], val_g[val_found], val_a[val_found]
        if not val_found.any():
            val_rx = None
        log.info("pipeline re-crops: %d of %d train, %d of %d val faces found",
                 train_found.sum(), len(train_rows), val_found.sum(), len(val_rows))
    log.info("loaded %d train / %d val faces in %.1fs", len(train_x), len(val_x), time.time() - t0)

    # --- model and optimizer
    mcfg = model_config(cfg.arch, age_distribution=cfg.age_distribution,
                        age_output=cfg.age_output)
    torch.manual_seed(cfg.seed)
    model = build_model(mcfg).to(device)
    if cfg.init and not resume:
        init_model = model_from_checkpoint(load_checkpoint(cfg.init), weights="auto")
        if init_model.cfg.to_dict() != mcfg.to_dict():
            raise ValueError(f"{cfg.init}: its model config differs from --arch {cfg.arch} with "
                             f"these head options")
        model.load_state_dict(init_model.state_dict())
        log.info("initialised from %s", cfg.init)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.schedule not in ("plateau", "cosine"):
        raise ValueError(f"unknown schedule {cfg.schedule!r} (plateau or cosine)")
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=cfg.plateau_factor, patience=cfg.plateau_patience)
    ema = EMA(model, cfg.ema_decay) if cfg.ema_decay > 0 else None
    aug_cfg = PRESETS[cfg.augment]

    state = {"epoch": 0, "step": 0, "best_loss": math.inf, "best_epoch": 0, "bad_epochs": 0,
             "history": [], "train_seconds": 0.0}
    last_path = out_dir / "last.pt"
    if resume:
        ckpt = load_checkpoint(last_path)
        if ckpt["manifest_sha256"] != manifest_hash(cfg.manifest):
            raise ValueError(f"{cfg.manifest} differs from the manifest the run was started with")
        planned = ckpt["train_config"]
        if cfg.schedule == "cosine" and (planned.get("schedule"), planned["epochs"]) != \
                ("cosine", cfg.epochs):
            raise ValueError(f"{last_path}: the cosine schedule was planned for "
                             f"{planned['epochs']} epochs ({planned.get('schedule')}); resume it "
                             f"with --schedule cosine --epochs {planned['epochs']}")
        model.load_state_dict(ckpt["model_state"])
        optimizer.load_state_dict(ckpt["optimizer_state"])
        scheduler.load_state_dict(ckpt["scheduler_state"])
        if ema is not None:
            ema.model.load_state_dict(ckpt["ema_state"])
        state = ckpt["train_state"]
        log.info("resumed from %s at epoch %d", last_path, state["epoch"])

    summary_base = {"model_config": mcfg.to_dict(), "train_config": asdict(cfg),
                    "manifest_sha256": manifest_hash(cfg.manifest),
                    "parameters": count_parameters(model), "device": str(device),
                    "precision": "bf16" if amp_dtype is not None else "fp32",
                    "threads": torch.get_num_threads()}

    def checkpoint(path: Path) -> None:
        save_checkpoint({**summary_base, "epoch": state["epoch"],
                         "model_state": model.state_dict(),
                         "ema_state": ema.model.state_dict() if ema is not None else None,
                         "optimizer_state": optimizer.state_dict(),
                         "scheduler_state": scheduler.state_dict(),
                         "train_state": state}, path)

    sample_weights = None
    if cfg.balance_race or cfg.balance_age:
        w = group_weights([r.race for r in train_rows], cfg.balance_race) \
            * group_weights([age_band(r.age) for r in train_rows], cfg.balance_age)
        sample_weights = torch.from_numpy(w / w.sum())
    steps_per_epoch = math.ceil(len(train_x) / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    warmup_steps = round(cfg.warmup_epochs * steps_per_epoch)
    stop = False
    while state["epoch"] < cfg.epochs and not stop:
        epoch = state["epoch"] + 1
        g = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        torch.manual_seed(cfg.seed * 100_003 + epoch)  # dropout
        if sample_weights is None:
            perm = torch.randperm(len(train_x), generator=g).numpy()
        else:  # as many draws as faces, with replacement, by the group weights
            perm = torch.multinomial(sample_weights, len(train_x), replacement=True,
                                     generator=g).numpy()
        model.train()
        t_epoch = time.time()
        running, seen = 0.0, 0
        bar = _progress(steps_per_epoch, f"epoch {epoch}/{cfg.epochs}", progress)
        for b in range(steps_per_epoch):
            idx = np.sort(perm[b * cfg.batch_size:(b + 1) * cfg.batch_size])
            faces = train_x[idx]
            if train_rx is not None:
                faces = mix_recrops(faces, train_rx[idx], train_found[idx], cfg.recrop, g)
            if cfg.schedule == "cosine":
                for group in optimizer.param_groups:
                    group["lr"] = cosine_lr(state["step"], total_steps, warmup_steps, cfg.lr)
            x = augment(_to_float(faces, "cpu", False), aug_cfg, g)
            if cfg.mixup > 0:
                x, partner, lam = mixup_batch(x, cfg.mixup, g)
            x = x.to(device)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            gt = torch.from_numpy(train_g[idx]).to(device)
            at = torch.from_numpy(train_a[idx]).to(device)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                out = model(x)
            loss, _ = compute_loss(model, out, gt, at, cfg)
            if cfg.mixup > 0:  # the loss is linear in the targets' weights
                partner = partner.to(device)
                loss = lam * loss + (1 - lam) * compute_loss(model, out, gt[partner],
                                                             at[partner], cfg)[0]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if ema is not None:
                ema.update(model, state["step"])
            state["step"] += 1
            running += loss.item() * len(idx)
            seen += len(idx)
            if bar is not None:
                bar.set_postfix(loss=f"{running / seen:.4f}", refresh=False)
                bar.update()
            if cfg.max_steps and state["step"] >= cfg.max_steps:
                stop = True
                break
        if bar is not None:
            bar.close()
        train_time = time.time() - t_epoch

        val = evaluate_split(model, val_x, val_g, val_a, cfg, device, amp_dtype, channels_last)
        row = {"epoch": epoch, "lr": optimizer.param_groups[0]["lr"], "train_loss": running / seen,
               "train_images_per_s": seen / train_time, "epoch_seconds": 0.0,
               **{f"val_{k}": v for k, v in val.items()}}
        if ema is not None:
            ema_val = evaluate_split(ema.model, val_x, val_g, val_a, cfg, device, amp_dtype,
                                     channels_last)
            row.update({f"ema_val_{k}": v for k, v in ema_val.items()})
        if val_rx is not None:  # the monitored model on the pipeline's re-crops
            rc_val = evaluate_split(ema.model if ema is not None else model, val_rx, val_rg,
                                    val_ra, cfg, device, amp_dtype, channels_last)
            row.update({f"recrop_val_{k}": v for k, v in rc_val.items()})
        monitored = row["ema_val_loss"] if ema is not None else row["val_loss"]
        if cfg.schedule == "plateau":
            scheduler.step(monitored)
        row["epoch_seconds"] = time.time() - t_epoch
        state["train_seconds"] += row["epoch_seconds"]
        state["history"].append(row)
        state["epoch"] = epoch
        improved = monitored < state["best_loss"]
        if improved:
            state.update(best_loss=monitored, best_epoch=epoch, bad_epochs=0)
        else:
            state["bad_epochs"] += 1
        if cfg.early_stop_patience and state["bad_epochs"] >= cfg.early_stop_patience:
            log.info("early stopping at epoch %d (best %d)", epoch, state["best_epoch"])
            stop = True
        state["stopped_early"] = stop and not cfg.max_steps
        checkpoint(last_path)
        if improved:
            checkpoint(out_dir / "best.pt")
        if cfg.checkpoint_every and epoch % cfg.checkpoint_every == 0:
            checkpoint(out_dir / f"epoch_{epoch:03d}.pt")
        _write_logs(out_dir, state["history"])
        log.info("epoch %d: %s", epoch, {k: round(v, 4) for k, v in row.items()})
        if progress:
            print(_epoch_line(row), flush=True)

    summary = {**summary_base, "epochs_run": state["epoch"], "best_epoch": state["best_epoch"],
               "best_val_loss": state["best_loss"], "train_seconds": state["train_seconds"],
               "history": state["history"]}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    _plot_curves(out_dir, state["history"])
    return summary


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="batch", leave=False, dynamic_ncols=True)


def _epoch_line(row: dict) -> str:
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


def _write_logs(out_dir: Path, history: list[dict]) -> None:
    (out_dir / "metrics.json").write_text(json.dumps(history, indent=2) + "\n")
    keys = list(dict.fromkeys(k for row in history for k in row))
    with (out_dir / "metrics.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, keys, lineterminator="\n")
        w.writeheader()
        w.writerows(history)


def _plot_curves(out_dir: Path, history: list[dict]) -> None:
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
