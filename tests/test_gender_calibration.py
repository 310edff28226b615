"""Gender accuracy and ECE per age band, and the calibration by estimated age: the fit, the
cross-fitting and the runtime that applies it from the ONNX metadata."""

import json

import numpy as np
import pytest

from genderage.attribute import age_band_index, decode_outputs, recalibrate_by_age, softmax
from genderage.evaluation.metrics import gender_by_band
from genderage.preprocess import to_input
from genderage.training.gender_calibration import (BAND_LOWS, cross_fitted, fit_by_age,
                                                   fit_platt, logit)


def test_gender_by_band_golden_values():
    age = np.array([1, 2, 5, 30, 70.0])
    gender = np.array([0, 1, 0, 1, 1])          # 0 = female
    p_female = np.array([0.9, 0.2, 0.4, 0.1, 0.6])
    out = gender_by_band(age, gender, p_female)
    assert list(out) == ["0-2", "3-9", "30-44", "60+"]  # empty bands left out
    assert out["0-2"]["n"] == 2 and out["0-2"]["accuracy"] == 1.0
    # both right, confidences 0.9 and 0.8 in two bins: ECE = (0.1 + 0.2) / 2
    assert out["0-2"]["ece"] == pytest.approx(0.15)
    assert out["3-9"]["accuracy"] == 0.0 and out["3-9"]["ece"] == pytest.approx(0.6)
    assert out["60+"]["accuracy"] == 0.0


def test_band_index_of_estimated_ages():
    ages = np.array([0.0, 2.99, 3.0, 9.5, 17.9, 18.0, 44.9, 59.99, 60.0, 120.0])
    assert age_band_index(ages, BAND_LOWS).tolist() == [0, 0, 1, 1, 2, 3, 4, 5, 6, 6]


def test_platt_fit_recovers_a_known_miscalibration():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 3, 20000)
    female = rng.random(20000) < 1 / (1 + np.exp(-(0.5 * z + 0.7)))
    scale, bias = fit_platt(z, female, prior=0.0)
    assert scale == pytest.approx(0.5, abs=0.03) and bias == pytest.approx(0.7, abs=0.06)
    # few faces: the prior keeps the map nearer the identity than a bare fit
    s0, b0 = fit_platt(z[:6], female[:6], prior=1e-3)
    s2, b2 = fit_platt(z[:6], female[:6], prior=2.0)
    assert abs(s2 - 1) + abs(b2) < 1 < 10 < abs(s0 - 1) + abs(b0)


def test_identity_spec_leaves_probabilities_unchanged():
    main = np.array([[2.0, -1.0, 0.05], [-0.3, 0.4, 0.3], [0.0, 3.0, 0.7]])
    spec = {"lows": list(BAND_LOWS), "scale": [1.0] * 7, "bias": [0.0] * 7}
    plain = decode_outputs(main, temperature=1.7)
    by_age = decode_outputs(main, temperature=1.7, gender_by_age=spec)
    np.testing.assert_allclose(by_age.gender_probs, plain.gender_probs, atol=1e-6)


def test_spec_applies_per_band_of_estimated_age():
    # ages 5 (band 3-9) and 30 (band 30-44): only the child's probability moves
    main = np.array([[1.0, 0.0, 0.05], [1.0, 0.0, 0.30]])
    spec = {"lows": list(BAND_LOWS), "scale": [1, 0.5, 1, 1, 1, 1, 1],
            "bias": [0, -1.0, 0, 0, 0, 0, 0]}
    out = decode_outputs(main, temperature=2.0, gender_by_age=spec)
    child = 1 / (1 + np.exp(-(0.5 * 0.5 - 1.0)))     # z = (1 - 0) / 2 = 0.5
    adult = 1 / (1 + np.exp(-0.5))
    np.testing.assert_allclose(out.gender_probs[:, 0], [child, adult], rtol=1e-6)
    assert out.gender_probs[0, 0] < 0.5 < out.gender_probs[1, 0]   # the child's label flips
    np.testing.assert_allclose(out.gender_probs.sum(1), 1.0, rtol=1e-6)
    # extreme log-odds do not overflow
    assert recalibrate_by_age(np.array([1e4, -1e4]), np.array([30, 30]), spec).tolist() == \
        [1.0, 0.0]


def test_cross_fitted_calibration_repairs_a_band_and_is_out_of_sample():
    from genderage.evaluation.metrics import calibration

    rng = np.random.default_rng(1)
    n = 6000
    est_age = rng.uniform(0, 80, n)
    z = rng.normal(0, 2.5, n)
    # children (estimated under 10) are over-confident and biased towards female
    child = est_age < 10
    true_logit = np.where(child, 0.4 * z - 0.8, z)
    female = rng.random(n) < 1 / (1 + np.exp(-true_logit))
    gender = (~female).astype(int)
    groups = (np.arange(n) % 2)

    def ece(p, m):
        return calibration(gender[m], np.stack([p[m], 1 - p[m]], 1))["ece"]

    p_model = 1 / (1 + np.exp(-z))
    p_cross = cross_fitted(z, female, est_age, groups)
    # 0.159 -> 0.047 on ~750 faces (15-bin ECE has a sampling floor of a few hundredths)
    assert ece(p_model, child) > 0.15 and ece(p_cross, child) < 0.06
    assert ece(p_cross, ~child) < 0.04
    # each face's probability comes from a fit without it: refitting on everything differs
    p_in = recalibrate_by_age(z, est_age, fit_by_age(z, female, est_age))
    assert not np.allclose(p_in, p_cross)
    assert np.all(np.isfinite(logit(np.array([0.0, 1.0]))))


def test_attribute_model_reads_the_spec_from_metadata(tmp_path):
    pytest.importorskip("torch")
    onnx = pytest.importorskip("onnx")
    from tiny_model import build_tiny_model

    from genderage.attribute import META_GENDER_BY_AGE, AttributeModel
    from genderage.training.export import set_metadata

    path = build_tiny_model(tmp_path / "tiny.onnx")
    faces = np.random.default_rng(0).integers(0, 256, (4, 112, 112, 3), dtype=np.uint8)
    plain = AttributeModel(path)
    assert plain.gender_by_age is None
    raw = plain.run(to_input(faces))
    spec = {"lows": list(BAND_LOWS), "scale": [0.5] * 7, "bias": [0.3] * 7}
    before = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    set_metadata(path, {META_GENDER_BY_AGE: json.dumps(spec)})
    after = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert after == {**before, META_GENDER_BY_AGE: json.dumps(spec)}
    calibrated = AttributeModel(path)
    assert calibrated.gender_by_age == spec
    z = raw["output"][:, 0].astype(float) - raw["output"][:, 1]
    expected = 1 / (1 + np.exp(-(0.5 * z + 0.3)))
    np.testing.assert_allclose(calibrated.predict(faces).gender_probs[:, 0], expected, rtol=1e-5)
    np.testing.assert_allclose(plain.predict(faces).gender_probs,
                               softmax(raw["output"][:, :2].astype(float)), rtol=1e-5)
