def add_parser(sub):
    p = sub.add_parser("train", help="train a GenderAgeModel (needs the [train] extra)")
    p.add_argument("--data", required=True, metavar="[NAME=]DIR", action="append",
                   help="a source folder: UTKFace (bare DIR or utkface=DIR), aaf=DIR; repeat "
                        "for each source the manifest names")
    p.add_argument("--manifest", required=True, metavar="CSV", help="from `genderage data split`")
    p.add_argument("--out", default="runs/train", metavar="DIR", help="checkpoints and logs")
    p.add_argument("--arch", default="card", help="architecture name (see docs/training.md)")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--schedule", choices=("plateau", "cosine"), default="plateau",
                   help="learning rate: the card's ReduceLROnPlateau, or per-step cosine decay "
                        "to 0 after a linear warm-up")
    p.add_argument("--warmup-epochs", type=float, default=1.0, help="cosine warm-up length")
    p.add_argument("--early-stop-patience", type=int, default=10, help="epochs; 0 disables")
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--age-weight", type=float, default=2.0,
                   help="loss weight of MSE(age/100); the gender cross-entropy weighs 1")
    p.add_argument("--ldl-weight", type=float, default=1.0,
                   help="loss weight of the age-distribution KL term (with --age-distribution)")
    p.add_argument("--age-distribution", action="store_true",
                   help="add an age-distribution head (label distribution learning)")
    p.add_argument("--age-output", choices=("regression", "expectation", "mean"),
                   default="regression", help="which age estimate the contract's output carries")
    p.add_argument("--balance-race", type=float, default=0.0, metavar="P",
                   help="draw training faces with replacement, weighted count(race)^-P "
                        "(1: every race equally often; 0: plain shuffle)")
    p.add_argument("--balance-age", type=float, default=0.0, metavar="P",
                   help="the same by age band (0-17, 18-29, 30-49, 50-69, 70+); combines "
                        "with --balance-race by multiplying the weights")
    p.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA",
                   help="mixup: blend pairs of faces with weight ~ Beta(ALPHA, ALPHA) and their "
                        "losses with the same weights (0: off)")
    p.add_argument("--augment", choices=("none", "standard", "strong"), default="standard")
    p.add_argument("--recrop", type=float, default=0.0, metavar="P",
                   help="probability that a training face is its pipeline re-crop (the chip "
                        "padded, detected and aligned by the inference code)")
    p.add_argument("--recrop-detector", default=None, metavar="SPEC",
                   help="detector for --recrop (default: the default detector)")
    p.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                   help="keep an exponential moving average of weights (e.g. 0.999)")
    p.add_argument("--robust", type=float, default=0.0, metavar="P",
                   help="probability that a training face gets one real-photo degradation "
                        "(under/over-exposure, blur, JPEG quality, partial occlusion)")
    p.add_argument("--distill", type=float, default=0.0, metavar="ALPHA",
                   help="weight of the teacher ensemble's soft gender targets against the "
                        "labels (0: off; see docs/training.md, 'Teachers')")
    p.add_argument("--distill-cydral-weight", type=float, default=None, metavar="W",
                   help="Cydral's share of the teacher ensemble (default: chosen on the dev "
                        "folds)")
    p.add_argument("--teacher-dir", default="runs/teachers",
                   help="folder holding Cydral's gender-v1.onnx and age-v1.onnx")
    p.add_argument("--teacher-v1", default=None, metavar="ONNX",
                   help="the v1 attribute model used as a teacher (default: the shipped one)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    p.add_argument("--cache-dir", default="runs/cache", help="uint8 face cache ('' disables)")
    p.add_argument("--max-steps", type=int, default=0, help=argparse_suppress())
    p.add_argument("--limit-train", type=int, default=0, help=argparse_suppress())
    p.add_argument("--init", default=None, metavar="CKPT",
                   help="start from this checkpoint's weights (its EMA weights when it kept them) "
                        "with a fresh optimizer and schedule: a warm restart")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def argparse_suppress():
    import argparse
    return argparse.SUPPRESS


def run(args) -> int:
    import logging

    from ..training.loop import TrainConfig, train

    from ..data.sources import parse_sources

    logging.getLogger("genderage").setLevel(logging.INFO)
    roots = parse_sources(args.data)
    utk = roots.pop("utkface", None)
    cfg = TrainConfig(
        data_dir=str(utk) if utk else "", sources={k: str(v) for k, v in roots.items()},
        robust=args.robust, distill_alpha=args.distill,
        distill_cydral_weight=args.distill_cydral_weight, teacher_dir=args.teacher_dir,
        teacher_v1=args.teacher_v1, manifest=args.manifest, out_dir=args.out, arch=args.arch,
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        weight_decay=args.weight_decay, schedule=args.schedule,
        warmup_epochs=args.warmup_epochs, early_stop_patience=args.early_stop_patience,
        label_smoothing=args.label_smoothing, age_weight=args.age_weight,
        ldl_weight=args.ldl_weight, balance_race=args.balance_race,
        balance_age=args.balance_age,
        mixup=args.mixup,
        age_distribution=args.age_distribution,
        age_output=args.age_output, augment=args.augment,
        recrop=args.recrop, recrop_detector=args.recrop_detector, ema_decay=args.ema, seed=args.seed,
        precision=args.precision, device=args.device, threads=args.threads,
        cache_dir=args.cache_dir or None, max_steps=args.max_steps, limit_train=args.limit_train,
        init=args.init)
    summary = train(cfg, resume=args.resume, progress=not args.no_progress)
    print(f"trained {summary['epochs_run']} epochs in {summary['train_seconds']:.0f}s; "
          f"best epoch {summary['best_epoch']} (val loss {summary['best_val_loss']:.4f}); "
          f"checkpoints in {args.out}")
    return 0
