def add_parser(sub):
    p = sub.add_parser("evaluate", help="metrics of a model (ONNX or checkpoint) on UTKFace chips")
    p.add_argument("model", metavar="MODEL", help="a .onnx file or a training checkpoint (.pt)")
    p.add_argument("--data", required=True, metavar="DIR", help="UTKFace folder")
    p.add_argument("--manifest", metavar="CSV", help="split manifest (default: every file)")
    p.add_argument("--split", default="val", help="manifest split to use (default val)")
    p.add_argument("--out", metavar="DIR", help="write metrics.json, report.md and plots here")
    p.add_argument("--flip-tta", action="store_true", help="average each prediction with the mirror image's")
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..evaluate import evaluate

    r = evaluate(args.model, args.data, args.manifest, args.split, args.out,
                 flip_tta=args.flip_tta, plots=not args.no_plots)
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
