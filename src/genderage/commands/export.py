from . import nonempty


def add_parser(sub):
    p = sub.add_parser("export", help="export a checkpoint to ONNX (checked: checker + parity)")
    p.add_argument("checkpoint", metavar="CHECKPOINT")
    p.add_argument("--out", required=True, metavar="MODEL.onnx", type=nonempty)
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--weights", choices=("auto", "ema", "raw"), default="auto")
    p.add_argument("--flip-tta", action="store_true",
                   help="bake mirror test-time augmentation into the graph")
    p.add_argument("--age-output", choices=("regression", "expectation", "mean"),
                   help="override which age estimate the contract output carries")
    p.add_argument("--calibrate-data", metavar="DIR",
                   help="fit gender temperature and age interval on this folder's val split")
    p.add_argument("--calibrate-manifest", metavar="CSV")
    p.add_argument("--coverage", type=float, default=0.8, help="age interval coverage")
    p.set_defaults(run=run)


def run(args) -> int:
    import json

    from ..training.calibration import calibrate_checkpoint
    from ..training.export import export_onnx

    calibration = None
    if args.calibrate_data or args.calibrate_manifest:
        if not (args.calibrate_data and args.calibrate_manifest):
            raise ValueError("--calibrate-data and --calibrate-manifest go together")
        calibration = calibrate_checkpoint(args.checkpoint, args.calibrate_data,
                                           args.calibrate_manifest, args.weights, args.flip_tta,
                                           args.age_output, args.coverage)
    report = export_onnx(args.checkpoint, args.out, args.opset, args.weights, args.flip_tta,
                         args.age_output, calibration)
    if calibration:
        report["calibration"] = calibration
    print(json.dumps(report, indent=2))
    return 0
