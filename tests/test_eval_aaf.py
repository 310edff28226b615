"""scripts/eval_aaf.py's scoring: golden figures from a hand-made batch of results."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from script_module import load_script


@pytest.fixture(scope="module")
def eval_aaf():
    return load_script("eval_aaf")


def _face(gender: str, age: float, low_quality: bool = False):
    return SimpleNamespace(gender=gender, age=age,
                           quality=SimpleNamespace(low_quality=low_quality))


def _result(*faces, error=None):
    return SimpleNamespace(faces=list(faces), error=error)


def test_score_golden(eval_aaf):
    rows = [{"age": "5", "gender": "female"}, {"age": "25", "gender": "female"},
            {"age": "40", "gender": "male"}, {"age": "80", "gender": "male"},
            {"age": "33", "gender": "male"}, {"age": "20", "gender": "female"}]
    results = [
        _result(_face("male", 8.0)),                               # wrong gender, err 3
        _result(_face("female", 24.0), _face("male", 50.0)),       # largest face scored, err 1
        _result(_face("male", 46.0, low_quality=True)),            # err 6
        _result(_face("female", 70.0)),                            # wrong gender, err 10
        _result(),                                                 # no face found
        _result(error="truncated JPEG"),                           # unreadable
    ]
    report = eval_aaf.score(rows, results)
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
    assert report["age_by_group"]["70+"] == {"n": 1, "age_mae": 10.0, "gender_accuracy": 0.0}
    assert report["age_by_group"]["50-69"]["n"] == 0
    assert report["by_quality"]["low_quality"] == {"n": 1, "age_mae": 6.0, "gender_accuracy": 1.0}


def test_load_labels_keeps_the_manifests_aaf_rows_of_one_split(eval_aaf, tmp_path):
    from genderage.data.split import UNKNOWN_RACE, ManifestRow, write_manifest

    aaf = tmp_path / "AAF"
    aaf.mkdir()
    (aaf / "labels.csv").write_text("file,age,gender\nimages/a.jpg,5,female\n"
                                    "images/b.jpg,40,male\nimages/c.jpg,70,female\n")
    write_manifest([ManifestRow("x.jpg.chip.jpg", "val", 0, 30, 1, 0),
                    ManifestRow("images/a.jpg", "train", 10, 5, 0, UNKNOWN_RACE, "aaf"),
                    ManifestRow("images/c.jpg", "val", 12, 70, 0, UNKNOWN_RACE, "aaf"),
                    ManifestRow("images/b.jpg", "val", 11, 40, 1, UNKNOWN_RACE, "aaf")],
                   tmp_path / "m.csv")
    rows = eval_aaf.load_labels(aaf, None, tmp_path / "m.csv", "val")
    assert [r["file"] for r in rows] == ["images/c.jpg", "images/b.jpg"]  # manifest order
    assert [r["file"] for r in eval_aaf.load_labels(aaf, None)] == \
        ["images/a.jpg", "images/b.jpg", "images/c.jpg"]
    with pytest.raises(SystemExit, match="no AAF rows in split 'test'"):
        eval_aaf.load_labels(aaf, None, tmp_path / "m.csv", "test")
