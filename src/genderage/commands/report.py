"""``genderage report RESULTS.parquet``: population estimates from ``genderage batch`` results."""

from __future__ import annotations

from pathlib import Path

from . import positive_int


def add_parser(sub):
    p = sub.add_parser(
        "report", help="female share and age distribution of a batch of results, with "
                       "95%% intervals",
        description="Estimate the female share (corrected for the model's measured errors), "
                    "the age distribution, the mean age and the female share per age band of "
                    "the faces in `genderage batch` results, each with a 95%% interval. Writes "
                    "report.md, report.html and report.json. Method: docs/report.md.")
    p.add_argument("results", type=Path, metavar="RESULTS.parquet",
                   help="output of `genderage batch` (a Parquet file or folder)")
    p.add_argument("--out", type=Path, default=Path("report"), metavar="DIR",
                   help="folder for report.md, report.html, report.json (default: ./report)")
    p.add_argument("--exclude-low-quality", action="store_true",
                   help="leave out faces flagged low quality")
    p.add_argument("--by", metavar="COLUMN",
                   help="also report each value of this column separately")
    p.add_argument("--bootstrap", type=positive_int, default=1000, metavar="N",
                   help="bootstrap replicates per interval (default: 1000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--labels", type=Path, metavar="LABELS.csv",
                   help="labels of a random sample of these faces (`genderage label`): every "
                        "estimate becomes prediction-powered, beside the dev-set correction")
    p.add_argument("--plan", action="store_true",
                   help="print about how many labels give each interval width, and stop")
    p.add_argument("--width", type=float, metavar="POINTS",
                   help="with --plan: the female-share interval wanted, +-POINTS percentage "
                        "points (default: a table of 1-5)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..report import build_report, write_report

    if args.plan:
        from ..report.labelled import plan_text

        widths = None if args.width is None else (args.width / 100,)
        print(plan_text(args.results, args.exclude_low_quality, widths))
        return 0
    report = build_report(args.results, exclude_low_quality=args.exclude_low_quality,
                          by=args.by, n_boot=args.bootstrap, seed=args.seed, labels=args.labels)
    files = write_report(report, args.out)
    fs = report["female_share"]
    share = fs["naive"] if fs["estimate"] is None else fs["estimate"]
    lo, hi = fs["naive_ci95"] if fs["ci95"] is None else fs["ci95"]
    kind = fs.get("method", "naive" if fs["estimate"] is None else "corrected")
    age = report["mean_age"]
    print(f"{report['n_faces_used']} faces: female share {100 * share:.1f}% ({kind}; 95% "
          f"{100 * lo:.1f}-{100 * hi:.1f}%), mean age {age['estimate']:.1f} "
          f"({age['ci95'][0]:.1f}-{age['ci95'][1]:.1f})")
    print("wrote " + ", ".join(str(f) for f in files))
    return 0
