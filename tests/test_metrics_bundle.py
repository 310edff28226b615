"""The metrics bundle (``genderage.models.bundle``): the one reader and writer of
``<model>.metrics.json``. Round trips (the shipped files to the byte, a measured error model
through a file and back), golden confusion counts, and the errors that name the key."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genderage.evaluation.error_model import dev_set_errors
from genderage.models.bundle import (BANDS, BundleError, Confusion, ErrorModelSection,
                                     MetricsBundle, find_bundle, shipped_bundles)


@pytest.mark.parametrize("path", shipped_bundles(), ids=lambda p: p.name)
def test_shipped_bundles_round_trip_to_the_byte(path, tmp_path):
    bundle = MetricsBundle.read(path)
    bundle.write(tmp_path / path.name)
    assert (tmp_path / path.name).read_bytes() == path.read_bytes()
    section = bundle.error_model(path.name)
    assert set(section.dev_sets) == {"utkface_val", "aaf_dev"}
    assert section.to_dict() == bundle.sections["error_model"]  # typed and back, key order too
    assert json.dumps(section.to_dict()) == json.dumps(bundle.sections["error_model"])
    cm = bundle.validation_confusion()
    assert cm.rows_true == tuple(map(tuple, bundle.sections["utkface_val"]["gender"]
                                     ["confusion_matrix"]["rows_true"]))
    assert find_bundle(bundle.model_sha256) == (path, bundle)


def measured_section() -> ErrorModelSection:
    rng = np.random.default_rng(3)
    sets = {}
    for name, shift in (("a", 1.5), ("b", -0.5)):
        true_age = rng.integers(1, 90, 200).astype(float)
        female = rng.random(200) < 0.5
        probs = rng.random((200, 121))
        sets[name] = dev_set_errors(true_age, female, female ^ (rng.random(200) < 0.1),
                                    true_age + shift, probs, images=210, description=name)
    return ErrorModelSection(dev_sets=sets, model_sha256="ab" * 32, flip_tta=False,
                             age_bands=list(BANDS), manifest="m.csv", command="tool --x")


def test_a_measured_error_model_written_and_read_back_is_the_same(tmp_path):
    section = measured_section()
    path = tmp_path / "m.metrics.json"
    MetricsBundle({"model": {"sha256": "ab" * 32}}).replace(error_model=section).write(path)
    back = MetricsBundle.read(path)
    assert back.model_sha256 == "ab" * 32
    assert back.error_model("m") == section
    assert list(back.sections["error_model"]) == ["model_sha256", "flip_tta", "age_bands",
                                                  "manifest", "dev_sets", "command"]
    dev = back.sections["error_model"]["dev_sets"]["a"]
    assert list(dev) == ["description", "images", "n", "age_bias", "age_bias_by_true_band",
                         "gender_confusion", "gender_confusion_by_estimated_band",
                         "age_band_matrix"]
    assert dev["images"] == 210 and dev["n"] == 200 and set(dev["age_bias"]) == {"mean", "se"}
    # Soft counts over the bands add up to the hard ones.
    soft = np.sum([c.rows_true for c in section.dev_sets["a"].by_estimated_band], axis=0)
    np.testing.assert_allclose(soft, section.dev_sets["a"].gender_confusion.rows_true)


def test_confusion_counts_golden():
    true = np.array([True, True, True, False, False])
    pred = np.array([True, False, True, True, False])
    hard = Confusion.count(true, pred)
    assert hard.rows_true == ((2, 1), (1, 1))
    assert (hard.tp, hard.fn, hard.fp, hard.tn) == (2, 1, 1, 1)
    assert all(isinstance(v, int) for row in hard.rows_true for v in row)
    soft = Confusion.count(true, pred, [0.5, 1, 0.25, 2, 4])
    assert soft.rows_true == ((0.75, 1.0), (2.0, 4.0))
    assert hard.to_dict() == {"labels": ["female", "male"], "rows_true": [[2, 1], [1, 1]]}
    # Any label order is read female first.
    assert Confusion.from_dict({"labels": ["male", "female"], "rows_true": [[7, 1], [2, 9]]},
                               "x") == Confusion(((9, 2), (1, 7)))


@pytest.mark.parametrize("matrix, problem", [
    ({"labels": ["female", "male"], "rows_true": [[1, -1], [0, 1]]},
     "k is -1, expected a finite number >= 0"),
    ({"labels": ["female", "male"], "rows_true": [[1, float("nan")], [0, 1]]},
     "k is nan, expected a finite number >= 0"),
    ({"labels": ["woman", "man"], "rows_true": [[1, 0], [0, 1]]},
     "k is not a female/male confusion matrix"),
    ({"rows_true": [[1, 0], [0, 1]]}, "k is not a female/male confusion matrix"),
    ([[1, 0], [0, 1]], "k is not a female/male confusion matrix"),
])
def test_malformed_confusion_names_its_key(matrix, problem):
    with pytest.raises(BundleError, match="^" + problem.replace("/", ".")):
        Confusion.from_dict(matrix, "k")


def test_replace_keeps_places_adds_last_and_removes():
    bundle = MetricsBundle({"model": {"sha256": "x"}, "error_model": {"dev_sets": {}},
                            "aaf": None})
    out = bundle.replace(error_model={"dev_sets": {"a": 1}}, risk_coverage={"n": 1}, aaf=None)
    assert list(out.sections) == ["model", "error_model", "risk_coverage"]
    assert out.sections["error_model"] == {"dev_sets": {"a": 1}}
    assert bundle.sections["error_model"] == {"dev_sets": {}}  # the original is untouched


def test_validation_confusion_of_each_mode_and_of_a_bundle_without_one():
    def matrix(tp):
        return {"gender": {"confusion_matrix": {"labels": ["female", "male"],
                                                "rows_true": [[tp, 1], [2, 3]]}}}

    bundle = MetricsBundle({"utkface_val": matrix(90), "flip_tta_mode": {"utkface_val":
                                                                        matrix(95)}})
    assert bundle.validation_confusion().tp == 90
    assert bundle.validation_confusion(flip_tta=True).tp == 95
    assert MetricsBundle({"utkface_val": {"gender": {}}}).validation_confusion() is None
    assert MetricsBundle({}).error_model() is None


def test_unreadable_bundles_are_errors_naming_the_file(tmp_path):
    for name, text in (("a.metrics.json", "{not json"), ("b.metrics.json", "[1, 2]")):
        (tmp_path / name).write_text(text)
        with pytest.raises(BundleError, match=f"{name}: unreadable metrics bundle"):
            MetricsBundle.read(tmp_path / name)
    with pytest.raises(BundleError, match="nowhere.json: unreadable"):
        MetricsBundle.read(tmp_path / "nowhere.json")
    assert find_bundle("ab" * 32, [tmp_path / "a.metrics.json"]) is None


def test_a_malformed_optional_part_of_a_dev_set_is_an_error_naming_it():
    dev = measured_section().dev_sets["a"].to_dict()
    dev["age_bias_by_true_band"] = {"0-17": [1, 2]}
    with pytest.raises(BundleError, match=r"^m: error_model.dev_sets.a.age_bias_by_true_band "
                                          r"is not \{band: \{n, mean, se\}\}"):
        MetricsBundle({"error_model": {"dev_sets": {"a": dev}}}).error_model("m")


def test_the_confusion_and_error_model_formats_have_one_owner():
    """Their keys are spelled in ``models/bundle.py`` only: every other module of the
    package and the tools read and write them through its types."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    files = [*(root / "src" / "genderage").rglob("*.py"), *(root / "tools").glob("*.py")]
    owners = {p.relative_to(root).as_posix() for p in files
              if any(key in p.read_text() for key in ('"rows_true"', '"age_bias_by_true_band"',
                                                      '"gender_confusion_by_estimated_band"'))}
    assert owners == {"src/genderage/models/bundle.py"}
