"""research/eval_ensemble.py, the ensemble study: golden scores, and a real run on tiny data
with the shipped model."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import eval_ensemble as ens  # research/, on the tests' path (pyproject.toml)

from genderage.models import default_model_path

ROOT = Path(__file__).resolve().parents[1]


def test_scores_golden():
    # Rows: [logit_female, logit_male, age / 100]; genders are model indices (0 female).
    out = np.array([[2.0, 0.0, 0.08],    # female, age 8 (true 5: err 3), right
                    [0.0, 1.0, 0.24],    # male, age 24 (true 25: err 1), wrong (female)
                    [0.0, 3.0, 0.46],    # male, age 46 (true 40: err 6), right
                    [1.0, 0.5, 0.70]])   # female, age 70 (true 80: err 10), wrong (male)
    r = ens.scores(out, np.array([5, 25, 40, 80.0]), np.array([0, 0, 1, 1]))
    assert r["gender_accuracy"] == 0.5 and r["gender_se"] == 0.25   # sqrt(.25 / 4)
    assert r["age_mae"] == 5.0 and r["age_bias"] == pytest.approx(-0.5)
    assert r["within_5"] == 0.5 and r["gender_accuracy_0_17"] == 1.0


@pytest.mark.skipif(default_model_path() is None, reason="no shipped model")
def test_two_copies_of_one_model_average_to_that_model(tmp_path, synthetic_utkface):
    data = synthetic_utkface.root
    files = sorted(p.name for p in data.glob("*.jpg"))[:6]
    manifest = tmp_path / "split.csv"
    with open(manifest, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "split", "group", "age", "gender", "race"])
        for i, name in enumerate(files):
            w.writerow([name, "val", i, 30, "female" if i % 2 else "male", "white"])
    aaf = tmp_path / "AAF"
    (aaf / "images").mkdir(parents=True)
    photo = ROOT / "examples" / "astronaut.jpg"
    shutil.copy(photo, aaf / "images" / "a.jpg")
    Image.open(photo).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(aaf / "images" / "b.jpg")
    (aaf / "images" / "c.jpg").write_bytes(b"not a jpeg")
    (aaf / "labels.csv").write_text("file,age,gender\nimages/a.jpg,45,female\n"
                                    "images/b.jpg,45,female\nimages/c.jpg,30,male\n")
    model = default_model_path()
    cache = tmp_path / "aaf.npz"
    args = ([model, model], data, manifest, aaf, aaf / "labels.csv", cache)
    report = ens.evaluate_ensemble(*args)
    assert report["aaf_images"] == 3 and report["aaf_detected"] == 2   # c.jpg is unreadable
    first, second = report["models"]
    single = {k: first[k] for k in ("utkface_val", "aaf")}
    assert first == second and report["average"] == single
    assert single["utkface_val"]["n"] == 6 and single["aaf"]["n"] == 2
    # The detections are kept: a second run reads the crops, not the images.
    shutil.rmtree(aaf / "images")
    assert ens.evaluate_ensemble(*args)["average"] == single
