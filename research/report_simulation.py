"""How well `genderage report`'s intervals hold on simulated populations with known shares.

Each population draws faces with a known female share (and, for the per-band check, known
age-band shares and female shares per band) and classifies them with the shipped model's
measured error rates; each estimate uses its own simulated validation measurement of those
rates, as large as the model's validation split, so the rates' uncertainty is part of the
simulation. Prints coverage of the 95% intervals and the bias of the naive count.

A third check draws whole populations that differ in how the model errs on them: each has
its own mean age error and its own gender rates per estimated age band, around the shipped
model's error model. Two of them play the dev sets (measured as the error model measures
them), the third is reported on with that measured error model: does the corrected mean age
and female share per band hold its truth?

The figures in docs/report.md ("Simulated populations"); tests/test_report_stats.py asserts
them on the same functions.

    PYTHONPATH=src python research/report_simulation.py
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from genderage.report.estimate import FaceData, estimate
from genderage.report.rates import ErrorModel, pooled_band_counts
from genderage.report.stats import (AGE_BANDS, AgeBias, ConfusionCounts, between_set_rate_sd,
                                    female_share)

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


def logit(p):
    return np.log(p / (1 - p))


def expit(x):
    return 1 / (1 + np.exp(-x))


@dataclass(frozen=True)
class ErrorWorld:
    """How populations differ in the model's errors, around the shipped error model.

    Attributes:
        bias: mean over populations of the mean age error (years).
        tau: SD of the mean age error between populations (years).
        age_sd: SD of one face's age error (years).
        tpr, fpr: ``[5]`` gender rates per estimated age band (the pooled dev-set rates).
        rate_sd: SD between populations of each band's rates, on the logit scale.
        dev_faces: per dev set, ``[5, 2]`` faces per estimated band (female, male).
    """

    bias: float
    tau: float
    age_sd: float
    tpr: np.ndarray
    fpr: np.ndarray
    rate_sd: float
    dev_faces: tuple[np.ndarray, ...]

    def population(self, rng: np.random.Generator) -> tuple[float, np.ndarray, np.ndarray]:
        """One population's mean age error and its band rates (tpr, fpr)."""
        return (rng.normal(self.bias, self.tau),
                expit(logit(self.tpr) + rng.normal(0, self.rate_sd, len(AGE_BANDS))),
                expit(logit(self.fpr) + rng.normal(0, self.rate_sd, len(AGE_BANDS))))

    def measure(self, rng: np.random.Generator) -> ErrorModel:
        """The error model measured on the dev sets, each a population of its own."""
        biases, ses, per_set = [], [], []
        for faces in self.dev_faces:
            bias, tpr, fpr = self.population(rng)
            n = faces.sum()
            biases.append(bias + rng.normal(0, self.age_sd / np.sqrt(n)))
            ses.append(self.age_sd / np.sqrt(n))
            tp, fp = rng.binomial(faces[:, 0], tpr), rng.binomial(faces[:, 1], fpr)
            per_set.append([ConfusionCounts(tp[j], faces[j, 0] - tp[j], fp[j],
                                            faces[j, 1] - fp[j]) for j in range(len(AGE_BANDS))])
        return ErrorModel(AgeBias(tuple(biases), tuple(ses)), pooled_band_counts(per_set, ""),
                          "simulated", between_set_rate_sd(per_set))


def shipped_world(tau: float | None = None, rate_sd: float | None = None) -> ErrorWorld:
    """The world around the shipped model's error model (``error_model`` of its bundle).

    ``tau`` defaults to the between-set SD the bundle's two dev sets give (DerSimonian-
    Laird), ``rate_sd`` to the root-mean-square logit difference of their band rates over
    sqrt(2) (the SD of one population around the mean, if the two were draws)."""
    from genderage.models.bundle import MetricsBundle, shipped_bundles
    from genderage.report.rates import error_model_from_bundle

    path = shipped_bundles()[0]
    bundle = MetricsBundle.read(path)
    errors = error_model_from_bundle(bundle, path.name)
    assert errors is not None, f"{path} has no error_model"
    sets = bundle.error_model(path.name).dev_sets.values()
    faces, rates = [], []
    for dev in sets:
        cm = [np.array(c.rows_true) for c in dev.by_estimated_band]
        faces.append(np.rint([[m[0].sum(), m[1].sum()] for m in cm]).astype(int))
        rates.append(np.array([[(m[0, 0] + 0.5) / (m[0].sum() + 1),
                                (m[1, 0] + 0.5) / (m[1].sum() + 1)] for m in cm]))
    if rate_sd is None:
        rate_sd = float(np.sqrt(np.mean((logit(rates[0]) - logit(rates[1])) ** 2) / 2))
    pooled = errors.band_counts
    age_sd = float(np.mean([d.age_bias.se * np.sqrt(d.n) for d in sets]))
    return ErrorWorld(bias=errors.age_bias.mean,
                      tau=float(np.sqrt(errors.age_bias.tau2)) if tau is None else tau,
                      age_sd=age_sd, tpr=np.array([c.tpr for c in pooled]),
                      fpr=np.array([c.fpr for c in pooled]), rate_sd=rate_sd,
                      dev_faces=tuple(faces))


