"""``genderage train``: a recipe file (``--config``) and/or flags -> one training run."""

import argparse

from . import add_renamed_argument, nonempty

# Flags and the TrainConfig field each sets: (flag, field, argparse options, help).
# Defaults are TrainConfig's; a flag given on the command line overrides --config's value.
FLAGS = (
    ("--data", "data_dir", {"metavar": "[NAME=]DIR", "action": "append"},
     "a source folder: UTKFace (bare DIR or utkface=DIR), aaf=DIR; repeat for each source "
     "the manifest names"),
    ("--manifest", "manifest", {"metavar": "CSV"}, "from `genderage data split`"),
    ("--out", "out_dir", {"metavar": "DIR", "type": nonempty}, "checkpoints and logs"),
    ("--arch", "arch", {}, "architecture name (see docs/training.md)"),
    ("--epochs", "epochs", {"type": int}, None),
    ("--batch-size", "batch_size", {"type": int}, None),
    ("--lr", "lr", {"type": float}, None),
    ("--weight-decay", "weight_decay", {"type": float}, None),
    ("--schedule", "schedule", {"choices": ("plateau", "cosine")},
     "learning rate: the card's ReduceLROnPlateau, or per-step cosine decay to 0 after a "
     "linear warm-up"),
    ("--warmup-epochs", "warmup_epochs", {"type": float}, "cosine warm-up length"),
    ("--early-stop-patience", "early_stop_patience", {"type": int}, "epochs; 0 disables"),
    ("--label-smoothing", "label_smoothing", {"type": float}, None),
    ("--age-weight", "age_weight", {"type": float},
     "loss weight of MSE(age/100); the gender cross-entropy weighs 1"),
    ("--ldl-weight", "ldl_weight", {"type": float},
     "loss weight of the age-distribution KL term (with --age-distribution)"),
    ("--age-distribution", "age_distribution", {"action": argparse.BooleanOptionalAction},
     "add an age-distribution head (label distribution learning)"),
    ("--age-output", "age_output", {"choices": ("regression", "expectation", "mean")},
     "which age estimate the contract's output carries"),
    ("--balance-age", "balance_age", {"type": float, "metavar": "P"},
     "draw training faces with replacement, weighted count(age band)^-P over the bands "
     "0-17, 18-29, 30-49, 50-69, 70+ (1: every band equally often; 0: plain shuffle)"),
    ("--augment", "augment", {"choices": ("none", "standard", "strong")}, None),
    ("--recrop", "recrop", {"type": float, "metavar": "P"},
     "probability that a training face is its pipeline re-crop (the chip padded, detected "
     "and aligned by the inference code)"),
    ("--recrop-detector", "recrop_detector", {"metavar": "SPEC"},
     "detector for --recrop (default: the default detector)"),
    ("--ema", "ema_decay", {"type": float, "metavar": "DECAY"},
     "keep an exponential moving average of weights (e.g. 0.999; 0 disables)"),
    ("--seed", "seed", {"type": int}, None),
    ("--compute-precision", "precision", {"choices": ("auto", "bf16", "fp32")},
     "arithmetic of the training steps: bf16 autocast where the device supports it (auto), "
     "always bf16, or fp32"),
    ("--device", "device", {}, "auto, cpu, cuda or cuda:N"),
    ("--threads", "threads", {"type": int, "metavar": "N"},
     "torch CPU threads of the training process (0: torch's default)"),
    ("--cache-dir", "cache_dir", {}, "uint8 face cache ('' disables)"),
    ("--max-steps", "max_steps", {"type": int}, argparse.SUPPRESS),
    ("--limit-train", "limit_train", {"type": int}, argparse.SUPPRESS),
    ("--init", "init", {"metavar": "CKPT"},
     "start from this checkpoint's weights (its EMA weights when it kept them), or from an "
     "exported .onnx file's, with a fresh optimizer and schedule: a warm restart"),
    ("--robust", "robust", {"type": float, "metavar": "P"},
     "probability that a training face gets one real-photo degradation (under/over-exposure, "
     "blur, JPEG quality, partial occlusion)"),
    ("--teacher", "teachers", {"action": "append", "metavar": "ONNX"},
     "distil from exported models: the mean of their answers on each clean training face "
     "(repeat for an ensemble; needs --teacher-weight)"),
    ("--teacher-weight", "teacher_weight", {"type": float, "metavar": "W"},
     "share of the teachers' soft targets in the gender and age-distribution targets"),
    ("--teacher-gender-weight", "teacher_gender_weight", {"type": float, "metavar": "W"},
     "the teachers' share in the gender target alone (default: --teacher-weight's; 0: "
     "labels only)"),
    ("--teacher-views", "teacher_views", {"choices": ("clean", "augmented")},
     "what the teachers answer: each clean training face once (cached), or the augmented "
     "batch the student sees at every step (consistent teaching; slower)"),
)
RENAMED = {"--compute-precision": ("--precision",)}
"""Flags renamed for one meaning per flag across commands (``--precision`` is the shipped
model's file elsewhere) -> their earlier spellings, still accepted for one release."""


def add_parser(sub):
    from dataclasses import fields

    from ..training.config import TrainConfig  # torch-free

    defaults = {f.name: f.default for f in fields(TrainConfig)}
    p = sub.add_parser("train", help="train a GenderAgeModel (needs the [train] extra)",
                       description="Train from a recipe file and/or flags; flags override the "
                                   "recipe, and the rest keep TrainConfig's defaults.")
    p.add_argument("--config", metavar="JSON",
                   help="a recipe (e.g. configs/v2.json, the shipped model's, or a run's run.json)")
    for flag, name, options, text in FLAGS:
        if text is not argparse.SUPPRESS:
            default = "required unless --config sets it" if defaults[name] == "" else \
                f"default: {defaults[name]}"
            text = f"{text + ' ' if text else ''}({default})"
        add_renamed_argument(p, flag, RENAMED.get(flag, ()), dest=name,
                             default=argparse.SUPPRESS, help=text, **options)
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def resolve_config(args):
    """TrainConfig from ``--config`` (if any) with the given flags on top."""
    from ..training.config import TrainConfig

    base = TrainConfig.from_json(args.config).to_dict() if args.config else {}
    given = {name: getattr(args, name) for _, name, _, _ in FLAGS if hasattr(args, name)}
    if given.get("cache_dir") == "":
        given["cache_dir"] = None
    if isinstance(given.get("data_dir"), list):  # --data [NAME=]DIR, once per source
        from ..data.sources import parse_sources

        roots = parse_sources(given.pop("data_dir"))
        utk = roots.pop("utkface", None)
        given["data_dir"] = str(utk) if utk else ""
        given["sources"] = {k: str(v) for k, v in roots.items()}
    return TrainConfig.from_dict({**base, **given})


def run(args) -> int:
    import logging

    from ..errors import CliError
    from ..training.loop import train

    cfg = resolve_config(args)
    if not (cfg.data_dir or cfg.sources) or not cfg.manifest:
        raise CliError("--data and --manifest are needed (on the command line or in --config)")
    logging.getLogger("genderage").setLevel(logging.INFO)
    summary = train(cfg, resume=args.resume, progress=not args.no_progress, argv=args.argv)
    print(f"trained {summary['epochs_run']} epochs in {summary['train_seconds']:.0f}s; "
          f"best epoch {summary['best_epoch']} (val loss {summary['best_val_loss']:.4f}); "
          f"checkpoints in {cfg.out_dir}")
    return 0
