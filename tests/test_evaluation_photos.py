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
from genderage.contract import gender_index
from genderage.data.aaf import AAFRecord
from genderage.evaluation.photos import score

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg"


def _face(gender: str, age: float, low_quality: bool = False, probability: float = 0.9):
    return SimpleNamespace(gender=gender, age=age, gender_probability=probability,
                           quality=SimpleNamespace(low_quality=low_quality))


def _result(*faces, error=None):
    return SimpleNamespace(faces=list(faces), error=error)


def test_score_golden():
    rows = [AAFRecord(f"{i}.jpg", age, gender_index(gender)) for i, (age, gender) in enumerate(
        [(5, "female"), (25, "female"), (40, "male"), (80, "male"), (33, "male"),
         (20, "female")])]
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
    text = (tmp_path / "out" / "metrics.json").read_text()
    report = json.loads(text)
    assert printed == report
    assert text == json.dumps(report, indent=2) + "\n"  # one writer for chips and photos
    assert (report["n"], report["detected"], report["decode_errors"]) == (3, 2, 1)
    assert report["detection_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["age_by_group"]["30-49"]["n"] == 2
    assert report["command"] == "genderage " + " ".join(argv)
    assert report["model"] == str(model_path) and report["flip_tta"] is False
    assert report["detector_settings"].startswith("MtcnnDetector|")  # what found the faces
    assert "'min_face_px': 64.0" in report["detector_settings"]
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
    assert rows == [AAFRecord("images/c.jpg", 70, 0), AAFRecord("images/b.jpg", 40, 1)]
    assert [r.file for r in load_labels(labels)] == \
        ["images/a.jpg", "images/b.jpg", "images/c.jpg"]
    with pytest.raises(ValueError, match="none of .*labels.csv's photos in split 'test'"):
        load_labels(labels, None, tmp_path / "m.csv", "test")


def test_largest_faces_keeps_each_photos_first_face_and_its_row_of_the_output():
    """Photos of 2, 0 and 1 faces and an unreadable one, two photos per model call: the kept
    ``age_probs`` row is the largest face's row of ITS call's output."""
    import numpy as np

    from genderage.evaluation.photos import largest_faces

    faces = {"a": ["a0", "a1"], "b": [], "c": ["c0"], "d": None}
    probs = {"a0": 1.0, "a1": 2.0, "c0": 3.0}

    def face(name):
        return SimpleNamespace(name=name, gender="female" if name == "c0" else "male",
                               female_probability=probs[name] / 10, age=probs[name] * 10)

    def analyze(located):
        results = [_result(error="unreadable") if faces[p] is None else
                   _result(*[face(n) for n in faces[p]]) for p in located]
        rows = [probs[n] for p in located for n in faces[p] or []]
        return results, SimpleNamespace(age_probs=np.array(rows).reshape(-1, 1))

    analyzer = SimpleNamespace(locate_image=lambda p, aligned: p, analyze=analyze)
    found = largest_faces(analyzer, ["a", "b", "c", "d"], batch=2)
    assert found.index.tolist() == [0, 2]
    assert [f.name for f in found.faces] == ["a0", "c0"]
    assert found.age_probs.ravel().tolist() == [1.0, 3.0]   # c0 is row 0 of the second call
    assert found.female.tolist() == [False, True]
    assert found.p_female.tolist() == [0.1, 0.3] and found.age.tolist() == [10.0, 30.0]
    assert [r.error for r in found.results] == [None, None, None, "unreadable"]


def test_largest_faces_are_the_pipelines_first_faces(model_path):
    from genderage.evaluation.photos import largest_faces
    from genderage.pipeline import GenderAge

    analyzer = GenderAge(model_path)
    found = largest_faces(analyzer, [EXAMPLE, EXAMPLE], batch=1)
    direct = analyzer.predict_batch([EXAMPLE])[0].faces[0]
    assert found.index.tolist() == [0, 1] and found.faces == [direct, direct]
    assert found.p_female[0] == direct.female_probability


def test_largest_face_crops_align_the_largest_detection(tmp_path):
    import numpy as np

    from genderage.align import align_face
    from genderage.detect.base import Detection
    from genderage.evaluation.photos import largest_face_crops

    shutil.copy(EXAMPLE, tmp_path / "a.jpg")
    shutil.copy(EXAMPLE, tmp_path / "b.jpg")
    (tmp_path / "c.jpg").write_bytes(b"not a jpeg")
    small = Detection(np.array([0, 0, 40, 40], np.float32),
                      np.array([[10, 12], [30, 12], [20, 22], [12, 30], [28, 30]], np.float32),
                      0.99)
    large = Detection(np.array([100, 80, 260, 240], np.float32),
                      np.array([[150, 140], [210, 140], [180, 175], [155, 205], [205, 205]],
                               np.float32), 0.9)
    found = {0: [small, large], 1: []}
    calls = []

    def detect(rgb):
        calls.append(rgb.shape)
        return found[len(calls) - 1]

    rows = [AAFRecord(n, 30, 0) for n in ("a.jpg", "b.jpg", "c.jpg")]
    kept, crops = largest_face_crops(tmp_path, rows, SimpleNamespace(detect=detect))
    assert kept == rows[:1] and len(calls) == 2  # c.jpg is unreadable, b.jpg has no face
    from genderage.imageio import read_image

    np.testing.assert_array_equal(crops[0], align_face(read_image(EXAMPLE), large.landmarks))
    assert crops.shape == (1, 112, 112, 3) and crops.dtype == np.uint8


def test_label_scores_golden():
    from genderage.evaluation.metrics import label_scores

    # Errors (predicted - true): +3, -1, +6, -10; genders right, wrong, right, wrong.
    s = label_scores([5, 25, 40, 80], [0, 0, 1, 1], [8.0, 24.0, 46.0, 70.0], [0, 1, 1, 0])
    assert s == {"n": 4, "gender_accuracy": 0.5, "age_mae": 5.0, "age_bias": -0.5,
                 "within_5": 0.5}
    raw = label_scores([0, 0, 0], [0, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0, 0, 1], rounded=False)
    assert raw["gender_accuracy"] == 2 / 3 and raw["age_mae"] == pytest.approx(1 / 3)
    assert label_scores([0, 0, 0], [0, 0, 0], [1 / 3] * 3, [0, 0, 1])["gender_accuracy"] == 0.6667


def test_labels_file_rows_and_a_bad_row_named(tmp_path):
    from genderage.data.aaf import read_labels, read_labels_file

    path = tmp_path / "labels.csv"
    path.write_text("file,age,gender\nimages/a.jpg,5,female\nimages/b.jpg,40,male\n")
    assert read_labels_file(path) == [AAFRecord("images/a.jpg", 5, 0),
                                      AAFRecord("images/b.jpg", 40, 1)]
    assert read_labels(tmp_path) == read_labels_file(path)
    path.write_text("file,age,gender\nimages/a.jpg,5,female\nimages/b.jpg,40,Man\n")
    with pytest.raises(ValueError, match=r"labels.csv, line 3: "):
        read_labels_file(path)
    with pytest.raises(FileNotFoundError, match="nowhere.csv: no labels file"):
        read_labels_file(tmp_path / "nowhere.csv")
