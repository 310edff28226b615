"""The statistics of ``genderage report``: golden values, and coverage on simulated
populations with known answers classified with the shipped model's measured error rates."""

from __future__ import annotations

import numpy as np
import pytest

from genderage.report.estimate import FaceData, estimate
from genderage.report.rates import lookup_rates, shipped_bundles
from genderage.report.stats import (ConfusionCounts, adjusted_share, age_distribution,
                                    band_mass, bootstrap_means, expected_age, female_share)


@pytest.fixture(scope="module")
def model_counts() -> ConfusionCounts:
    """The shipped model's validation confusion counts, read as the report reads them."""
    import json

    bundle = json.loads(shipped_bundles()[0].read_text())
    rates = lookup_rates(bundle["model"]["sha256"])
    assert rates.counts is not None, rates.note
    return rates.counts


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


def test_corrected_share_covers_truth_in_simulated_populations(model_counts):
    """200 populations with known female shares: n faces drawn from each, classified with the
    model's measured rates; each estimate uses its own simulated validation measurement of
    those rates (as many faces as the model's validation split)."""
    rng = np.random.default_rng(2026)
    tpr, fpr = model_counts.tpr, model_counts.fpr
    n_val_f, n_val_m = model_counts.tp + model_counts.fn, model_counts.fp + model_counts.tn
    shares = np.concatenate([rng.uniform(0.05, 0.2, 70), rng.uniform(0.2, 0.8, 60),
                             rng.uniform(0.8, 0.95, 70)])
    covered, naive_covered, naive_err, corrected_err, skewed = [], [], [], [], []
    for share in shares:
        n = int(rng.integers(300, 5000))
        n_female = rng.binomial(n, share)
        predicted = rng.binomial(n_female, tpr) + rng.binomial(n - n_female, fpr)
        tp = rng.binomial(n_val_f, tpr)
        fp = rng.binomial(n_val_m, fpr)
        measured = ConfusionCounts(tp=tp, fn=n_val_f - tp, fp=fp, tn=n_val_m - fp)
        out = female_share(predicted, n, measured, 1000, rng)
        truth = share
        covered.append(out["ci95"][0] <= truth <= out["ci95"][1])
        naive_covered.append(out["naive_ci95"][0] <= truth <= out["naive_ci95"][1])
        naive_err.append(out["naive"] - truth)
        corrected_err.append(out["estimate"] - truth)
        skewed.append(share < 0.2 or share > 0.8)
    covered, naive_covered, skewed = map(np.array, (covered, naive_covered, skewed))
    naive_err, corrected_err = np.array(naive_err), np.array(corrected_err)

    assert covered.mean() >= 0.90, f"corrected 95% interval covers {covered.mean():.1%}"
    # Skewed shares: the naive count is pulled towards 50% by several points, so its own
    # 95% interval misses the truth in most populations; the corrected one is unbiased.
    low, high = shares < 0.2, shares > 0.8
    assert naive_err[low].mean() > 0.03 and naive_err[high].mean() < -0.03
    assert naive_covered[skewed].mean() < 0.3
    assert abs(corrected_err[skewed].mean()) < 0.01
    assert covered[skewed].mean() >= 0.90


def test_per_band_shares_cover_truth(model_counts):
    """Female share per age band and band shares on 60 simulated populations with known
    shares: the 95% intervals cover the truth of each band in >= 90% of cases."""
    rng = np.random.default_rng(7)
    band_female = np.array([0.2, 0.7, 0.5, 0.35, 0.8])
    band_share = np.array([0.1, 0.3, 0.3, 0.2, 0.1])
    band_ages = np.array([[1, 17], [18, 29], [30, 49], [50, 69], [70, 95]])
    hits, band_hits = [], []
    for _ in range(60):
        n = 1500
        band = rng.choice(5, n, p=band_share)
        female = rng.random(n) < band_female[band]
        pred = np.where(female, rng.random(n) < model_counts.tpr,
                        rng.random(n) < model_counts.fpr)
        ages = rng.integers(band_ages[band, 0], band_ages[band, 1] + 1)
        probs = np.zeros((n, 121))
        probs[np.arange(n), ages] = 1.0  # the age model is exact here: only gender is noisy
        out = estimate(FaceData(pred, ages.astype(float), probs), model_counts, n_boot=400,
                       seed=int(rng.integers(1 << 30)))
        for j, name in enumerate(("0-17", "18-29", "30-49", "50-69", "70+")):
            lo, hi = out["female_share_by_age_band"][name]["ci95"]
            hits.append(lo <= band_female[j] <= hi)
            lo, hi = out["age_bands"][name]["ci95"]
            band_hits.append(lo <= band_share[j] <= hi)
    assert np.mean(hits) >= 0.90, f"per-band female share covered {np.mean(hits):.1%}"
    assert np.mean(band_hits) >= 0.90, f"band shares covered {np.mean(band_hits):.1%}"


def test_estimate_without_rates_is_naive_only():
    faces = FaceData(np.array([True, False, False, True]), np.array([10.0, 20, 30, 40]))
    out = estimate(faces, None, n_boot=200)
    assert out["female_share"]["estimate"] is None and out["female_share"]["ci95"] is None
    assert out["female_share"]["naive"] == 0.5
    assert out["mean_age"]["estimate"] == 25.0 == out["mean_age"]["naive"]
    assert out["female_share_by_age_band"]["0-17"]["naive"] == 1.0
    assert out["female_share_by_age_band"]["50-69"]["naive"] is None
