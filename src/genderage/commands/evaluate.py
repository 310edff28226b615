import json
import shlex
from pathlib import Path

from . import nonempty, positive_int


def add_parser(sub):
    p = sub.add_parser(
        "evaluate", help="metrics of a model (ONNX or checkpoint) on UTKFace chips (--data) "
                         "or on labelled photos through the whole pipeline (--photos)")
    p.add_argument("model", metavar="MODEL", nargs="?",
                   help="a .onnx file or a training checkpoint (.pt); with --photos, an ONNX "
                        "file (default: the shipped model)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", metavar="DIR", help="UTKFace folder (aligned chips)")
    source.add_argument("--photos", metavar="DIR",
                        help="folder of photos named by --labels, run through detection, "
                             "alignment and the model (e.g. All-Age-Faces)")
    p.add_argument("--manifest", metavar="CSV",
                   help="split manifest (default: every file); with --photos, only its rows "
                        "of --split among the photos (e.g. the AAF dev fold)")
    p.add_argument("--split", default="val", help="manifest split to use (default val)")
    p.add_argument("--labels", metavar="CSV",
                   help="with --photos: file,age,gender rows (default: DIR/labels.csv)")
    p.add_argument("--detector", metavar="SPEC", help="with --photos: the face detector")
    p.add_argument("--limit", type=positive_int, metavar="N",
                   help="with --photos: use N labelled photos, evenly spaced")
    p.add_argument("--batch-size", type=positive_int, default=32,
                   help="with --photos: photos per pipeline call (default 32)")
    p.add_argument("--out", metavar="DIR", type=nonempty, help="write metrics.json (and with --data, "
                                                "report.md and plots) here")
    p.add_argument("--flip-tta", action="store_true", help="average each prediction with the mirror image's")
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(run=run)


def run(args) -> int:
    return run_photos(args) if args.photos else run_chips(args)


def load_model(path: str, flip_tta: bool):
    """An ONNX file -> :class:`AttributeModel`; anything else is read as a checkpoint."""
    if Path(path).suffix == ".onnx":
        from ..attribute import AttributeModel
        return AttributeModel(path, flip_tta=flip_tta)
    try:
        from ..training.predictor import CheckpointModel
    except ImportError as exc:
        raise ImportError(f"evaluating a checkpoint needs the [train] extra ({exc})") from None
    return CheckpointModel(path, flip_tta=flip_tta)


def run_chips(args) -> int:
    from ..errors import CliError
    from ..evaluation.evaluate import evaluate

    if args.model is None:
        raise CliError("--data needs a MODEL")
    r = evaluate(load_model(args.model, args.flip_tta), args.data, args.manifest, args.split,
                 args.out, plots=not args.no_plots)
    a = r["age"]
    print(f"{r['n']} faces: gender accuracy {100 * r['gender']['accuracy']:.2f}%, "
          f"age MAE {a['mae']:.2f} (median {a['median_ae']:.2f}, within 5y "
          f"{100 * a['within_5']:.1f}%), ECE {r['calibration']['ece']:.4f}")
    for name, m in r["age_by_group"].items():
        if m["n"]:
            print(f"  age {name}: n {m['n']}, MAE {m['age']['mae']:.2f}")
    if args.out:
        print(f"wrote {args.out}/metrics.json, report.md and plots")
    return 0


def run_photos(args) -> int:
    from ..evaluation.photos import evaluate_photos, load_labels
    from ..pipeline import GenderAge

    photos = Path(args.photos)
    rows = load_labels(args.labels or photos / "labels.csv", args.limit, args.manifest,
                       args.split)
    analyzer = GenderAge(args.model, args.detector, flip_tta=args.flip_tta)
    command = "genderage " + " ".join(shlex.quote(a) for a in args.argv)
    report = evaluate_photos(analyzer, photos, rows, args.batch_size, command)
    if args.manifest:  # which photos were scored: e.g. the AAF dev fold, for the model card
        report["subset"] = {"manifest": args.manifest, "split": args.split}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        from ..evaluation.evaluate import write_metrics

        write_metrics(args.out, report)
    return 0
