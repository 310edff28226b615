"""Prediction-powered estimates against the dev-set correction on a child-heavy AAF collection.

The collection: every child (true age < 18) of the All-Age-Faces train half
(../shared/data/AAF) and as many adults drawn with seed 0 -- a population unlike the dev sets
(half children, where the model's gender errors are largest and differ most between
populations). Its true female share and mean age come from AAF's labels.

Steps:

    # 1. the path list and the truth of the collection
    PYTHONPATH=src python research/ppi_aaf_children.py subset --out runs/ppi_aaf
    # 2. the model's outputs on it (one run of `genderage batch`)
    genderage batch runs/ppi_aaf/paths.txt --out runs/ppi_aaf/results --age-probs --workers 1
    # 3. repeated random samples of 300 labels: coverage of each method's 95% interval
    PYTHONPATH=src python research/ppi_aaf_children.py evaluate --out runs/ppi_aaf

Step 3 takes the AAF label of each sampled photo as the labeller's answer (honest labels), so
it measures the estimators, not a person. Photos with several faces: the largest face
(``face_index`` 0) carries the photo's label; the other faces are labelled "not a face" for
gender and age (AAF labels one person per photo), which is what a labeller who cannot see
whom a second face belongs to would do least wrongly -- there are few of them (printed).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

AAF = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "AAF"


def subset(out: Path, aaf: Path = AAF) -> None:
    """Write ``paths.txt`` (absolute image paths) and ``truth.csv`` (path, gender, age)."""
    rows = list(csv.DictReader(open(aaf / "labels.csv", newline="")))
    kids = [r for r in rows if int(r["age"]) < 18]
    adults = [r for r in rows if int(r["age"]) >= 18]
    rng = np.random.default_rng(0)
    picked = [adults[i] for i in sorted(rng.choice(len(adults), len(kids), replace=False))]
    chosen = sorted(kids + picked, key=lambda r: r["file"])
    out.mkdir(parents=True, exist_ok=True)
    paths = [str((aaf / r["file"]).resolve()) for r in chosen]
    (out / "paths.txt").write_text("\n".join(paths) + "\n")
    with open(out / "truth.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "gender", "age"])
        for p, r in zip(paths, chosen):
            writer.writerow([p, r["gender"], r["age"]])
    female = np.mean([r["gender"] == "female" for r in chosen])
    age = np.mean([int(r["age"]) for r in chosen])
    print(f"{len(chosen)} photos ({len(kids)} children, {len(picked)} adults of "
          f"{len(adults)}): true female share {100 * female:.2f}%, mean age {age:.2f}")


if __name__ == "__main__":
    sys.exit(main())
