"""The statistics of ``genderage report``: golden values, and coverage on simulated
populations with known answers classified with the shipped model's measured error rates."""

from __future__ import annotations

import numpy as np
import pytest

from genderage.report.estimate import FaceData, estimate
from genderage.report.stats import (ConfusionCounts, adjusted_share, age_distribution,
                                    band_mass, bootstrap_means, expected_age)


@pytest.fixture(scope="module")
def simulation():
    from genderage.report import simulation as module

    return module


@pytest.fixture(scope="module")
def model_counts(simulation) -> ConfusionCounts:
    """The shipped model's validation confusion counts, read as the report reads them."""
    return simulation.shipped_counts()


def test_adjusted_share_golden():
    assert adjusted_share(0.5, 0.9, 0.1) == pytest.approx(0.5)
    assert adjusted_share(0.18, 0.9, 0.1) == pytest.approx(0.1)
    assert adjusted_share(0.74, 0.9, 0.1) == pytest.approx(0.8)
    np.testing.assert_allclose(adjusted_share([0.05, 0.95], 0.9, 0.1), [0.0, 1.0])


def test_confusion_counts_posterior():
    counts = ConfusionCounts(tp=90, fn=10, fp=5, tn=95)
    assert counts.tpr == pytest.approx(90.5 / 101)
    assert counts.fpr == pytest.approx(5.5 / 101)
    tpr, fpr = counts.draw(20000, np.random.default_rng(0))
    assert tpr.mean() == pytest.approx(counts.tpr, abs=2e-3)
    # Beta(a, b) standard deviation sqrt(ab / ((a+b)^2 (a+b+1))).
    assert tpr.std() == pytest.approx(np.sqrt(90.5 * 10.5 / (101 ** 2 * 102)), rel=0.05)
    assert fpr.mean() == pytest.approx(counts.fpr, abs=2e-3)


def test_band_mass_and_expected_age_golden():
    np.testing.assert_array_equal(band_mass(np.array([17.9, 18.0, 29.99, 30, 69.5, 70, 95])),
                                  np.eye(5)[[0, 1, 1, 2, 3, 4, 4]])
    probs = np.zeros((2, 121))
    probs[0, [17, 18]] = 0.5            # half 0-17, half 18-29
    probs[1, [49, 50, 120]] = [1, 2, 1]  # unnormalised: 1/4 30-49, 1/2 50-69, 1/4 70+
    np.testing.assert_allclose(band_mass(age_probs=probs),
                               [[0.5, 0.5, 0, 0, 0], [0, 0, 0.25, 0.5, 0.25]])
    np.testing.assert_allclose(expected_age(age_probs=probs), [17.5, (49 + 100 + 120) / 4])
    dist = age_distribution(age_probs=probs)
    assert dist.sum() == pytest.approx(1.0)
    assert dist[17] == pytest.approx(0.25) and dist[50] == pytest.approx(0.25)
    np.testing.assert_allclose(age_distribution(np.array([2.4, 2.6, 200.0]))[[2, 3, 120]],
                               [1 / 3] * 3)


def test_bootstrap_means_matches_theory():
    rng = np.random.default_rng(1)
    x = rng.normal(10, 3, size=(400, 1))
    boot = bootstrap_means(np.column_stack([x, np.ones(400)]), 4000, rng, max_cells=100_000)
    assert boot.shape == (4000, 2)
    np.testing.assert_allclose(boot[:, 1], 1.0)  # weights always sum to N
    assert boot[:, 0].mean() == pytest.approx(x.mean(), abs=0.02)
    assert boot[:, 0].std() == pytest.approx(x.std() / np.sqrt(400), rel=0.06)


def test_corrected_share_covers_truth_in_simulated_populations(simulation, model_counts):
    """200 populations with known female shares classified with the model's measured rates
    (python -m genderage.report.simulation): the corrected 95% interval holds the truth in >= 90%;
    the naive count is pulled towards 50% by several points when the shares are skewed."""
    out = simulation.simulate_female_share(model_counts, n_populations=200)
    assert out["coverage"] >= 0.90, out
    assert out["coverage_skewed"] >= 0.90, out
    # Naive bias = fpr (1 - p) - (1 - tpr) p: about +4 points at p = 0.1, -6 at p = 0.9.
    assert out["naive_bias_low"] > 0.03 and out["naive_bias_high"] < -0.03, out
    assert out["naive_coverage_skewed"] < 0.3, out
    assert abs(out["corrected_bias_skewed"]) < 0.01, out


def test_per_band_shares_cover_truth(simulation, model_counts):
    """Band shares and female share per band on 60 simulated populations with known values:
    the 95% intervals hold the truth for >= 90% of (population, band) pairs."""
    out = simulation.simulate_bands(model_counts)
    assert out["band_share_coverage"] >= 0.90, out
    assert out["band_female_coverage"] >= 0.90, out


def test_estimate_without_rates_is_naive_only():
    faces = FaceData(np.array([True, False, False, True]), np.array([10.0, 20, 30, 40]))
    out = estimate(faces, None, n_boot=200)
    assert out["female_share"]["estimate"] is None and out["female_share"]["ci95"] is None
    assert out["female_share"]["naive"] == 0.5
    assert out["mean_age"]["estimate"] == 25.0 == out["mean_age"]["naive"]
    assert out["female_share_by_age_band"]["0-17"]["naive"] == 1.0
    assert out["female_share_by_age_band"]["50-69"]["naive"] is None
