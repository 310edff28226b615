"""How well `genderage report`'s intervals hold on simulated populations with known shares.

Each population draws faces with a known female share (and, for the per-band check, known
age-band shares and female shares per band) and classifies them with the shipped model's
measured error rates; each estimate uses its own simulated validation measurement of those
rates, as large as the model's validation split, so the rates' uncertainty is part of the
simulation. Prints coverage of the 95% intervals and the bias of the naive count.

    python -m genderage.report.simulation
"""

from __future__ import annotations

import json
import sys

import numpy as np

from genderage.report.estimate import FaceData, estimate
from genderage.report.stats import AGE_BANDS, ConfusionCounts, female_share

BAND_SHARE = np.array([0.1, 0.3, 0.3, 0.2, 0.1])
BAND_FEMALE = np.array([0.2, 0.7, 0.5, 0.35, 0.8])
BAND_AGES = np.array([[1, 17], [18, 29], [30, 49], [50, 69], [70, 95]])


def remeasured(counts: ConfusionCounts, rng: np.random.Generator) -> ConfusionCounts:
    """A new validation measurement of the rates ``counts`` estimates, on as many faces."""
    n_f, n_m = counts.tp + counts.fn, counts.fp + counts.tn
    tp, fp = rng.binomial(n_f, counts.tpr), rng.binomial(n_m, counts.fpr)
    return ConfusionCounts(tp=tp, fn=n_f - tp, fp=fp, tn=n_m - fp)


def simulate_female_share(counts: ConfusionCounts, n_populations: int = 200,
                          seed: int = 2026) -> dict:
    """Female shares: 35% of populations below 20%, 35% above 80%, the rest between; 300 to
    5,000 faces each.

    Returns:
        ``coverage`` (corrected 95% interval holds the true share), ``coverage_skewed``,
        ``naive_coverage_skewed``, ``naive_bias_low`` / ``naive_bias_high`` (mean naive -
        truth for shares below 20% / above 80%), ``corrected_bias_skewed``.
    """
    rng = np.random.default_rng(seed)
    k = round(0.35 * n_populations)
    shares = np.concatenate([rng.uniform(0.05, 0.2, k),
                             rng.uniform(0.2, 0.8, n_populations - 2 * k),
                             rng.uniform(0.8, 0.95, k)])
    hit, naive_hit, naive_err, corrected_err = (np.zeros(n_populations) for _ in range(4))
    for i, share in enumerate(shares):
        n = int(rng.integers(300, 5000))
        n_female = rng.binomial(n, share)
        predicted = rng.binomial(n_female, counts.tpr) + rng.binomial(n - n_female, counts.fpr)
        out = female_share(predicted, n, remeasured(counts, rng), 1000, rng)
        hit[i] = out["ci95"][0] <= share <= out["ci95"][1]
        naive_hit[i] = out["naive_ci95"][0] <= share <= out["naive_ci95"][1]
        naive_err[i], corrected_err[i] = out["naive"] - share, out["estimate"] - share
    low, high = shares < 0.2, shares > 0.8
    skewed = low | high
    return {"populations": n_populations, "coverage": hit.mean(),
            "coverage_skewed": hit[skewed].mean(),
            "naive_coverage_skewed": naive_hit[skewed].mean(),
            "naive_bias_low": naive_err[low].mean(), "naive_bias_high": naive_err[high].mean(),
            "corrected_bias_skewed": corrected_err[skewed].mean()}


def simulate_bands(counts: ConfusionCounts, n_populations: int = 60, n_faces: int = 1500,
                   n_boot: int = 400, seed: int = 7) -> dict:
    """Age bands and female share per band (``BAND_SHARE``, ``BAND_FEMALE``), ages exact as
    ``age_probs`` one-hot rows, genders classified with the model's rates.

    Returns:
        ``band_share_coverage`` and ``band_female_coverage``: fraction of (population, band)
        pairs whose 95% interval holds the true value.
    """
    rng = np.random.default_rng(seed)
    share_hit, female_hit = [], []
    for _ in range(n_populations):
        band = rng.choice(len(AGE_BANDS), n_faces, p=BAND_SHARE)
        female = rng.random(n_faces) < BAND_FEMALE[band]
        pred = np.where(female, rng.random(n_faces) < counts.tpr,
                        rng.random(n_faces) < counts.fpr)
        ages = rng.integers(BAND_AGES[band, 0], BAND_AGES[band, 1] + 1)
        probs = np.zeros((n_faces, 121))
        probs[np.arange(n_faces), ages] = 1.0
        out = estimate(FaceData(pred, ages.astype(float), probs), remeasured(counts, rng),
                       n_boot=n_boot, seed=int(rng.integers(1 << 30)))
        for j, name in enumerate(AGE_BANDS):
            lo, hi = out["age_bands"][name]["ci95"]
            share_hit.append(lo <= BAND_SHARE[j] <= hi)
            lo, hi = out["female_share_by_age_band"][name]["ci95"]
            female_hit.append(lo <= BAND_FEMALE[j] <= hi)
    return {"band_populations": n_populations, "band_share_coverage": float(np.mean(share_hit)),
            "band_female_coverage": float(np.mean(female_hit))}


def shipped_counts() -> ConfusionCounts:
    """The shipped model's confusion counts, found as the report finds them."""
    from genderage.report.rates import lookup_rates, shipped_bundles

    bundle = json.loads(shipped_bundles()[0].read_text())
    rates = lookup_rates(bundle["model"]["sha256"])
    assert rates.counts is not None, rates.note
    return rates.counts


def main() -> int:
    counts = shipped_counts()
    print(f"rates: {counts.source}: tpr {counts.tpr:.4f}, fpr {counts.fpr:.4f}")
    for name, value in {**simulate_female_share(counts), **simulate_bands(counts)}.items():
        print(f"{name}: {value:.4f}" if isinstance(value, float) else f"{name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
