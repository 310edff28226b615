"""The shipped model: its card agrees with its metrics, and the metrics reproduce."""

import json
from pathlib import Path

import pytest

from genderage.cli import main
from genderage.models import DEFAULT_MODEL
from genderage.training.modelcard import render

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = DEFAULT_MODEL.with_name("genderage.metrics.json")

pytestmark = pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no shipped model")


def _bundle() -> dict:
    return json.loads(BUNDLE.read_text())


def test_model_card_is_generated_from_the_metrics_file():
    assert (ROOT / "MODEL_CARD.md").read_text() == render(_bundle()), \
        "MODEL_CARD.md is stale: run `PYTHONPATH=src python tools/make_model_card.py`"


def test_card_shows_measured_headline_numbers():
    b = _bundle()
    card = (ROOT / "MODEL_CARD.md").read_text()
    assert f"{100 * b['utkface_val']['gender']['accuracy']:.2f}%" in card
    assert f"**{b['utkface_val']['age']['mae']:.2f}**" in card
    assert f"{b['data']['files']:,} files" in card


def test_bundle_describes_the_shipped_file():
    import hashlib

    b = _bundle()
    assert b["model"]["sha256"] == hashlib.sha256(DEFAULT_MODEL.read_bytes()).hexdigest()
    assert b["data"]["manifest_sha256"] == hashlib.sha256(
        (ROOT / b["data"]["manifest"]).read_bytes()).hexdigest()


def test_info_reports_the_shipped_model(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    from genderage.pipeline import resolve_model_path

    assert info["model_path"] == str(resolve_model_path(None))


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["default", "flip_tta"])
def test_evaluate_reproduces_the_card(utkface_dir, tmp_path, capsys, mode):
    b = _bundle()
    extra = ["--flip-tta"] if mode == "flip_tta" else []
    assert main(["evaluate", str(DEFAULT_MODEL), "--data", str(utkface_dir), "--manifest",
                 str(ROOT / b["data"]["manifest"]), "--split", "val", "--out", str(tmp_path),
                 "--no-plots", *extra]) == 0
    got = json.loads((tmp_path / "metrics.json").read_text())
    want = b["utkface_val"] if mode == "default" else b["flip_tta_mode"]["utkface_val"]
    assert got["n"] == want["n"]
    assert got["gender"]["confusion_matrix"] == want["gender"]["confusion_matrix"]
    assert got["age"]["mae"] == pytest.approx(want["age"]["mae"], abs=1e-4)
    for group, m in want["age_by_group"].items():
        assert got["age_by_group"][group]["age"]["mae"] == pytest.approx(m["age"]["mae"], abs=1e-4)
    assert got["calibration"]["ece"] == pytest.approx(want["calibration"]["ece"], abs=1e-4)


def test_card_example_runs_on_the_shipped_model():
    import re
    import subprocess
    import sys

    card = (ROOT / "MODEL_CARD.md").read_text()
    (code,) = re.findall(r"## How to use.*?```python\n(.*?)```", card, re.S)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.splitlines()
    gender, probability, age = out[0].split()[:3]
    assert gender in ("female", "male") and 0.5 <= float(probability) <= 1.0
    assert 0 < float(age) < 100
    assert out[-1].startswith("(2, 3) [")


def test_make_model_card_tool_checks_the_committed_card():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "tools/make_model_card.py", "--check"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0 and "up to date" in done.stdout, done.stdout + done.stderr


