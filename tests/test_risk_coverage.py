"""Risk-coverage of the gender answer (genderage.evaluation.risk_coverage): golden values on
hand-made faces, the recommended P, the bundle section of the shipped model and its card."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from genderage.evaluation.risk_coverage import (
    COVERAGES, RISK_BANDS, dev_set_table, recommend, risk_coverage, threshold_for)
from genderage.options import FaceOptions

ROOT = Path(__file__).resolve().parents[1]
BUNDLES = [ROOT / "src/genderage/models/genderage.metrics.json",
           ROOT / "src/genderage/models/genderage.int8.metrics.json"]

CONFIDENCE = np.array([0.9, 0.8, 0.7, 0.6, 0.55, 0.52, 0.51, 0.505, 0.501, 0.5001])
CORRECT = np.array([1, 1, 0, 1, 0, 1, 0, 1, 0, 0], bool)


def test_golden_risk_coverage():
    rows = risk_coverage(CORRECT, CONFIDENCE)
    assert [r["target"] for r in rows] == list(COVERAGES)
    # 100%: all ten, 5 right; 95%: ceil(9.5) = 10; 90%: 9 faces down to 0.501, 5 right;
    # 80%: 8 faces down to 0.505, 5 right; 70%: 7 faces down to 0.51, 4 right.
    assert [r["threshold"] for r in rows] == [0.5001, 0.5001, 0.501, 0.505, 0.51]
    assert [r["answered"] for r in rows] == [10, 10, 9, 8, 7]
    assert [r["accuracy"] for r in rows] == pytest.approx([0.5, 0.5, 5 / 9, 5 / 8, 4 / 7])


def test_the_threshold_answers_what_the_product_answers():
    """A face is answered by --min-gender-probability P exactly when the table counts it."""
    rng = np.random.default_rng(0)
    p_female = rng.uniform(0, 1, 500).astype(np.float32)
    confidence = np.maximum(p_female, 1 - p_female)
    for target in COVERAGES:
        p = threshold_for(confidence, target)
        options = FaceOptions(min_gender_probability=p)
        answered = sum(options.label("female", c) is not None for c in confidence)
        assert answered == int((confidence >= p).sum()) >= np.ceil(target * 500 - 1e-9)


def test_ties_at_the_threshold_are_all_answered():
    rows = risk_coverage(np.array([1, 0, 1, 1], bool), np.array([0.9, 0.7, 0.7, 0.7]),
                         coverages=(0.5,))
    assert rows[0]["threshold"] == 0.7 and rows[0]["answered"] == 4 and rows[0]["coverage"] == 1


def test_dev_set_table_splits_by_labelled_age_band():
    age = np.array([1, 5, 12, 20, 35, 50, 70, 2, 70, 71])
    p_female = np.where(CORRECT, CONFIDENCE, 1 - CONFIDENCE)   # everyone is female
    table = dev_set_table(np.ones(10, bool), p_female, age)
    assert table["n"] == 10 and list(table["by_band"]) == [
        "0-2", "3-9", "10-17", "18-29", "30-44", "45-59", "60+"]
    assert [v["n"] for v in table["by_band"].values()] == [2, 1, 1, 1, 1, 1, 3]
    assert table["all"] == risk_coverage(CORRECT, CONFIDENCE)
    sixty = table["by_band"]["60+"]["rows"]  # ages 70, 70, 71: 0.51, 0.501, 0.5001, all wrong
    assert [r["accuracy"] for r in sixty] == [0] * 5
    assert [r["threshold"] for r in sixty] == [0.5001] * 5   # ceil(0.7 * 3) = 3 faces


def test_recommended_p_answers_80_percent_of_the_children_pooled():
    a_age = np.array([5] * 8 + [30] * 2)
    b_age = np.array([10, 10, 40])
    faces = {"a": (np.ones(10, bool), np.linspace(0.55, 0.99, 10), a_age),
             "b": (np.ones(3, bool), np.array([0.6, 0.98, 0.7]), b_age)}
    rec = recommend(faces)
    children = sorted(np.r_[np.linspace(0.55, 0.99, 10)[:8], 0.6, 0.98], reverse=True)
    assert rec["min_gender_probability"] == children[7]   # 8 of the 10 children
    assert rec["at_recommended"]["a"]["0-17"]["answered"] \
        + rec["at_recommended"]["b"]["0-17"]["answered"] == 8


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.name)
def test_the_shipped_bundles_hold_a_consistent_section(bundle):
    b = json.loads(bundle.read_text())
    r = b.get("risk_coverage")
    if r is None:
        pytest.skip(f"{bundle.name} has no risk_coverage section")
    assert r["model_sha256"] == b["model"]["sha256"]
    assert r["bands"] == [f"{lo}+" if hi >= 200 else f"{lo}-{hi}" for lo, hi in RISK_BANDS]
    assert r["command"].startswith("PYTHONPATH=src python tools/risk_coverage.py ")
    for dev in r["dev_sets"].values():
        assert sum(v["n"] for v in dev["by_band"].values()) == dev["n"]
        for rows in [dev["all"]] + [v["rows"] for v in dev["by_band"].values()]:
            thresholds = [row["threshold"] for row in rows]
            assert thresholds == sorted(thresholds)   # less coverage, higher P
            assert all(row["coverage"] >= row["target"] - 1e-9 for row in rows)
        assert dev["all"][-1]["accuracy"] > dev["all"][0]["accuracy"]
    p = r["recommended"]["min_gender_probability"]
    assert 0.5 <= p < 1
    FaceOptions(min_gender_probability=p)


def test_the_card_renders_the_table_and_the_recommended_p():
    from genderage.training.modelcard import render

    b = json.loads(BUNDLES[0].read_text())
    if "risk_coverage" not in b:
        pytest.skip("the bundle has no risk_coverage section")
    card = render(b)
    p = b["risk_coverage"]["recommended"]["min_gender_probability"]
    shown = f"{np.floor(p * 1000) / 1000:.3f}"
    assert f"**Recommended: `--min-gender-probability {shown}`**" in card
    assert float(shown) <= p   # rounded down: using it answers at least the 80%
    section = card[card.index("## Leaving gender unknown"):]
    section = section[:section.find("\n## ", 3)]
    assert section.count("| 0-2 | ") == 2 and section.count("| 60+ | ") == 2  # a table a set
    without = dict(b)
    del without["risk_coverage"]
    assert "Leaving gender unknown" not in render(without)
