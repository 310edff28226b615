"""Per-track smoothing: quality weights, weighted logits and age distributions, hysteresis."""

import math

import numpy as np
import pytest

from genderage.attribute import Calibration
from genderage.quality import Quality
from genderage.video.smoothing import SWITCH_PROBABILITY, TrackSmoother, quality_weight

SPEC = {"coverage": 0.8, "space": "log1p", "low": -0.3, "high": 0.2}


def quality(det=0.99, iod=50.0, blur=200.0, yaw=0.0, pitch=0.0, low=False) -> Quality:
    return Quality(det, iod, iod * 2, blur, yaw, pitch, 0.0, low, ("blurry",) if low else ())


def one_hot_age(age: int) -> np.ndarray:
    p = np.zeros(121)
    p[age] = 1.0
    return p


def test_quality_weight_golden_values():
    assert quality_weight(quality(det=0.9, iod=22.0, blur=75.0, yaw=60.0)) == \
        pytest.approx(0.9 * 0.5 * 0.5 * 0.5)
    assert quality_weight(quality(det=1.0, iod=80.0, blur=400.0)) == pytest.approx(1.0)
    assert quality_weight(quality(yaw=-60.0, pitch=60.0)) == pytest.approx(0.99 * 0.25)
    assert quality_weight(quality(det=0.0)) == pytest.approx(1e-6)


def test_average_is_the_weighted_mean_of_logits_and_age_distributions():
    smoother = TrackSmoother(Calibration(temperature=2.0, age_interval=SPEC))
    # Weights 1.0 and 0.25 (the second face is half size and half sharp).
    smoother.add(np.array([3.0, 0.0, 0.20]), one_hot_age(20), quality(det=1.0))
    smoother.add(np.array([0.0, 1.0, 0.40]), one_hot_age(40),
                 quality(det=1.0, iod=22.0, blur=75.0))
    avg = smoother.average()
    margin = (1.0 * 3.0 + 0.25 * -1.0) / 1.25  # mean of logit_female - logit_male
    assert avg.gender == "female"
    assert avg.gender_probability == pytest.approx(1 / (1 + math.exp(-margin / 2.0)), abs=1e-6)
    assert avg.age == pytest.approx((20 * 1.0 + 40 * 0.25) / 1.25, abs=1e-4)  # 24 years
    lo, hi = avg.age_interval
    assert lo == pytest.approx(math.expm1(math.log1p(24.0) - 0.3), abs=1e-3)
    assert hi == pytest.approx(math.expm1(math.log1p(24.0) + 0.2), abs=1e-3)
    assert avg.n_used == 2 and not avg.low_quality


def test_average_is_decoded_by_the_models_whole_calibration():
    # One band of estimated age: P(female) = sigmoid(0.5 * margin / T + 1) whatever the age.
    by_age = {"lows": [0], "scale": [0.5], "bias": [1.0]}
    smoother = TrackSmoother(Calibration(temperature=2.0, gender_by_age=by_age))
    smoother.add(np.array([0.0, 1.0, 0.30]), one_hot_age(30), quality(det=1.0))
    avg = smoother.average()
    p_female = 1 / (1 + math.exp(-(0.5 * -1.0 / 2.0 + 1.0)))  # 0.679, where T alone gives 0.378
    assert avg.gender == "female"
    assert avg.gender_probability == pytest.approx(p_female, abs=1e-6)


def test_age_without_a_distribution_is_the_weighted_mean_age():
    smoother = TrackSmoother()
    smoother.add(np.array([0.0, 1.0, 0.30]), None, quality(det=1.0))
    smoother.add(np.array([0.0, 1.0, 0.60]), None, quality(det=0.5))
    assert smoother.average().age == pytest.approx((30 + 0.5 * 60) / 1.5, abs=1e-4)


def test_low_quality_faces_count_only_when_there_is_nothing_better():
    smoother = TrackSmoother()
    smoother.add(np.array([0.0, 4.0, 0.5]), None, quality(low=True))
    first = smoother.average()
    assert first.gender == "male" and first.low_quality and first.n_used == 1
    smoother.add(np.array([2.0, 0.0, 0.3]), None, quality())
    smoother.add(np.array([0.0, 4.0, 0.9]), None, quality(low=True))
    avg = smoother.average()
    assert avg.gender == "female" and not avg.low_quality and avg.n_used == 1
    assert avg.age == pytest.approx(30.0, abs=1e-4)


def test_smoothed_label_switches_only_past_the_switch_probability():
    smoother = TrackSmoother()
    labels = [smoother.add(np.array([0.2, 0.0, 0.3]), None, quality(det=1.0)).gender]
    # Then male frames of margin 1.5: the running mean margin after k of them is
    # (0.2 - 1.5 k) / (k + 1); P(male) passes 0.7 (margin -0.847) at k = 2, not at k = 1.
    for _ in range(8):
        labels.append(smoother.add(np.array([0.0, 1.5, 0.3]), None, quality(det=1.0)).gender)
    assert labels == ["female"] * 2 + ["male"] * 7
    threshold = math.log(SWITCH_PROBABILITY / (1 - SWITCH_PROBABILITY))
    assert (0.2 - 1.5) / 2 > -threshold > (0.2 - 3.0) / 3


def test_flickering_raw_labels_give_a_steady_smoothed_label():
    rng = np.random.default_rng(0)
    smoother = TrackSmoother()
    raw, smoothed = [], []
    for _ in range(50):
        margin = rng.normal(0.5, 1.0)  # a mildly female face: raw labels flip often
        est = smoother.add(np.array([margin, 0.0, 0.3]), None, quality())
        raw.append(margin > 0)
        smoothed.append(est.gender)
    assert sum(a != b for a, b in zip(raw, raw[1:])) >= 10
    assert set(smoothed) == {"female"}


def test_an_empty_track_has_no_average():
    with pytest.raises(ValueError, match="no face"):
        TrackSmoother().average()