def test_card_of_a_multi_source_distilled_release():
    """A release trained on UTKFace + AAF from the previous model's weights, with teachers:
    the card names the sources with their terms and counts, the teachers with checksums,
    the total training time behind the weights, and the AAF dev fold as held out."""
    b = _bundle()
    b["sources"] = {"manifest": "splits/utkface_aaf_seed0.csv", "manifest_sha256": "ab" * 32,
                    "sources": {
                        "utkface": {"name": "UTKFace", "terms": "research only", "cite": "Z",
                                    "train": 15713, "dev": 3926},
                        "aaf": {"name": "AAF", "terms": "research; cite", "cite": "C",
                                "train": 5091, "dev": 1271}}}
    b["training"] = {**b["training"], "train_seconds": 2640.0,
                     "config": {**b["training"]["config"], "robust": 0.2, "distill_alpha": 0.5,
                                "init": "runs/teachers/genderage-v1.onnx",
                                "sources": {"aaf": "../shared/data/AAF"}},
                     "init": {"file": "genderage-v1.onnx", "sha256": "fa" * 32,
                              "train_seconds": 4308.0, "release": "0.1.0"},
                     "teachers": {"alpha": 0.5, "cydral_weight": 0.5, "members": [
                         {"file": "gender-v1.onnx", "sha256": "d4" * 32, "licence": "CC0-1.0",
                          "origin": "Cydral"},
                         {"file": "genderage-v1.onnx", "sha256": "fa" * 32, "origin": "v1"}]}}
    b["aaf"] = {**b["aaf"], "n": 1271, "subset": {"manifest": "m.csv", "split": "val"}}
    card = render(b)
    assert "| UTKFace | research only | 15,713 | 3,926 | Z |" in card
    assert "| AAF | research; cite | 5,091 | 1,271 | C |" in card
    assert "in **44.0 minutes** (115.8 minutes in all with the 71.8 that trained the " \
           "weights it started from)" in card
    assert "Started from the weights of `genderage-v1.onnx` (sha256 `fafafafafafafafa...`, " \
           "genderage 0.1.0's shipped model)" in card
    assert "`gender-v1.onnx` (sha256 `d4d4d4d4d4d4d4d4...`, Cydral, licence CC0-1.0)" in card
    assert "0.5 x the label + 0.5 x the soft output of a teacher ensemble" in card
    assert "## All-Age-Faces dev fold (full photo pipeline)" in card
    assert "1,271 AAF face crops (a different, mostly East Asian population; the dev fold, " \
           "held out from training, which used the other AAF images)" in card
    assert "with probability 0.2" in card and "not used for training" not in card
    assert "## Targets of this release (issue 13)" in card
    assert f"| AAF dev fold gender accuracy | {100 * b['aaf']['gender_accuracy']:.2f}% | " \
           ">= 96.0% |" in card
    whole_aaf = {k: v for k, v in b["aaf"].items() if k != "subset"}  # as for v1
    assert "## Targets of this release" not in render({**b, "aaf": whole_aaf})


def test_card_gender_by_age_band_is_cross_fitted_when_the_file_is_calibrated_by_age():
    b = _bundle()
    b["calibration"].pop("gender_by_age", None)  # first as a file without the calibration
    band = {"0-2": {"n": 258, "accuracy": 0.6744, "ece": 0.0879},
            "3-9": {"n": 255, "accuracy": 0.8157, "ece": 0.0716}}
    b["utkface_val"]["gender_by_age_band"] = band
    b["aaf"] = {**(b.get("aaf") or {}), "gender_by_age_band": {"3-9": {"n": 83, "accuracy": 0.7952,
                                                                      "ece": 0.119}}}
    card = render(b)
    assert "| 0-2 | 258 | 67.4% | 0.088 | 0 | - | - |" in card
    assert "| 3-9 | 255 | 81.6% | 0.072 | 83 | 79.5% | 0.119 |" in card
    crossed = {"0-2": {"n": 258, "accuracy": 0.6628, "ece": 0.1008}}
    b["calibration"] = {**b["calibration"], "gender_by_age": {
        "command": "PYTHONPATH=src python tools/calibrate_gender_by_age.py ...", "spec": {},
        "dev_sets": {"utkface_val": {"cross_fitted_by_age": {"by_age_band": crossed}},
                     "aaf_dev": {"cross_fitted_by_age": {"by_age_band": crossed}}}}}
    card = render(b)
    assert "every figure cross-fitted over 5 folds" in card
    assert "| 0-2 | 258 | 66.3% | 0.101 | 258 | 66.3% | 0.101 |" in card
    # the in-sample evaluations are not shown (the risk-coverage table has its own 3-9 row)
    assert "| 3-9 | 255 | 81.6% | 0.072 | 83 | 79.5% | 0.119 |" not in card


def test_card_names_the_detector_that_found_the_aaf_faces():
    """The AAF figures depend on the detector: a report that records its settings shows them;
    a bundle made before reports recorded them says it was the release's default."""
    b = _bundle()
    b["aaf"].pop("detector_settings", None)  # as in a bundle made before reports had them
    card = render(b)
    assert f"default settings of the release that made this file (genderage " \
           f"{b['genderage_version']})" in card
    b["aaf"]["detector_settings"] = "MtcnnDetector|{'min_face_px': 64.0}"
    assert "Detector: `MtcnnDetector|{'min_face_px': 64.0}`." in render(b)
