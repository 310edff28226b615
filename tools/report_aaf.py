"""`genderage report` checked against the labels of All-Age-Faces (AAF).

Runs `genderage batch` on AAF (or takes the results of `genderage batch`), builds the report
and prints, beside its estimates and 95% intervals, the truth from AAF's labels.

    PYTHONPATH=src python tools/report_aaf.py --out runs/aaf_report
    genderage batch ../shared/data/AAF/images --out runs/aaf.parquet --age-probs
    PYTHONPATH=src python tools/report_aaf.py --results runs/aaf.parquet --out runs/aaf_report

The truth is over the labelled images; the report counts every detected face (AAF has a few
images with a second face), so the two describe nearly, not exactly, the same faces.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from genderage.evaluation.photos import load_labels
from genderage.evaluation.population import comparison, run_batch, truth

DEFAULT_AAF = Path("../shared/data/AAF")

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aaf", type=Path, default=DEFAULT_AAF)
    parser.add_argument("--limit", type=int, help="every k-th labelled image, this many")
    parser.add_argument("--results", type=Path,
                        help="results of `genderage batch` on AAF (default: run the pipeline)")
    parser.add_argument("--out", type=Path, default=Path("runs/aaf_report"))
    parser.add_argument("--workers", type=int, default=2, help="batch workers (default 2)")
    args = parser.parse_args(argv)

    from genderage.report import build_report, write_report

    labels = load_labels(args.aaf / "labels.csv", args.limit)
    results = args.results
    if results is None:
        results = args.out / "results"
        run_batch([args.aaf / r["file"] for r in labels], results, workers=args.workers)
    report = build_report(results)
    write_report(report, args.out)
    print(f"{len(labels)} labelled images, {report['n_faces_used']} faces; "
          f"ages from {report['method']['age_source']}")
    print("| quantity | truth | estimate | 95% interval | inside | naive |")
    print("|---|---|---|---|---|---|")
    for name, true, est, ci, naive in comparison(report, truth(labels)):
        scale, unit = (1, "") if name == "mean age" else (100, "%")
        fmt = (lambda v: "-" if v is None else f"{scale * v:.1f}{unit}")
        inside = "-" if ci is None else ("yes" if ci[0] <= true <= ci[1] else "**no**")
        span = "-" if ci is None else f"{fmt(ci[0])}-{fmt(ci[1])}"
        print(f"| {name} | {fmt(true)} | {fmt(est)} | {span} | {inside} | {fmt(naive)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
