"""``genderage report RESULTS.parquet``: population estimates from ``genderage batch`` results."""

from __future__ import annotations

from pathlib import Path

from ..outputs import output_path
from . import positive_int


def add_parser(sub):
    p = sub.add_parser(
        "report", help="female share and age distribution of a batch of results, with "
                       "95%% intervals",
        description="Estimate the female share (corrected for the model's measured errors), "
                    "the age distribution, the mean age and the female share per age band of "
                    "the faces in `genderage batch` results, each with a 95% interval. Writes "
                    "report.md, report.html and report.json. Method: docs/report.md.")
    p.add_argument("results", type=Path, metavar="RESULTS.parquet",
                   help="output of `genderage batch` (a Parquet file or folder)")
    p.add_argument("--out", type=output_path, default=Path("report"), metavar="DIR",
                   help="folder for report.md, report.html, report.json (default: ./report); "
                        "existing report files in it are never written over")
    p.add_argument("--exclude-low-quality", action="store_true",
                   help="leave out faces flagged low quality")
    p.add_argument("--by", metavar="COLUMN",
                   help="also report each value of this column separately")
    p.add_argument("--bootstrap", type=positive_int, default=1000, metavar="N",
                   help="bootstrap replicates per interval (default: 1000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..cli import CliError
    from ..outputs import OutputExistsError, check_outputs
    from ..report import REPORT_FILES, build_report, write_report

    try:
        check_outputs([args.out / name for name in REPORT_FILES], inputs=[args.results])
    except OutputExistsError as exc:
        raise CliError(str(exc)) from None
    report = build_report(args.results, exclude_low_quality=args.exclude_low_quality,
                          by=args.by, n_boot=args.bootstrap, seed=args.seed)
    files = write_report(report, args.out)
    fs = report["female_share"]
    share = fs["naive"] if fs["estimate"] is None else fs["estimate"]
    lo, hi = fs["naive_ci95"] if fs["ci95"] is None else fs["ci95"]
    kind = "naive" if fs["estimate"] is None else "corrected"
    age = report["mean_age"]
    age_ci = "no interval from one face" if age["ci95"] is None else \
        f"{age['ci95'][0]:.1f}-{age['ci95'][1]:.1f}"
    print(f"{report['n_faces_used']} faces: female share {100 * share:.1f}% ({kind}; 95% "
          f"{100 * lo:.1f}-{100 * hi:.1f}%, n={report['n_faces_used']}), mean age "
          f"{age['estimate']:.1f} ({age_ci}, n={report['n_faces_used']})")
    print("wrote " + ", ".join(str(f) for f in files))
    return 0
