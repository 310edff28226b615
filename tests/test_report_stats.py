"""The statistics of ``genderage report``: golden values, and coverage on simulated
populations with known answers classified with the shipped model's measured error rates
(the simulation is the study ``research/report_simulation.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from genderage.report.estimate import FaceData, estimate
from genderage.report.stats import (AgeBias, ConfusionCounts, adjusted_share,
                                    age_distribution, band_mass, between_set_variance,
                                    bootstrap_means, expected_age)


@pytest.fixture(scope="module")
def simulation():
    import report_simulation  # research/, on the tests' path (pyproject.toml)

    return report_simulation


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
    """1,000 populations with known female shares classified with the model's measured rates
    (research/report_simulation.py): the corrected 95% interval holds the truth in >= 92%
    (the simulation's own noise is about 0.7 points here; with 200 populations it was 1.5,
    and one seed gave 89.5% for a rule whose coverage averages 94.7% over 100 seeds); the
    naive count is pulled towards 50% by several points when the shares are skewed."""
    out = simulation.simulate_female_share(model_counts, n_populations=1000)
    assert out["coverage"] >= 0.92, out
    assert out["coverage_skewed"] >= 0.92, out
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


def test_between_set_variance_golden():
    # w = 100, 25; weighted mean 0.26; Q = 100 * 0.34^2 + 25 * 1.36^2 = 57.8;
    # c = 125 - (100^2 + 25^2) / 125 = 40; tau^2 = (57.8 - 1) / 40.
    assert between_set_variance([0.6, -1.1], [0.1, 0.2]) == pytest.approx(1.42)
    # Sets closer than their noise: Q = 0.02 < k - 1, floored at 0.
    assert between_set_variance([1.0, 1.1], [0.5, 0.5]) == 0.0


def test_age_bias_golden():
    bias = AgeBias((0.6, -1.1), (0.1, 0.2), ("a", "b"))
    assert bias.mean == pytest.approx(-0.25)
    assert bias.tau2 == pytest.approx(1.42)
    # sqrt(0.1^2 + 0.2^2 + 2 * 1.42) / 2 = sqrt(2.89) / 2
    assert bias.se == pytest.approx(0.85)
    draws = bias.draw(40000, np.random.default_rng(3))
    assert draws.mean() == pytest.approx(-0.25, abs=0.02)
    assert draws.std() == pytest.approx(np.sqrt(0.85 ** 2 + 1.42), rel=0.02)
    assert AgeBias((0.5,), (0.1,)).tau2 == 0.0 and AgeBias((0.5,), (0.1,)).se == 0.1


def test_mean_age_corrected_by_the_bias_with_its_spread():
    ages = np.random.default_rng(4).uniform(0, 80, 400)
    faces = FaceData(np.zeros(400, bool), ages)
    bias = AgeBias((0.6, -1.1), (0.1, 0.2))
    out = estimate(faces, None, n_boot=4000, age_bias=bias)["mean_age"]
    assert out["uncorrected"] == pytest.approx(ages.mean()) == pytest.approx(out["naive"])
    assert out["estimate"] == pytest.approx(ages.mean() + 0.25)
    # The interval: sampling (SD / sqrt(N)) and the bias draw, Normal(b, se^2 + tau^2).
    half = 1.96 * np.sqrt(ages.var() / 400 + 0.85 ** 2 + 1.42)
    lo, hi = out["ci95"]
    assert hi - lo == pytest.approx(2 * half, rel=0.05)
    assert (lo + hi) / 2 == pytest.approx(out["estimate"], abs=0.1)
    ulo, uhi = out["uncorrected_ci95"]
    assert uhi - ulo == pytest.approx(2 * 1.96 * np.sqrt(ages.var() / 400), rel=0.08)


def test_band_female_share_uses_the_band_rates():
    """0-17 has its own rates, 18-29 has none (None): it takes the overall rates."""
    female = np.array([True] * 30 + [False] * 70 + [True] * 50 + [False] * 50)
    ages = np.array([10.0] * 100 + [25.0] * 100)
    overall = ConfusionCounts(tp=90, fn=10, fp=10, tn=90)
    child = ConfusionCounts(tp=60, fn=40, fp=20, tn=80)
    out = estimate(FaceData(female, ages), overall, n_boot=500,
                   band_counts=(child, None, None, None, None))["female_share_by_age_band"]
    assert out["0-17"]["rates"] == "band" and out["18-29"]["rates"] == "overall"
    assert out["0-17"]["estimate"] == pytest.approx(
        (0.3 - 20.5 / 101) / (60.5 / 101 - 20.5 / 101))
    assert out["18-29"]["estimate"] == pytest.approx(adjusted_share(0.5, overall.tpr,
                                                                    overall.fpr))


@pytest.mark.slow  # 47 s: 1,000 simulated populations (research/report_simulation.py)
def test_intervals_when_populations_differ_in_model_errors(simulation, model_counts):
    """Populations whose mean age error and per-band gender rates differ around the shipped
    model's error model (research/report_simulation.py; figures in docs/report.md).

    Female share per band of estimated age, with each band's own pooled rates: the interval
    holds the truth for >= 90% of (population, band) pairs, and more often than with the
    overall rates. Mean age: see below; two dev populations cannot pin the between-population
    spread down, so coverage falls short of 90% when populations differ by a year or more
    (docs/report.md gives the figures)."""
    world = simulation.shipped_world()
    out = simulation.simulate_population_errors(world, model_counts)
    assert out["band_female_coverage"] >= 0.90, out
    assert out["band_female_coverage"] > out["band_female_coverage_overall_rates"] + 0.05, out
    # The mean age, in worlds whose populations differ by a set amount (years), whatever the
    # shipped model's dev sets measured: at v2's measured spread (0.25) >= 90%; at v1's
    # (1.09) far better than uncorrected, though short of 90% (docs/report.md: 0.54 gives
    # about 89%).
    small = simulation.simulate_population_errors(simulation.shipped_world(0.25), model_counts,
                                                  overall_rates=False)
    assert small["mean_age_coverage"] >= 0.90, small
    large = simulation.simulate_population_errors(simulation.shipped_world(1.09), model_counts,
                                                  overall_rates=False)
    assert large["mean_age_coverage"] > large["mean_age_coverage_uncorrected"] + 0.2, large


def test_between_set_rate_sd_golden_values():
    """Two dev sets, one band: tpr 80/100 and 60/100, fpr 20/100 and 40/100. Jeffreys means
    80.5/101 and 60.5/101, logits 1.36783 and 0.40136; squared deviations 0.46703; sampling
    variances 1/(101 r (1-r)) = 0.061200 + 0.041221, times (k-1)/k = 0.051210; excess
    0.41582 for either rate (fpr mirrors tpr), so sd = sqrt(0.41582) = 0.64484."""
    from genderage.report.stats import ConfusionCounts, between_set_rate_sd

    a = [ConfusionCounts(tp=80, fn=20, fp=20, tn=80)]
    b = [ConfusionCounts(tp=60, fn=40, fp=40, tn=60)]
    assert between_set_rate_sd([a, b]) == pytest.approx(0.64484, abs=2e-4)
    assert between_set_rate_sd([a, a]) == 0.0  # no spread beyond sampling: floor 0
    assert between_set_rate_sd([a]) == 0.0


def test_rate_draws_with_a_population_spread_stay_better_than_chance():
    from genderage.report.stats import ConfusionCounts

    c = ConfusionCounts(tp=60, fn=40, fp=40, tn=60)
    rng = np.random.default_rng(0)
    tight_t, _ = c.draw(20000, rng)
    wide_t, wide_f = c.draw(20000, rng, logit_sd=1.0)
    assert np.all(wide_t > wide_f)  # every population's classifier beats chance
    assert wide_t.std() > 1.5 * tight_t.std()  # and the spread widens the draws


# --- honest intervals at small n and at 0 or 1 (#28 item 5) ---------------------------------

def test_wilson_interval_golden_values():
    from genderage.report.stats import wilson_interval

    assert wilson_interval(1, 1) == pytest.approx([0.2065, 1.0], abs=1e-4)
    assert wilson_interval(0, 1) == pytest.approx([0.0, 0.7935], abs=1e-4)
    assert wilson_interval(10, 10) == pytest.approx([0.7225, 1.0], abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx([0.2366, 0.7634], abs=1e-4)


@pytest.mark.parametrize("n", [1, 10])
def test_all_one_label_never_gives_a_point_interval(n):
    """One face, or ten faces all female in one band: 100% with an interval that says how
    little n faces tell (was "100.0-100.0%")."""
    faces = FaceData(np.ones(n, bool), np.full(n, 25.0))
    counts = ConfusionCounts(tp=900, fn=100, fp=80, tn=920)
    out = estimate(faces, counts, n_boot=2000)
    fs = out["female_share"]
    assert fs["naive"] == 1.0 and fs["naive_ci95"][1] == 1.0
    assert fs["naive_ci95"][0] == pytest.approx(0.2065 if n == 1 else 0.7225, abs=1e-4)
    lo, hi = fs["ci95"]
    assert hi == 1.0 and lo < (0.9 if n == 10 else 0.4)  # Jeffreys draws through the rates
    band = out["female_share_by_age_band"]["18-29"]
    assert band["n_faces"] == n and band["naive_ci95"][0] < 0.75 and band["ci95"][0] < 0.9
    share = out["age_bands"]["18-29"]
    assert share["share"] == 1.0 and share["ci95"][0] < 0.75 and share["n_faces"] == n
    assert out["age_bands"]["50-69"]["ci95"][1] > 0.2  # 0 of n: not [0, 0] either
    if n == 1:
        assert out["mean_age"]["ci95"] is None  # one face says nothing about the spread
    else:
        assert out["mean_age"]["ci95"] == [25.0, 25.0]  # ten identical ages: no spread seen


def test_report_prints_n_beside_every_figure(tmp_path):
    from genderage.report.render import markdown

    faces = FaceData(np.ones(1, bool), np.full(1, 25.0))
    report = {"input": "x", "n_images": 1, "n_images_failed": 0, "n_faces": 1,
              "n_faces_low_quality": 0, "exclude_low_quality": False, "model_sha256": None,
              "genderage_version": "0", "age_distribution": [0.0] * 121, "caveats": [],
              "method": {"female_share": "naive", "intervals": "x", "n_boot": 10, "seed": 0,
                         "rates_note": "none", "confusion_rates": None, "age_source": "x",
                         "model_age_bias": None, "error_model": {"used": False, "note": "x"}},
              **estimate(faces, None, n_boot=50)}
    rows = [line for line in markdown(report).splitlines() if line.startswith("| ")][1:]
    assert len(rows) == 12
    for row in rows:
        assert row.split(" | ")[1] in ("1", "0"), row
    assert "| female share | 1 | - | - | 100.0% (20.7-100.0%) |" in rows[0]
    assert "| mean age (years) | 1 | 25.0 | - |" in rows[1]


def test_group_rows_equal_one_mask_per_group():
    from genderage.report.build import group_rows

    rng = np.random.default_rng(1)
    groups = np.array([f"g{v}" for v in rng.integers(0, 40, 1000)], dtype=object)
    used = rng.random(1000) < 0.8
    got = group_rows(groups, used)
    assert [v for v, _ in got] == sorted(set(groups[used]))
    for value, rows in got:
        np.testing.assert_array_equal(rows, np.flatnonzero(used & (groups == value)))
