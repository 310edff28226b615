"""The error model of a dev set (``genderage.evaluation.error_model``), golden values worked
by hand, and ``tools/error_model.py`` on a few real images (skips without ../shared)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from genderage.evaluation.error_model import dev_set_errors
from genderage.models.bundle import MetricsBundle
from genderage.report.rates import error_model_from_bundle

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "src" / "genderage" / "models"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("error_model_tool",
                                                  ROOT / "tools" / "error_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_point_ages_golden():
    # Errors (predicted - true): +2, 0, -2, -5.
    out = dev_set_errors(true_age=np.array([10, 25, 40, 75]),
                         true_female=np.array([True, True, False, False]),
                         pred_female=np.array([True, False, False, True]),
                         age=np.array([12.0, 25.0, 38.0, 70.0]))
    assert out.n == 4
    assert out.age_bias.mean == pytest.approx(-1.25)
    # Deviations from -1.25: 3.25, 1.25, -0.75, -3.75; squares sum to 26.75.
    assert out.age_bias.se == pytest.approx(np.sqrt(26.75 / 3) / 2)
    by_band = out.to_dict()["age_bias_by_true_band"]
    assert by_band["0-17"] == {"n": 1, "mean": 2.0, "se": None}
    assert by_band["30-49"] == {"n": 1, "mean": -2.0, "se": None}
    assert by_band["50-69"] == {"n": 0, "mean": None, "se": None}
    assert by_band["70+"] == {"n": 1, "mean": -5.0, "se": None}
    assert out.to_dict()["gender_confusion"] == {"labels": ["female", "male"],
                                                 "rows_true": [[1, 1], [1, 1]]}
    soft = [c.rows_true for c in out.by_estimated_band]
    assert soft == [((1, 0), (0, 0)), ((0, 1), (0, 0)), ((0, 0), (0, 1)), ((0, 0), (0, 0)),
                    ((0, 0), (1, 0))]
    assert out.age_band_matrix["counts"] == np.diag([1.0, 1, 1, 0, 1]).tolist()


def test_soft_bands_from_age_probs_golden():
    probs = np.zeros((2, 121))
    probs[0, [17, 19]] = 0.5       # mean 18: half 0-17, half 18-29
    probs[1, [28, 32]] = [1, 3]    # unnormalised; mean 31: 1/4 18-29, 3/4 30-49
    out = dev_set_errors(true_age=np.array([16, 30]), true_female=np.array([True, False]),
                         pred_female=np.array([True, True]), age=np.array([99.0, 99.0]),
                         age_probs=probs)
    # The report's age is the distribution's mean (18, 31), not the point age: errors +2, +1.
    assert out.age_bias.mean == pytest.approx(1.5)
    assert out.age_bias.se == pytest.approx(0.5)
    soft = [c.rows_true for c in out.by_estimated_band]
    assert soft[0] == ((0.5, 0), (0, 0))
    assert soft[1] == ((0.5, 0), (0.25, 0))
    assert soft[2] == ((0, 0), (0.75, 0))
    np.testing.assert_allclose(out.age_band_matrix["counts"],
                               [[0.5, 0.5, 0, 0, 0], [0] * 5, [0, 0.25, 0.75, 0, 0],
                                [0] * 5, [0] * 5])


def test_section_round_trips_through_the_report_reader():
    """Two dev sets written as the tool writes them are read back: per-set biases and the
    per-band counts pooled over the sets."""
    rng = np.random.default_rng(0)
    sets = {}
    for name, shift in (("a", 1.0), ("b", -2.0)):
        true_age = rng.integers(1, 90, 400).astype(float)
        female = rng.random(400) < 0.5
        sets[name] = dev_set_errors(true_age, female, female ^ (rng.random(400) < 0.1),
                                    true_age + shift + rng.normal(0, 3, 400))
    section = {"dev_sets": {k: v.to_dict() for k, v in sets.items()}}
    bundle = MetricsBundle(json.loads(json.dumps({"error_model": section})))
    errors = error_model_from_bundle(bundle, "x.metrics.json")
    assert errors.age_bias.biases == (sets["a"].age_bias.mean, sets["b"].age_bias.mean)
    assert errors.age_bias.mean == pytest.approx(-0.5, abs=0.4)
    (tp_a, fn_a), (fp_a, tn_a) = sets["a"].by_estimated_band[2].rows_true  # 30-49
    (tp_b, fn_b), (fp_b, tn_b) = sets["b"].by_estimated_band[2].rows_true
    pooled = errors.band_counts[2]
    assert (pooled.tp, pooled.fn, pooled.fp, pooled.tn) == (tp_a + tp_b, fn_a + fn_b,
                                                            fp_a + fp_b, tn_a + tn_b)


def tiny_manifest(path: Path, per_source: int = 3) -> Path:
    rows = Path(ROOT / "splits" / "utkface_aaf_seed0.csv").read_text().splitlines()
    keep = [rows[0]]
    for source in ("utkface", "aaf"):
        keep += [r for r in rows[1:] if r.endswith(f",{source}") and ",val," in r][:per_source]
    path.write_text("\n".join(keep) + "\n")
    return path


def test_tool_writes_the_section_and_keeps_the_bundle(tool, shared_dir, tmp_path, capsys):
    data = shared_dir / "data"
    if not (data / "AAF" / "labels.csv").is_file() or not (data / "UTKFace").is_dir():
        pytest.skip("UTKFace or AAF absent")
    bundle = tmp_path / "int8.metrics.json"
    original = json.loads((MODELS / "genderage.int8.metrics.json").read_text())
    original.pop("error_model", None)
    bundle.write_text(json.dumps(original))
    manifest = tiny_manifest(tmp_path / "m.csv")
    argv = ["--model", str(MODELS / "genderage.int8.onnx"), "--manifest", str(manifest),
            "--bundle", str(bundle), "--utkface", str(data / "UTKFace"), "--aaf",
            str(data / "AAF")]
    assert tool.main(argv) == 0
    written = json.loads(bundle.read_text())
    section = written.pop("error_model")
    assert written == original
    assert section["model_sha256"] == original["model"]["sha256"]
    assert section["command"].startswith("PYTHONPATH=src python tools/error_model.py --model")
    assert set(section["dev_sets"]) == {"utkface_val", "aaf_dev"}
    utk = section["dev_sets"]["utkface_val"]
    assert utk["images"] == 3 and utk["n"] == 3  # chips: no detection, every image scored
    assert sum(map(sum, utk["gender_confusion"]["rows_true"])) == 3
    soft = sum(np.sum(m["rows_true"]) for m in utk["gender_confusion_by_estimated_band"].values())
    assert soft == pytest.approx(3.0, abs=1e-4)
    assert np.sum(utk["age_band_matrix"]["counts"]) == pytest.approx(3.0, abs=1e-4)
    assert section["dev_sets"]["aaf_dev"]["images"] == 3
    assert error_model_from_bundle(MetricsBundle({"error_model": section}), "t") is not None
    assert "wrote error_model" in capsys.readouterr().out


def test_tool_refuses_another_models_bundle(tool, tmp_path, capsys):
    bundle = tmp_path / "other.metrics.json"
    bundle.write_text(json.dumps({"model": {"sha256": "0" * 64}}))
    code = tool.main(["--model", str(MODELS / "genderage.int8.onnx"), "--manifest",
                      str(ROOT / "splits" / "utkface_aaf_seed0.csv"), "--bundle", str(bundle)])
    err = capsys.readouterr().err
    assert code == 2 and "other.metrics.json" in err and "records model sha256 000" in err
    assert json.loads(bundle.read_text()) == {"model": {"sha256": "0" * 64}}


def test_tool_without_the_images_is_a_clear_error(tool, tmp_path, capsys):
    bundle = tmp_path / "int8.metrics.json"
    bundle.write_text((MODELS / "genderage.int8.metrics.json").read_text())
    before = bundle.read_text()
    code = tool.main(["--model", str(MODELS / "genderage.int8.onnx"), "--manifest",
                      str(tiny_manifest(tmp_path / "m.csv")), "--bundle", str(bundle),
                      "--utkface", str(tmp_path / "nowhere"), "--aaf", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 2 and "utkface_val: a face in 0 of 3 images under" in err
    assert "nowhere" in err and "Traceback" not in err
    assert bundle.read_text() == before
