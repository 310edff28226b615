"""Photo-set evaluation (``genderage evaluate --photos``): golden figures from a hand-made
batch of results, and the real command on three photos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from genderage.cli import main
from genderage.evaluation.photos import score

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg"


def _face(gender: str, age: float, low_quality: bool = False, probability: float = 0.9):
    return SimpleNamespace(gender=gender, age=age, gender_probability=probability,
                           quality=SimpleNamespace(low_quality=low_quality))


def _result(*faces, error=None):
    return SimpleNamespace(faces=list(faces), error=error)


def test_score_golden():
    rows = [{"age": "5", "gender": "female"}, {"age": "25", "gender": "female"},
            {"age": "40", "gender": "male"}, {"age": "80", "gender": "male"},
            {"age": "33", "gender": "male"}, {"age": "20", "gender": "female"}]
    results = [
        _result(_face("male", 8.0, probability=0.7)),              # wrong gender, err 3
        _result(_face("female", 24.0), _face("male", 50.0)),       # largest face scored, err 1
        _result(_face("male", 46.0, low_quality=True)),            # err 6
        _result(_face("female", 70.0)),                            # wrong gender, err 10
        _result(),                                                 # no face found
        _result(error="truncated JPEG"),                           # unreadable
    ]
    report = score(rows, results)
    assert report["n"] == 6 and report["detected"] == 4 and report["decode_errors"] == 1
    assert report["images_with_several_faces"] == 1
    assert report["detection_rate"] == pytest.approx(4 / 6, abs=1e-4)
    assert report["gender_accuracy"] == 0.5
    assert report["age_mae"] == 5.0                                # (3 + 1 + 6 + 10) / 4
    assert report["age_bias"] == pytest.approx((3 - 1 + 6 - 10) / 4)
    assert report["within_5"] == 0.5
    assert report["by_gender"] == {"female": {"n": 2, "age_mae": 2.0, "gender_accuracy": 0.5},
                                   "male": {"n": 2, "age_mae": 8.0, "gender_accuracy": 0.5}}
    assert report["age_by_group"]["0-17"] == {"n": 1, "age_mae": 3.0, "gender_accuracy": 0.0}
    # per finer band of true age: the 5-year-old girl called male with P 0.7 (ECE 0.7)
    assert report["gender_by_age_band"]["3-9"] == {"n": 1, "accuracy": 0.0,
                                                   "ece": pytest.approx(0.7)}
    assert report["gender_by_age_band"]["18-29"]["accuracy"] == 1.0
    assert report["age_by_group"]["70+"] == {"n": 1, "age_mae": 10.0, "gender_accuracy": 0.0}
    assert report["age_by_group"]["50-69"]["n"] == 0
    assert report["by_quality"]["low_quality"] == {"n": 1, "age_mae": 6.0, "gender_accuracy": 1.0}


def test_evaluate_photos_command(tmp_path, model_path, capsys):
    photos = tmp_path / "photos"
    (photos / "images").mkdir(parents=True)
    shutil.copy(EXAMPLE, photos / "images" / "a.jpg")
    Image.open(EXAMPLE).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(photos / "images" / "b.jpg")
    (photos / "images" / "c.jpg").write_bytes(b"not a jpeg")
    labels = tmp_path / "labels.csv"
    labels.write_text("file,age,gender\nimages/a.jpg,45,female\nimages/b.jpg,45,female\n"
                      "images/c.jpg,30,male\n")
    argv = ["evaluate", str(model_path), "--photos", str(photos), "--labels", str(labels),
            "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    report = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert printed == report
    assert (report["n"], report["detected"], report["decode_errors"]) == (3, 2, 1)
    assert report["detection_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["age_by_group"]["30-49"]["n"] == 2
    assert report["command"] == "genderage " + " ".join(argv)
    assert report["model"] == str(model_path) and report["flip_tta"] is False
    assert "subset" not in report  # every labelled photo

    from genderage.data.split import UNKNOWN_RACE, ManifestRow, write_manifest
    write_manifest([ManifestRow("images/a.jpg", "val", 1_000_000, 45, 0, UNKNOWN_RACE, "aaf"),
                    ManifestRow("images/b.jpg", "train", 1_000_001, 45, 0, UNKNOWN_RACE, "aaf")],
                   tmp_path / "m.csv")
    assert main([*argv[:-2], "--manifest", str(tmp_path / "m.csv"), "--split", "val"]) == 0
    dev = json.loads(capsys.readouterr().out)
    assert (dev["n"], dev["detected"]) == (1, 1)  # the dev fold's one photo
    assert dev["subset"] == {"manifest": str(tmp_path / "m.csv"), "split": "val"}


def test_load_labels_keeps_a_manifests_rows_of_one_split(tmp_path):
    from genderage.data.split import UNKNOWN_RACE, ManifestRow, write_manifest
    from genderage.evaluation.photos import load_labels

    labels = tmp_path / "labels.csv"
    labels.write_text("file,age,gender\nimages/a.jpg,5,female\nimages/b.jpg,40,male\n"
                      "images/c.jpg,70,female\n")
    write_manifest([ManifestRow("x.jpg.chip.jpg", "val", 0, 30, 1, 0),
                    ManifestRow("images/a.jpg", "train", 10, 5, 0, UNKNOWN_RACE, "aaf"),
                    ManifestRow("images/c.jpg", "val", 12, 70, 0, UNKNOWN_RACE, "aaf"),
                    ManifestRow("images/b.jpg", "val", 11, 40, 1, UNKNOWN_RACE, "aaf")],
                   tmp_path / "m.csv")
    rows = load_labels(labels, None, tmp_path / "m.csv", "val")
    assert [r["file"] for r in rows] == ["images/c.jpg", "images/b.jpg"]  # manifest order
    assert [r["file"] for r in load_labels(labels)] == \
        ["images/a.jpg", "images/b.jpg", "images/c.jpg"]
    with pytest.raises(ValueError, match="none of .*labels.csv's photos in split 'test'"):
        load_labels(labels, None, tmp_path / "m.csv", "test")