def simulate_population_errors(world: ErrorWorld, counts: ConfusionCounts,
                               n_populations: int = 200, n_boot: int = 400,
                               seed: int = 11, overall_rates: bool = True) -> dict:
    """Populations of 300-5,000 faces whose model errors differ (``world``): each is
    reported on with an error model measured on two other populations.

    Each face has an estimated age band (shares ``BAND_SHARE``), a true female share per
    estimated band drawn uniformly in 15-85%, a gender predicted with the population's own
    band rates, an estimated age uniform in its band and a true age = estimated - the
    population's bias - Normal(0, age_sd). The truths are the population's own mean true age
    and female share per estimated band.

    Returns:
        ``mean_age_coverage`` (corrected), ``mean_age_coverage_uncorrected`` (the sampling-only
        interval of the uncorrected mean), ``band_female_coverage`` (each band's own rates)
        and, with ``overall_rates``, ``band_female_coverage_overall_rates`` (the validation
        rates in every band: a second report per population).
    """
    rng = np.random.default_rng(seed)
    age_hit, raw_hit, own_hit, overall_hit = [], [], [], []
    for _ in range(n_populations):
        errors = world.measure(rng)
        bias, tpr, fpr = world.population(rng)
        n = int(rng.integers(300, 5000))
        band = rng.choice(len(AGE_BANDS), n, p=BAND_SHARE)
        female = rng.random(n) < rng.uniform(0.15, 0.85, len(AGE_BANDS))[band]
        pred = rng.random(n) < np.where(female, tpr[band], fpr[band])
        est_age = rng.uniform(BAND_AGES[band, 0], BAND_AGES[band, 1] + 1)
        true_age = est_age - bias - rng.normal(0, world.age_sd, n)
        faces = FaceData(pred, est_age)
        sub_seed = int(rng.integers(1 << 30))
        own = estimate(faces, counts, n_boot, sub_seed, errors.age_bias, errors.band_counts,
                       errors.rate_sd)
        plain = estimate(faces, counts, n_boot, sub_seed) if overall_rates else None
        lo, hi = own["mean_age"]["ci95"]
        age_hit.append(lo <= true_age.mean() <= hi)
        lo, hi = own["mean_age"]["uncorrected_ci95"]
        raw_hit.append(lo <= true_age.mean() <= hi)
        for j, name in enumerate(AGE_BANDS):
            truth = female[band == j].mean()
            for hits, out in ((own_hit, own), (overall_hit, plain)):
                if out is not None:
                    lo, hi = out["female_share_by_age_band"][name]["ci95"]
                    hits.append(lo <= truth <= hi)
    out = {"error_populations": n_populations, "tau": world.tau, "rate_sd": world.rate_sd,
           "mean_age_coverage": float(np.mean(age_hit)),
           "mean_age_coverage_uncorrected": float(np.mean(raw_hit)),
           "band_female_coverage": float(np.mean(own_hit))}
    if overall_rates:
        out["band_female_coverage_overall_rates"] = float(np.mean(overall_hit))
    return out


def shipped_counts() -> ConfusionCounts:
    """The shipped model's confusion counts, found as the report finds them."""
    from genderage.models.bundle import MetricsBundle, shipped_bundles
    from genderage.report.rates import lookup_rates

    rates = lookup_rates(MetricsBundle.read(shipped_bundles()[0]).model_sha256)
    assert rates.counts is not None, rates.note
    return rates.counts


def main() -> int:
    counts = shipped_counts()
    print(f"rates: {counts.source}: tpr {counts.tpr:.4f}, fpr {counts.fpr:.4f}")
    figures = {**simulate_female_share(counts), **simulate_bands(counts)}
    world = shipped_world()
    for tau in (0.0, world.tau / 2, world.tau, 2 * world.tau):
        for name, value in simulate_population_errors(shipped_world(tau), counts).items():
            figures[f"{name} (tau {tau:.2f})"] = value
    for name, value in figures.items():
        print(f"{name}: {value:.4f}" if isinstance(value, float) else f"{name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
