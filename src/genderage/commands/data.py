import json
import sys

from . import add_renamed_argument, nonempty, progress_wanted


def add_parser(sub):
    p = sub.add_parser("data", help="inspect and split a UTKFace dataset")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    c = dsub.add_parser("check", help="counts, label distributions, defects and duplicates")
    c.add_argument("source", metavar="DIR", help="UTKFace folder, .tar.gz or .zip")
    add_renamed_argument(c, "--report", ("--json",), metavar="FILE",
                         help="also write the full report as JSON to FILE ('-': standard "
                              "output, instead of the text)")
    c.add_argument("--no-progress", action="store_true",
                   help="no progress count (shown on stderr when it is a terminal)")
    c.set_defaults(run=run_check)

    s = dsub.add_parser("split", help="write a grouped, stratified train/val manifest CSV")
    s.add_argument("source", metavar="[NAME=]DIR", nargs="+",
                   help="sources: a UTKFace folder, .tar.gz or .zip (bare, or utkface=DIR), "
                        "and optionally aaf=DIR (All-Age-Faces: images/ and labels.csv)")
    s.add_argument("--dev-fraction", type=float, default=0.2,
                   help="share of the AAF faces held out as its dev fold (split 'val')")
    s.add_argument("--cache-dir", default="runs/cache",
                   help="where AAF's detected landmarks are cached ('' disables)")
    s.add_argument("--detector", metavar="SPEC",
                   help="face detector for AAF's landmarks (default: the default detector; "
                        "`mtcnn-v1` reproduces splits/utkface_aaf_seed0.csv)")
    s.add_argument("--out", required=True, metavar="MANIFEST.csv", type=nonempty)
    s.add_argument("--val-fraction", type=float, default=0.2)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--conflicts", choices=("drop", "keep"), default="drop",
                   help="what to do with duplicate groups whose labels disagree (default drop)")
    s.add_argument("--duplicates", choices=("one", "all"), default="one",
                   help="keep one member per duplicate group, or all (default one)")
    s.add_argument("--report", metavar="FILE",
                   help="also write the check report as JSON to FILE ('-': standard output)")
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
    if args.report != "-":
        print(format_report(report))
    if args.report:
        _write_json(report, args.report)
    return 0


def run_split(args) -> int:
    from ..data.check import format_report
    from ..data.sources import parse_sources, split_sources
    from ..data.split import write_manifest

    for name in ("val_fraction", "dev_fraction"):
        if not 0.0 < getattr(args, name) < 1.0:
            raise ValueError(f"--{name.replace('_', '-')} must be between 0 and 1, "
                             f"got {getattr(args, name)}")
    rows, report = split_sources(parse_sources(args.source), args.val_fraction, args.seed,
                                 args.dev_fraction, drop_conflicts=args.conflicts == "drop",
                                 one_per_group=args.duplicates == "one",
                                 cache_dir=args.cache_dir or None, detector=args.detector,
                                 progress=progress_wanted(args, results_on_stdout=False))
    digest = write_manifest(rows, args.out)
    if args.report:
        _write_json(report if len(report) > 1 else report["utkface"], args.report)
    print(format_report(report["utkface"]), file=sys.stderr)
    if "aaf" in report:
        a = report["aaf"]
        print(f"aaf: {a['files']} files, {len(a['dropped_as_duplicates_of_utkface'])} dropped as "
              f"duplicates of UTKFace faces, {a['duplicate_pairs_within']} duplicate pairs "
              f"within", file=sys.stderr)
    sources = sorted({r.source for r in rows})
    for source in sources if len(sources) > 1 else []:
        print(_counts(source, [r for r in rows if r.source == source]))
    print(f"wrote {_counts(args.out, rows)}, sha256 {digest[:16]}")
    return 0


def _counts(name: str, rows) -> str:
    n_val = sum(r.split == "val" for r in rows)
    return (f"{name}: {len(rows)} files, {len(rows) - n_val} train, {n_val} val, "
            f"{len({r.group for r in rows})} groups")
