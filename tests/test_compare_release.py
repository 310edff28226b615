"""tools/compare_release.py: paired statistics and the v2 release rule, golden values; the tool
on a few real images of both dev sets (skips without ../shared)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest


ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "src" / "genderage" / "models"


@pytest.fixture(scope="module")
def rule():
    path = ROOT / "tools" / "compare_release.py"
    spec = importlib.util.spec_from_file_location("compare_release", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_paired_statistics_golden(rule):
    gender = [0, 1, 1, 0]
    age = [10, 20, 30, 40]
    a = [(0, 12.0), (0, 20.0), (1, 35.0), None]      # 2 of 3 right, errors 2, 0, 5
    b = [(0, 11.0), (1, 22.0), (1, 30.0), (0, 40.0)]  # 3 of 3 right, errors 1, 2, 0
    d = rule.paired(gender, age, a, b)
    assert d["n"] == 3  # the face without a detection by one model is left out
    assert d["baseline"] == {"gender_accuracy": 0.6667, "age_mae": 2.333}
    assert d["candidate"] == {"gender_accuracy": 1.0, "age_mae": 1.0}
    assert d["delta_accuracy"] == 0.3333
    assert d["se_accuracy"] == round(float(np.std([0, 1, 0], ddof=1) / np.sqrt(3)), 4)
    assert d["delta_mae"] == -1.333
    assert d["se_mae"] == round(float(np.std([-1, 2, -5], ddof=1) / np.sqrt(3)), 3)
    assert d["by_age_band_accuracy_mae"]["0-17"] == {"n": 1, "baseline": [1.0, 2.0],
                                                      "candidate": [1.0, 1.0]}


def test_gender_accuracy_and_ece_per_band_when_probabilities_are_given(rule):
    gender = [0, 1, 1, 0]                             # 0 = female
    age = [2, 5, 30, 40]
    a = [(0, 3.0, 0.9), (0, 6.0, 0.7), (1, 30.0, 0.2), (0, 40.0, 0.6)]
    b = [(0, 3.0, 0.8), (1, 6.0, 0.4), (1, 30.0, 0.1), (0, 40.0, 0.9)]
    d = rule.paired(gender, age, a, b)
    assert d["gender_by_age_band"]["baseline"]["0-2"] == {"n": 1, "accuracy": 1.0, "ece": 0.1}
    assert d["gender_by_age_band"]["baseline"]["3-9"] == {"n": 1, "accuracy": 0.0, "ece": 0.7}
    assert d["gender_by_age_band"]["candidate"]["3-9"] == {"n": 1, "accuracy": 1.0, "ece": 0.4}
    assert d["gender_by_age_band"]["candidate"]["30-44"] == \
        {"n": 2, "accuracy": 1.0, "ece": 0.1}   # confidences 0.9 and 0.9, both right
    assert "gender_by_age_band" not in rule.paired(gender, age, [x[:2] for x in a],
                                                   [x[:2] for x in b])


@pytest.mark.parametrize("d_acc, d_mae, wins", [
    (0.010, 0.00, True),    # gender better beyond noise, age equal
    (0.010, 0.05, False),   # gender better, age worse beyond noise
    (0.000, -0.10, True),   # age better beyond noise, gender equal
    (-0.010, -0.10, False),  # age better, gender worse beyond noise
    (0.002, 0.044, False),  # the v2 candidate on the UTKFace val split
])
def test_release_rule(rule, d_acc, d_mae, wins):
    assert rule.wins({"delta_accuracy": d_acc, "se_accuracy": 0.005,
                      "delta_mae": d_mae, "se_mae": 0.034}) is wins


def tiny_manifest(path: Path, per_source: int = 3, sources=("utkface", "aaf")) -> Path:
    """The first ``per_source`` val rows of each source of the shipped multi-source split."""
    rows = (ROOT / "splits" / "utkface_aaf_seed0.csv").read_text().splitlines()
    keep = [rows[0]]
    for source in sources:
        keep += [r for r in rows[1:] if r.endswith(f",{source}") and ",val," in r][:per_source]
    path.write_text("\n".join(keep) + "\n")
    return path


def test_the_tool_on_real_images(rule, shared_dir, tmp_path, capsys):
    """fp32 against int8 on three images of each dev set: the paired figures are the two
    models' own; a model against itself differs by nothing and does not win."""
    data = shared_dir / "data"
    if not (data / "AAF" / "labels.csv").is_file() or not (data / "UTKFace").is_dir():
        pytest.skip("UTKFace or AAF absent")
    roots = ["--utkface", str(data / "UTKFace"), "--aaf", str(data / "AAF")]
    manifest = str(tiny_manifest(tmp_path / "m.csv"))
    out = tmp_path / "release_rule.json"
    assert rule.main(["--baseline", str(MODELS / "genderage.onnx"), "--candidate",
                      str(MODELS / "genderage.int8.onnx"), "--manifest", manifest,
                      "--out", str(out), *roots]) == 0
    report = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == report
    assert list(report) == ["command", "baseline", "candidate", "detector", "utkface_val",
                            "aaf_dev", "ship_candidate"]
    assert report["command"].startswith("PYTHONPATH=src python tools/compare_release.py ")
    for name in ("utkface_val", "aaf_dev"):
        d = report[name]
        assert d["n"] == d["detected"] == 3  # chips need no detection; these photos have a face
        assert d["delta_accuracy"] == round(d["candidate"]["gender_accuracy"]
                                            - d["baseline"]["gender_accuracy"], 4)
        assert set(d["gender_by_age_band"]) == {"baseline", "candidate"}
    same = str(MODELS / "genderage.int8.onnx")
    assert rule.main(["--baseline", same, "--candidate", same, "--manifest", manifest,
                      *roots]) == 0
    itself = json.loads(capsys.readouterr().out)
    for name in ("utkface_val", "aaf_dev"):
        d = itself[name]
        assert d["baseline"] == d["candidate"] and d["delta_mae"] == d["se_mae"] == 0
        assert d["candidate_wins"] is False
    assert itself["ship_candidate"] is False


def test_the_tool_says_when_the_images_are_not_there(rule, tmp_path, capsys):
    manifest = tiny_manifest(tmp_path / "m.csv")
    model = str(MODELS / "genderage.int8.onnx")
    assert rule.main(["--baseline", model, "--candidate", model, "--manifest",
                      str(manifest), "--utkface", str(tmp_path), "--aaf", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "cannot compare the models: utkface_val: a face in 0 of 3 images" in err
    assert "are the images there?" in err
