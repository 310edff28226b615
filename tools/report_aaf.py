"""`genderage report` checked against the labels of All-Age-Faces (AAF).

Runs `genderage batch` on AAF photos (or takes its results), builds the report and prints,
beside its estimates and 95% intervals, the truth from AAF's labels.

    # every labelled photo, or every k-th (--limit)
    PYTHONPATH=src python tools/report_aaf.py --out runs/aaf_report

    # only the photos of one split of a multi-source manifest: the AAF rows of split train
    # are not in the dev fold the shipped error model was measured on
    PYTHONPATH=src python tools/report_aaf.py --manifest splits/utkface_aaf_seed0.csv \
        --split train --out runs/aaf_train_report

    # cross-fitted on the AAF dev fold: the error model is measured on UTKFace val (from the
    # model's bundle) + one half of the fold (a fixed hash split), the report made on the
    # other half, and vice versa
    PYTHONPATH=src python tools/report_aaf.py --manifest splits/utkface_aaf_seed0.csv \
        --split val --cross-fit --out runs/aaf_dev_crossfit

The truth is over the labelled images; the report counts every detected face (AAF has a few
images with a second face), so the two describe nearly, not exactly, the same faces.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from genderage.evaluation.photos import load_labels
from genderage.evaluation.population import (comparison, female_share_by_estimated_band,
                                             half_of, largest_face_errors, run_batch,
                                             subset_results, truth)

DEFAULT_AAF = Path("../shared/data/AAF")


def print_table(report: dict, labels: list, results: Path,
                without: dict | None = None) -> None:
    """The report's estimates beside the truth. The report's bands are bands of ESTIMATED
    age; the truth is given per band of true age and, for the female share, also per band of
    estimated age (the labelled gender of each photo's largest face, weighted by its
    predicted mass in the band), which is what the report estimates. ``without``: the same
    report made without the error model, whose per-band shares are printed too."""
    print(f"{len(labels)} labelled images, {report['n_faces_used']} faces; "
          f"ages from {report['method']['age_source']}; error model: "
          f"{report['method']['error_model']['note']}")
    print("| quantity | truth | estimate | 95% interval | inside | naive |")
    print("|---|---|---|---|---|---|")
    for name, true, est, ci, naive in comparison(report, truth(labels)):
        scale, unit = (1, "") if name == "mean age" else (100, "%")
        fmt = (lambda v: "-" if v is None else f"{scale * v:.1f}{unit}")
        inside = "-" if ci is None else ("yes" if ci[0] <= true <= ci[1] else "**no**")
        span = "-" if ci is None else f"{fmt(ci[0])}-{fmt(ci[1])}"
        print(f"| {name} | {fmt(true)} | {fmt(est)} | {span} | {inside} | {fmt(naive)} |")
    versions = [("", report)] + ([(", overall rates", without)] if without else [])
    for band, true in female_share_by_estimated_band(results, labels).items():
        for label, r in versions:
            b = r["female_share_by_age_band"][band]
            if true is None or b["ci95"] is None:
                continue
            inside = "yes" if b["ci95"][0] <= true <= b["ci95"][1] else "**no**"
            print(f"| female share, estimated age {band}{label} | {100 * true:.1f}% | "
                  f"{100 * b['estimate']:.1f}% | {100 * b['ci95'][0]:.1f}%-"
                  f"{100 * b['ci95'][1]:.1f}% | {inside} | {100 * b['naive']:.1f}% |")


def without_error_model(results: Path, out: Path) -> dict:
    """The report of ``results`` with the model's bundle minus its error model."""
    from genderage.models.bundle import find_bundle
    from genderage.report import build_report
    from genderage.report.table import read_results

    path, bundle = find_bundle(read_results(results).model_sha256)
    plain = out / "without_error_model" / path.name
    bundle.replace(error_model=None).write(plain)
    return build_report(results, bundles=[plain])


def cross_fit(results: Path, labels: list, out: Path) -> None:
    """For each half of ``labels``: the model's bundle with its error model re-measured on
    UTKFace val + the OTHER half, and the report of this half made with it."""
    from genderage.models.bundle import find_bundle
    from genderage.report import build_report, write_report
    from genderage.report.table import read_results

    bundle_path, bundle = find_bundle(read_results(results).model_sha256)
    errors = bundle.error_model(bundle_path.name)
    halves = [[r for r in labels if half_of(r.file) == h] for h in (0, 1)]
    for h, (fit, held_out) in enumerate(((halves[1], halves[0]), (halves[0], halves[1]))):
        fitted = bundle.replace(error_model=replace(errors, dev_sets={
            "utkface_val": errors.dev_sets["utkface_val"],
            f"aaf_dev_half{1 - h}": largest_face_errors(results, fit)}))
        fitted_path = out / f"half{h}" / bundle_path.name
        fitted.write(fitted_path)
        names = {os.path.basename(r.file) for r in held_out}
        part = subset_results(results, names, out / f"half{h}" / "results.parquet")
        report = build_report(part, bundles=[fitted_path])
        write_report(report, out / f"half{h}")
        print(f"\nhalf {h}: reported with the error model of UTKFace val + half {1 - h}")
        print_table(report, held_out, part, without_error_model(part, out / f"half{h}"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aaf", type=Path, default=DEFAULT_AAF)
    parser.add_argument("--limit", type=int, help="every k-th labelled image, this many")
    parser.add_argument("--manifest", type=Path,
                        help="only the AAF photos of this multi-source manifest's --split")
    parser.add_argument("--split", default="val", help="the manifest's split (default: val)")
    parser.add_argument("--cross-fit", action="store_true",
                        help="cross-fitted error model over two fixed halves of the photos")
    parser.add_argument("--results", type=Path,
                        help="results of `genderage batch` on these photos (default: run it)")
    parser.add_argument("--out", type=Path, default=Path("runs/aaf_report"))
    parser.add_argument("--workers", type=int, default=2, help="batch workers (default 2)")
    args = parser.parse_args(argv)

    from genderage.report import build_report, write_report

    labels = load_labels(args.aaf / "labels.csv", args.limit, args.manifest, args.split)
    results = args.results
    if results is None:
        results = args.out / "results"
        run_batch([args.aaf / r.file for r in labels], results, workers=args.workers)
    if args.cross_fit:
        cross_fit(results, labels, args.out)
        return 0
    report = build_report(results)
    write_report(report, args.out)
    print_table(report, labels, results, without_error_model(results, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
