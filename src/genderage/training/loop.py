"""``genderage train``: the training loop.

Reads top to bottom: config, data, model, optimizer, the epoch loop with validation,
checkpointing and early stopping. Every epoch draws its shuffling, augmentation and dropout
from generators seeded by (seed, epoch), so ``--resume`` from an epoch checkpoint continues
to the same result as an uninterrupted run.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..contract import AGE_BANDS, AGE_SCALE, DEFAULT_PREPROCESSING, age_band
from ..data.split import DEFAULT_SOURCE, manifest_hash, read_manifest
from ..evaluation.metrics import gender_by_band
from ..preprocess import to_input_tensor
from .arch import GenderAgeNet, build_model, count_parameters, model_config
from .augment import PRESETS, augment
from .callbacks import TrainLogger
from .checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from .config import ModelConfig, TrainConfig
from .ema import EMA
from .faceset import FaceSet
from .multisource import load_sources
from .objectives import Targets, compute_loss
from .record import write_run_record
from .robust import degrade
from .sampling import epoch_order, mix_recrops, sampling_weights
from .schedule import LearningRate

log = logging.getLogger(__name__)


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True,
          callback: TrainLogger | None = None, argv: list[str] | None = None) -> dict:
    """Train a model as ``cfg`` says; returns the final summary (also in ``out_dir``).

    Args:
        resume: continue the run in ``cfg.out_dir`` from its ``last.pt``.
        progress: show a progress bar (with the default ``callback``).
        callback: receives the run's progress (default: a :class:`TrainLogger`).
        argv: the command line that started this, for the run record (``run.json``).
    """
    mcfg = model_config(cfg.arch, age_distribution=cfg.age_distribution,
                        age_output=cfg.age_output)
    out_dir = Path(cfg.out_dir)
    # a resumed run is checked against its checkpoint before minutes go into loading data
    last_path = out_dir / "last.pt"
    resumed = resumable_checkpoint(last_path, cfg) if resume else None
    out_dir.mkdir(parents=True, exist_ok=True)
    write_run_record(out_dir, cfg, argv, resume)
    callback = callback or TrainLogger(out_dir, progress)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device, amp_dtype = resolve_device(cfg)
    channels_last = device.type == "cpu" and amp_dtype is not None

    # --- data: UTKFace's val split drives validation (val_*); other sources' val rows (the
    # AAF dev fold) are scored as <source>_val_* with the monitored model
    train_set, val_set, extra_val = load_splits(cfg)
    val_recrops = val_set.recropped()
    online_teachers = None
    if cfg.teachers and cfg.teacher_views == "augmented":
        from .teachers import OnlineTeachers

        online_teachers = OnlineTeachers(cfg.teachers, cfg.threads)
    elif cfg.teachers:
        from .teachers import ensemble_targets

        t0 = time.time()
        train_set.extra["teacher_gender"], train_set.extra["teacher_age"] = ensemble_targets(
            cfg.teachers, train_set.faces, cfg.cache_dir, threads=cfg.threads)
        log.info("teacher targets for %d faces in %.1fs", len(train_set), time.time() - t0)

    # --- model and optimizer
    model = initial_model(cfg, mcfg, resume,
                          train_set.faces[::max(1, len(train_set) // 512)][:512]).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(train_set) / cfg.batch_size)
    lr = LearningRate(optimizer, cfg, steps_per_epoch)
    ema = EMA(model, cfg.ema_decay) if cfg.ema_decay > 0 else None
    state = {"epoch": 0, "step": 0, "best_loss": math.inf, "best_epoch": 0, "bad_epochs": 0,
             "history": [], "train_seconds": 0.0}
    if resumed is not None:
        state = restore(resumed, model, optimizer, lr, ema)
        log.info("resumed from %s at epoch %d", last_path, state["epoch"])

    summary_base = {"model_config": mcfg.to_dict(), "train_config": cfg.to_dict(),
                    "preprocessing": asdict(DEFAULT_PREPROCESSING),  # what load_faceset does
                    "manifest_sha256": manifest_hash(cfg.manifest),
                    "parameters": count_parameters(model), "device": str(device),
                    "precision": "bf16" if amp_dtype is not None else "fp32",
                    "threads": torch.get_num_threads()}

    def checkpoint(path: Path) -> None:
        save_checkpoint({**summary_base, "epoch": state["epoch"],
                         "model_state": model.state_dict(),
                         "ema_state": ema.model.state_dict() if ema is not None else None,
                         "optimizer_state": optimizer.state_dict(),
                         "scheduler_state": lr.state_dict(), "train_state": state}, path)

    def validate(net, faces: FaceSet) -> dict:
        return evaluate_split(net, faces, cfg, device, amp_dtype, channels_last)

    weights = sampling_weights(train_set.age, cfg.balance_age)
    aug = PRESETS[cfg.augment]
    stop = False
    while state["epoch"] < cfg.epochs and not stop:
        epoch = state["epoch"] + 1
        g = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        torch.manual_seed(cfg.seed * 100_003 + epoch)  # dropout
        order = epoch_order(len(train_set), weights, g)
        model.train()
        t_epoch = time.time()
        running, seen = 0.0, 0
        callback.epoch_start(epoch, cfg.epochs, steps_per_epoch)
        for b in range(steps_per_epoch):
            batch = train_set.take(np.sort(order[b * cfg.batch_size:(b + 1) * cfg.batch_size]))
            lr.before_step(state["step"])
            x, targets = batch_tensors(batch, cfg, aug, g, device, channels_last,
                                       online_teachers)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                out = model(x)
            loss, _ = compute_loss(out, targets, cfg)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if ema is not None:
                ema.update(model, state["step"])
            state["step"] += 1
            running += loss.item() * len(batch)
            seen += len(batch)
            callback.step(running / seen)
            if cfg.max_steps and state["step"] >= cfg.max_steps:
                stop = True
                break
        train_time = time.time() - t_epoch

        row = {"epoch": epoch, "lr": lr.current, "train_loss": running / seen,
               "train_images_per_s": seen / train_time, "epoch_seconds": 0.0,
               **prefixed("val_", validate(model, val_set))}
        monitored_model = model
        if ema is not None:
            row.update(prefixed("ema_val_", validate(ema.model, val_set)))
            monitored_model = ema.model
        if val_recrops is not None:
            row.update(prefixed("recrop_val_", validate(monitored_model, val_recrops)))
        for source, faces in extra_val.items():
            row.update(prefixed(f"{source}_val_", validate(monitored_model, faces)))
        monitored = row["ema_val_loss"] if ema is not None else row["val_loss"]
        lr.after_validation(monitored)
        row["epoch_seconds"] = time.time() - t_epoch
        improved, stop = end_epoch(state, row, monitored, cfg, stop)
        checkpoint(last_path)
        if improved:
            checkpoint(out_dir / "best.pt")
        if cfg.checkpoint_every and epoch % cfg.checkpoint_every == 0:
            checkpoint(out_dir / f"epoch_{epoch:03d}.pt")
        callback.epoch_end(row, state["history"])

    summary = {**summary_base, "epochs_run": state["epoch"], "best_epoch": state["best_epoch"],
               "best_val_loss": state["best_loss"], "train_seconds": state["train_seconds"],
               "history": state["history"]}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    callback.train_end(state["history"])
    return summary


def end_epoch(state: dict, row: dict, monitored: float, cfg: TrainConfig, stop: bool
              ) -> tuple[bool, bool]:
    """Record epoch ``row`` in the loop ``state``; returns whether the monitored validation
    loss improved, and whether to stop (early stopping, or ``stop`` already)."""
    epoch = row["epoch"]
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
    return improved, stop


def load_splits(cfg: TrainConfig) -> tuple[FaceSet, FaceSet, dict[str, FaceSet]]:
    """The manifest's train faces, the first source's val faces and the other sources' val
    faces by source (with pipeline re-crops when ``cfg.recrop``)."""
    from ..data.sources import validate_manifest

    roots = {DEFAULT_SOURCE: Path(cfg.data_dir)} if cfg.data_dir else {}
    roots.update({k: Path(v) for k, v in cfg.sources.items()})
    rows = read_manifest(cfg.manifest)
    validate_manifest(rows, roots, cfg.manifest)
    train_rows = [r for r in rows if r.split == "train"]
    val_rows = [r for r in rows if r.split == "val"]
    if cfg.limit_train:
        train_rows = train_rows[:cfg.limit_train]
    if not train_rows or not val_rows:
        raise ValueError(f"{cfg.manifest}: needs both train and val rows")
    t0 = time.time()
    train_set, val_all = (load_sources(r, roots, cfg.cache_dir, cfg.recrop > 0,
                                       cfg.recrop_detector) for r in (train_rows, val_rows))
    log.info("loaded %d train / %d val faces in %.1fs", len(train_set), len(val_all),
             time.time() - t0)
    sources = val_all.extra["source"]
    by_source = {s: val_all.take(sources == s) for s in dict.fromkeys(sources)}
    main = next(iter(by_source))
    return train_set, by_source.pop(main), by_source


def initial_model(cfg: TrainConfig, mcfg: ModelConfig, resume: bool,
                  bn_faces: np.ndarray | None = None) -> GenderAgeNet:
    """A freshly initialised network (seeded), or ``cfg.init``'s weights for a warm restart
    (``bn_faces``: faces for the BatchNorm statistics of an ONNX warm start)."""
    torch.manual_seed(cfg.seed)
    model = build_model(mcfg)
    if cfg.init and not resume:
        if cfg.init.endswith(".onnx"):  # an exported model: see training/onnx_init.py
            from .onnx_init import onnx_model_config
            init_cfg = onnx_model_config(cfg.init)
        else:
            init_model = model_from_checkpoint(load_checkpoint(cfg.init), weights="auto")
            init_cfg = init_model.cfg
        if init_cfg.to_dict() != mcfg.to_dict():
            raise ValueError(f"{cfg.init}: its model config differs from --arch {cfg.arch} with "
                             f"these head options")
        if cfg.init.endswith(".onnx"):
            from .onnx_init import load_onnx_weights
            load_onnx_weights(model, cfg.init, bn_faces)
        else:
            model.load_state_dict(init_model.state_dict())
        log.info("initialised from %s", cfg.init)
    return model


RUNTIME_SETTINGS = frozenset({"out_dir", "data_dir", "sources", "cache_dir", "threads",
                              "device", "max_steps", "checkpoint_every"})
"""Settings a resumed run may change: where things are and how fast it runs, not what it
computes (the data's identity is the manifest's SHA-256, checked apart)."""


def config_changes(planned: dict, cfg: TrainConfig) -> list[str]:
    """The settings of ``cfg`` that differ from the checkpoint's ``planned`` config, as
    ``"name: planned -> now"``, leaving out :data:`RUNTIME_SETTINGS` (and ``epochs`` under the
    plateau schedule, which a run may extend)."""
    planned = TrainConfig.from_dict(planned, "checkpoint").to_dict()
    now = cfg.to_dict()
    allowed = RUNTIME_SETTINGS | ({"epochs"} if cfg.schedule == planned["schedule"] == "plateau"
                                  else set())
    return [f"{k}: {planned[k]!r} -> {now[k]!r}" for k in now
            if k not in allowed and planned[k] != now[k]]


def resumable_checkpoint(path: Path, cfg: TrainConfig) -> dict:
    """The run's last checkpoint, after checking that ``cfg`` continues it: the same manifest
    and the same recipe (ValueError naming what differs otherwise)."""
    ckpt = load_checkpoint(path)
    if ckpt["manifest_sha256"] != manifest_hash(cfg.manifest):
        raise ValueError(f"{cfg.manifest} differs from the manifest the run was started with")
    planned = ckpt["train_config"]
    if cfg.schedule == "cosine" and (planned.get("schedule"), planned["epochs"]) != \
            ("cosine", cfg.epochs):
        raise ValueError(f"{path}: the cosine schedule was planned for "
                         f"{planned['epochs']} epochs ({planned.get('schedule')}); resume it "
                         f"with --schedule cosine --epochs {planned['epochs']}")
    changes = config_changes(planned, cfg)
    if changes:
        raise ValueError(f"{path}: the run was started with another config; differing keys: "
                         + "; ".join(changes) + f". Resume with the run's own recipe "
                         f"(--config {path.parent / 'run.json'}) or train into a new --out")
    return ckpt


def restore(ckpt: dict, model, optimizer, lr: LearningRate, ema: EMA | None) -> dict:
    """Load a checkpoint into the live objects; returns its loop state."""
    model.load_state_dict(ckpt["model_state"])
    optimizer.load_state_dict(ckpt["optimizer_state"])
    lr.load_state_dict(ckpt["scheduler_state"])
    if ema is not None:
        ema.model.load_state_dict(ckpt["ema_state"])
    return ckpt["train_state"]


def batch_tensors(batch: FaceSet, cfg: TrainConfig, aug, g: torch.Generator, device,
                  channels_last: bool, online_teachers=None) -> tuple[torch.Tensor, Targets]:
    """A training batch's augmented input (re-crops mixed in) and targets, on ``device``;
    with ``online_teachers`` (:class:`~.teachers.OnlineTeachers`) the teachers' answers for
    that augmented input are the soft targets."""
    faces = batch.faces
    if batch.recrops is not None:
        faces = mix_recrops(faces, batch.recrops, batch.recrop_found, cfg.recrop, g)
    faces = degrade(faces, cfg.robust, g)
    x = augment(to_float(faces, "cpu", False), aug, g)
    if online_teachers is not None:
        answers = online_teachers(x.numpy())
    else:
        answers = [batch.extra.get(k) for k in ("teacher_gender", "teacher_age")]
    x = x.to(device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    teacher = [None if a is None else torch.from_numpy(a).to(device) for a in answers]
    return x, Targets(torch.from_numpy(batch.gender).to(device),
                      torch.from_numpy(batch.age).to(device), *teacher)


def prefixed(prefix: str, metrics: dict) -> dict:
    return {f"{prefix}{k}": v for k, v in metrics.items()}


def bf16_supported() -> bool:
    """True if this CPU runs bf16 matmuls natively (AVX-512 BF16 / AMX)."""
    try:
        return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    except (AttributeError, RuntimeError):
        return False


def resolve_device(cfg: TrainConfig) -> tuple[torch.device, torch.dtype | None]:
    """The device, and the autocast dtype (None: fp32)."""
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


def to_float(x: np.ndarray, device, channels_last: bool) -> torch.Tensor:
    """uint8 ``[N, S, S, 3]`` faces -> the model's input on ``device``
    (:func:`~genderage.preprocess.to_input_tensor` with the preprocessing checkpoints record)."""
    t = to_input_tensor(torch.from_numpy(x).to(device), DEFAULT_PREPROCESSING)
    return t.contiguous(memory_format=torch.channels_last) if channels_last else t.contiguous()


@torch.no_grad()
def evaluate_split(model, faces: FaceSet, cfg: TrainConfig, device, amp_dtype, channels_last,
                   batch_size: int = 256) -> dict:
    """Validation loss and headline metrics (gender accuracy, age MAE) of ``model``."""
    model.eval()
    sums: dict[str, float] = {}
    correct, abs_err, n = 0, 0.0, 0
    abs_err_expect = 0.0
    hits, errs, p_female = [], [], []  # per face, for the age-band breakdowns
    for start in range(0, len(faces), batch_size):
        batch = faces.take(slice(start, start + batch_size))
        x = to_float(batch.faces, device, channels_last)
        t = Targets(torch.from_numpy(batch.gender).to(device),
                    torch.from_numpy(batch.age).float().to(device))
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            out = model(x)
        _, parts = compute_loss(out, t, cfg)
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + v * len(batch)
        main = model.contract_outputs(out)
        hit = main[0][:, :2].argmax(1) == t.gender
        correct += hit.sum().item()
        abs_err += (out["age_reg"].float() * AGE_SCALE - t.age).abs().sum().item()
        if len(main) > 1:
            abs_err_expect += ((main[1] * model.ages).sum(1) - t.age).abs().sum().item()
        hits.append(hit.cpu().numpy())
        p_female.append(torch.softmax(main[0][:, :2].float(), 1)[:, 0].cpu().numpy())
        errs.append((main[0][:, 2].float() * AGE_SCALE - t.age).abs().cpu().numpy())
        n += len(batch)
    metrics = {k: v / n for k, v in sums.items()}
    metrics["gender_acc"] = correct / n
    metrics["age_mae_regression"] = abs_err / n
    if abs_err_expect:
        metrics["age_mae_expectation"] = abs_err_expect / n
    metrics["age_mae"] = float(np.concatenate(errs).mean())  # the contract's age
    metrics.update(band_metrics(np.concatenate(hits), np.concatenate(errs), faces.age))
    for band, m in gender_by_band(faces.age, faces.gender, np.concatenate(p_female)).items():
        metrics[f"gband_{band}_gender_acc"] = m["accuracy"]
        metrics[f"gband_{band}_ece"] = m["ece"]
    return metrics


def band_metrics(hit: np.ndarray, abs_err: np.ndarray, ages: np.ndarray) -> dict:
    """Gender accuracy and MAE (of the contract's age) per age band: ``band_0-17_gender_acc``,
    ``band_0-17_mae``, ... (bands without faces are left out)."""
    bands = np.array([age_band(int(round(a))) for a in ages])
    out = {}
    for b, (lo, hi) in enumerate(AGE_BANDS):
        m = bands == b
        if m.any():
            name = f"{lo}-{hi}" if hi < 200 else f"{lo}+"
            out[f"band_{name}_gender_acc"] = float(hit[m].mean())
            out[f"band_{name}_mae"] = float(abs_err[m].mean())
    return out
