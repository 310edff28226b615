import json
import sys

from . import progress_wanted


def add_parser(sub):
    p = sub.add_parser("data", help="inspect and split a UTKFace dataset")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    c = dsub.add_parser("check", help="counts, label distributions, defects and duplicates")
    c.add_argument("source", metavar="DIR", help="UTKFace folder, .tar.gz or .zip")
    c.add_argument("--json", metavar="FILE", help="also write the full report as JSON ('-': stdout)")
    c.add_argument("--no-progress", action="store_true",
                   help="no progress count (shown on stderr when it is a terminal)")
    c.set_defaults(run=run_check)

    s = dsub.add_parser("split", help="write a grouped, stratified train/val manifest CSV")
    s.add_argument("source", metavar="DIR", help="UTKFace folder, .tar.gz or .zip")
    s.add_argument("--out", required=True, metavar="MANIFEST.csv")
    s.add_argument("--val-fraction", type=float, default=0.2)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--conflicts", choices=("drop", "keep"), default="drop",
                   help="what to do with duplicate groups whose labels disagree (default drop)")
    s.add_argument("--duplicates", choices=("one", "all"), default="one",
                   help="keep one member per duplicate group, or all (default one)")
    s.add_argument("--report", metavar="FILE", help="write the check report as JSON too")
    s.add_argument("--no-progress", action="store_true",
                   help="no progress count (shown on stderr when it is a terminal)")
    s.set_defaults(run=run_split)


def _write_json(report: dict, target: str) -> None:
    text = json.dumps(report, indent=2)
    if target == "-":
        print(text)
    else:
        with open(target, "w") as f:
            f.write(text + "\n")


def run_check(args) -> int:
    from ..data.check import check, format_report

    report, _, _ = check(args.source, progress_wanted(args, results_on_stdout=False))
    if args.json != "-":
        print(format_report(report))
    if args.json:
        _write_json(report, args.json)
    return 0


def run_split(args) -> int:
    from ..data.check import check, format_report
    from ..data.split import split_groups, write_manifest

    if not 0.0 < args.val_fraction < 1.0:
        raise ValueError(f"--val-fraction must be between 0 and 1, got {args.val_fraction}")
    report, s, g = check(args.source, progress_wanted(args, results_on_stdout=False))
    rows = split_groups(s, g, args.val_fraction, args.seed,
                        drop_conflicts=args.conflicts == "drop",
                        one_per_group=args.duplicates == "one")
    digest = write_manifest(rows, args.out)
    if args.report:
        _write_json(report, args.report)
    n_val = sum(r.split == "val" for r in rows)
    print(format_report(report), file=sys.stderr)
    print(f"wrote {args.out}: {len(rows)} files, {len(rows) - n_val} train, {n_val} val, "
          f"{len({r.group for r in rows})} groups, sha256 {digest[:16]}")
    return 0
