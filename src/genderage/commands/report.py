"""``genderage report RESULTS.parquet``: population estimates from ``genderage batch`` results."""

from __future__ import annotations

from pathlib import Path

from ..outputs import output_path
from . import add_renamed_argument, positive_int


def add_parser(sub):
    p = sub.add_parser(
        "report", help="female share and age distribution of a batch of results, with "
                       "95%% intervals",
        description="Estimate the female share (corrected for the model's measured errors), "
                    "the age distribution, the mean age and the female share per age band of "
                    "the faces in `genderage batch` results, each with a 95% interval. Writes "
                    "report.md, report.html and report.json. Method: docs/report.md.")
    p.add_argument("results", type=Path, metavar="RESULTS.parquet",
                   help="output of `genderage batch` (a Parquet file or folder), or a tracks "
                        "table of `genderage video` (Parquet, or one video's JSON lines): "
                        "then the report measures screen time")
    p.add_argument("--out", type=output_path, default=Path("report"), metavar="DIR",
                   help="folder for report.md, report.html, report.json (default: ./report); "
                        "existing report files in it are never written over")
    add_renamed_argument(p, "--skip-low-quality", ("--exclude-low-quality",),
                         action="store_true", help="leave out faces flagged low quality")
    p.add_argument("--by", metavar="COLUMN",
                   help="also report each value of this column separately")
    p.add_argument("--bootstrap", type=positive_int, default=1000, metavar="N",
                   help="bootstrap replicates per interval (default: 1000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    screen = p.add_argument_group("tracks tables (screen time)")
    screen.add_argument("--meta", type=Path, metavar="FILE.csv",
                        help="join this CSV's columns to the videos (for --by / --trend)")
    screen.add_argument("--on", default="path", metavar="COLUMN",
                        help="the --meta column holding the video path (default: path)")
    screen.add_argument("--trend", metavar="COLUMN",
                        help="also report each time bucket of this date column (YYYY-MM-DD)")
    screen.add_argument("--bucket", choices=("day", "week", "month", "quarter", "year"),
                        default="month", help="time bucket for --trend (default: month)")
    p.add_argument("--labels", type=Path, metavar="LABELS.csv",
                   help="labels of a random sample of these faces (`genderage label`): every "
                        "estimate becomes prediction-powered, beside the dev-set correction "
                        "(photo results only, for now)")
    p.add_argument("--plan", action="store_true",
                   help="print about how many labels give each interval width, and stop "
                        "(photo results only, for now)")
    p.add_argument("--width", type=float, metavar="POINTS",
                   help="with --plan: the female-share interval wanted, +-POINTS percentage "
                        "points (default: a table of 1-5)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..errors import CliError
    from ..report.screen_report import is_tracks_table

    tracks = is_tracks_table(args.results)
    if tracks and (args.labels or args.plan or args.width is not None):
        raise CliError(f"{args.results}: --labels, --plan and --width are not available for "
                       "tracks tables of `genderage video` yet (screen time has no "
                       "prediction-powered estimate); run the report without them")
    if args.plan:
        from ..report.labelled import plan_text

        widths = None if args.width is None else (args.width / 100,)
        print(plan_text(args.results, args.skip_low_quality, widths))
        return 0
    if tracks:
        return run_screen(args)
    from ..outputs import OutputExistsError, check_outputs
    from ..report import REPORT_FILES, build_report, write_report

    if args.meta or args.trend:
        raise CliError("--meta and --trend are for tracks tables of `genderage video`")

    try:
        check_outputs([args.out / name for name in REPORT_FILES], inputs=[args.results])
    except OutputExistsError as exc:
        raise CliError(str(exc)) from None
    report = build_report(args.results, exclude_low_quality=args.skip_low_quality,
                          by=args.by, n_boot=args.bootstrap, seed=args.seed, labels=args.labels)
    files = write_report(report, args.out)
    fs = report["female_share"]
    share = fs["naive"] if fs["estimate"] is None else fs["estimate"]
    lo, hi = fs["naive_ci95"] if fs["ci95"] is None else fs["ci95"]
    kind = fs.get("method", "naive" if fs["estimate"] is None else "corrected")
    age = report["mean_age"]
    age_ci = "no interval from one face" if age["ci95"] is None else \
        f"{age['ci95'][0]:.1f}-{age['ci95'][1]:.1f}"
    print(f"{report['n_faces_used']} faces: female share {100 * share:.1f}% ({kind}; 95% "
          f"{100 * lo:.1f}-{100 * hi:.1f}%, n={report['n_faces_used']}), mean age "
          f"{age['estimate']:.1f} ({age_ci}, n={report['n_faces_used']})")
    print("wrote " + ", ".join(str(f) for f in files))
    return 0


def run_screen(args) -> int:
    """Screen time of a tracks table; exit status 1 when a warning was printed."""
    import sys

    from ..errors import CliError
    from ..outputs import OutputExistsError, check_outputs
    from ..report import REPORT_FILES
    from ..report.screen_render import write_screen_report
    from ..report.screen_report import build_screen_report

    inputs = [args.results] + ([args.meta] if args.meta else [])
    try:
        check_outputs([args.out / name for name in REPORT_FILES], inputs=inputs)
    except OutputExistsError as exc:
        raise CliError(str(exc)) from None
    report = build_screen_report(args.results, exclude_low_quality=args.skip_low_quality,
                                 by=args.by, meta=args.meta, on=args.on, trend=args.trend,
                                 bucket=args.bucket, n_boot=args.bootstrap, seed=args.seed)
    files = write_screen_report(report, args.out)
    for warning in report["warnings"]:
        print(f"genderage report: warning: {warning}", file=sys.stderr)
    st = report["screen_time"]
    fs = st["female_share"]
    if fs["naive"] is None:
        print(f"{st['n_videos']} videos: no faces on screen")
    else:
        kind = "naive" if fs["estimate"] is None else "corrected"
        share, (lo, hi) = (fs["naive"], fs["naive_ci95"]) if fs["estimate"] is None else \
            (fs["estimate"], fs["ci95"])
        print(f"{st['n_videos']} videos, {st['on_screen_s'] / 3600:.2f} h of faces on screen: "
              f"female share of screen time {100 * share:.1f}% ({kind}; 95% {100 * lo:.1f}-"
              f"{100 * hi:.1f}%; naive {100 * fs['naive']:.1f}%)")
    print("wrote " + ", ".join(str(f) for f in files))
    return 1 if report["warnings"] else 0
