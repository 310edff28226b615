"""Population estimates from per-face predictions: pure numpy functions, no I/O.

Method (docs/report.md states it in full):

- **Female share.** Adjusted classify-and-count (ACC, Forman 2008): if ``q`` is the share of
  faces *predicted* female, ``tpr = P(pred female | female)`` and
  ``fpr = P(pred female | male)``, then ``E[q] = tpr * p + fpr * (1 - p)``, so
  ``p = (q - fpr) / (tpr - fpr)``, clipped to [0, 1].
- **Intervals.** Percentile intervals over ``n_boot`` replicates. For a share (``k`` of ``n``
  faces) each replicate draws it from its Jeffreys posterior Beta(k + 1/2, n - k + 1/2)
  (:func:`share_draws`), which stays honest at small ``n`` and at 0 or 1, where the
  bootstrap collapses to a point (one face: "100%, interval 100-100%"); the mean age
  resamples the faces with replacement (the bootstrap). Each replicate also draws ``tpr``
  and ``fpr`` from their Beta posteriors given the validation confusion counts (Jeffreys
  prior Beta(1/2, 1/2)), so the interval carries both the sampling error of this
  collection and the uncertainty of the measured error rates. Naive shares get the Wilson
  score interval (:func:`wilson_interval`).
- **Age.** Each face contributes its whole predicted age distribution (``age_probs``, a
  distribution over ages 0-120) when present, else a point mass at its point age; the band
  shares and the mean age are averages over faces of these distributions.
- **Mean age bias.** The model's mean age error measured on several dev sets (populations):
  the correction is their plain average ``b``; its uncertainty adds the between-set variance
  ``tau^2`` (DerSimonian-Laird, floored at 0) to the sets' own standard errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..contract import AGE_BANDS as BAND_RANGES
from ..contract import band_name

AGE_BANDS = tuple(band_name(i) for i in range(len(BAND_RANGES)))
"""Band names: ``("0-17", "18-29", "30-49", "50-69", "70+")``."""
BAND_EDGES = tuple(lo for lo, _ in BAND_RANGES)
"""Lower edge of each band in years: band ``i`` holds ages in ``[BAND_EDGES[i], next edge)``."""

PRIOR = 0.5
"""Jeffreys prior Beta(1/2, 1/2) on each error rate and on each share."""

Z95 = 1.959963984540054
"""The standard normal's 97.5th percentile."""


def wilson_interval(k: float, n: float) -> list[float]:
    """Wilson score 95% interval for a share of ``k`` in ``n`` (counts may be soft, i.e.
    sums of probabilities). Never a point: one face of one gives [20.7%, 100%]."""
    if n <= 0:
        return [0.0, 1.0]
    p, z2 = min(1.0, max(0.0, k / n)), Z95 ** 2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    lo = 0.0 if p == 0 else float(max(0.0, centre - half))
    return [lo, 1.0 if p == 1 else float(min(1.0, centre + half))]


def share_draws(k: float, n: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` draws of a share observed as ``k`` of ``n`` from its Jeffreys posterior
    Beta(k + 1/2, n - k + 1/2) (soft counts allowed)."""
    k = min(max(0.0, k), n)
    return rng.beta(k + PRIOR, n - k + PRIOR, size)


@dataclass(frozen=True)
class ConfusionCounts:
    """Gender confusion counts measured on labelled validation faces (female = positive).

    Attributes:
        tp: female faces predicted female (counts may be soft, i.e. sums of weights).
        fn: female faces predicted male.
        fp: male faces predicted female.
        tn: male faces predicted male.
        source: where the counts come from (for the report).
    """

    tp: float
    fn: float
    fp: float
    tn: float
    source: str = ""

    @property
    def tpr(self) -> float:
        """P(predicted female | female), the posterior mean under the Jeffreys prior."""
        return (self.tp + PRIOR) / (self.tp + self.fn + 2 * PRIOR)

    @property
    def fpr(self) -> float:
        """P(predicted female | male), the posterior mean under the Jeffreys prior."""
        return (self.fp + PRIOR) / (self.fp + self.tn + 2 * PRIOR)

    def draw(self, size: int, rng: np.random.Generator, logit_sd: float = 0.0
             ) -> tuple[np.ndarray, np.ndarray]:
        """``size`` joint draws of ``(tpr, fpr)`` from their independent Beta posteriors;
        with ``logit_sd``, each draw also moves by Normal(0, logit_sd) on the logit scale (a
        new population's rates differ from the measured ones by that much)."""
        tpr = rng.beta(self.tp + PRIOR, self.fn + PRIOR, size)
        fpr = rng.beta(self.fp + PRIOR, self.tn + PRIOR, size)
        if logit_sd > 0:
            base = _logit(tpr), _logit(fpr)
            tpr, fpr = (_expit(b + rng.normal(0.0, logit_sd, size)) for b in base)
            for _ in range(100):  # a population's classifier still beats chance: redraw those
                bad = tpr <= fpr
                if not bad.any():
                    break
                tpr[bad], fpr[bad] = (_expit(b[bad] + rng.normal(0.0, logit_sd, bad.sum()))
                                      for b in base)
        return tpr, fpr


def _logit(p):
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def _expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def between_set_rate_sd(per_set: list[list[ConfusionCounts]]) -> float:
    """How much the per-band gender rates of one population differ from another's, on the
    logit scale: the SD of a population's rate around the mean, from the differences
    between the dev sets (two or more) less their sampling variance (a moment estimate, as
    :func:`between_set_variance` for the age bias; floor 0).

    For each band and rate (tpr over the female faces, fpr over the male ones) with its
    Jeffreys posterior mean ``r`` over ``n`` faces, ``logit(r)`` has sampling variance about
    ``1 / (n r (1 - r))``; the between-set variance is the average over bands and rates of
    ``(sum of squared deviations from the mean - sum of sampling variances (k - 1) / k) /
    (k - 1)``."""
    k = len(per_set)
    if k < 2:
        return 0.0
    excess = []
    for j in range(len(per_set[0])):
        for hits, misses in (("tp", "fn"), ("fp", "tn")):
            n = np.array([getattr(s[j], hits) + getattr(s[j], misses) for s in per_set], float)
            r = (np.array([getattr(s[j], hits) for s in per_set], float) + PRIOR) / (n + 2 * PRIOR)
            x, v = _logit(r), 1.0 / ((n + 2 * PRIOR) * r * (1 - r))
            excess.append((((x - x.mean()) ** 2).sum() - v.sum() * (k - 1) / k) / (k - 1))
    return float(np.sqrt(max(0.0, float(np.mean(excess)))))


def between_set_variance(biases, ses) -> float:
    """DerSimonian-Laird estimate of the variance ``tau^2`` of a quantity between sets.

    With ``w_i = 1 / se_i^2``, ``m`` the ``w``-weighted mean of ``biases``,
    ``Q = sum w_i (b_i - m)^2`` and ``c = sum w_i - sum w_i^2 / sum w_i``:
    ``tau^2 = max(0, (Q - (k - 1)) / c)``. With two sets it rests on one difference, so it is
    itself rough.

    Args:
        biases: the quantity measured on each of ``k >= 2`` sets.
        ses: their standard errors (> 0).
    """
    y, w = np.asarray(biases, np.float64), 1.0 / np.asarray(ses, np.float64) ** 2
    assert len(y) >= 2 and len(w) == len(y)
    m = (w * y).sum() / w.sum()
    q = (w * (y - m) ** 2).sum()
    c = w.sum() - (w ** 2).sum() / w.sum()
    return float(max(0.0, (q - (len(y) - 1)) / c))


@dataclass(frozen=True)
class AgeBias:
    """The model's mean age error (predicted - true, years) measured on several dev sets.

    Attributes:
        biases: the mean error on each set.
        ses: its standard error on each set.
        names: the sets' names (for the report).
    """

    biases: tuple[float, ...]
    ses: tuple[float, ...]
    names: tuple[str, ...] = ()

    @property
    def mean(self) -> float:
        """``b``: the plain average of the sets' biases (each population counts once)."""
        return float(np.mean(self.biases))

    @property
    def tau2(self) -> float:
        """Between-set variance of the bias (:func:`between_set_variance`), 0 for one set."""
        return between_set_variance(self.biases, self.ses) if len(self.biases) > 1 else 0.0

    @property
    def se(self) -> float:
        """Standard error of ``b`` as an estimate of the biases' population mean: each set's
        bias varies by ``se_i^2 + tau^2`` around it, so ``sqrt(sum(se_i^2 + tau^2)) / k``."""
        k = len(self.biases)
        return float(np.sqrt(np.sum(np.square(self.ses)) + k * self.tau2) / k)

    def draw(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """``size`` draws of a new population's bias: ``Normal(b, se^2 + tau^2)``."""
        return rng.normal(self.mean, np.sqrt(self.se ** 2 + self.tau2), size)


def adjusted_share(naive, tpr, fpr):
    """Adjusted classify-and-count: ``clip((naive - fpr) / (tpr - fpr), 0, 1)``, elementwise.

    Args:
        naive: share of faces predicted female (scalar or array).
        tpr, fpr: the classifier's P(predicted female | female) and P(predicted female | male);
            ``tpr > fpr`` (a classifier better than chance), broadcast against ``naive``.
    """
    tpr, fpr = np.asarray(tpr, float), np.asarray(fpr, float)
    assert np.all(tpr > fpr), "adjusted classify-and-count needs tpr > fpr"
    return np.clip((np.asarray(naive, float) - fpr) / (tpr - fpr), 0.0, 1.0)


def percentile_interval(draws: np.ndarray, axis: int = 0) -> np.ndarray:
    """The central 95% of ``draws`` along ``axis``: ``[2.5th, 97.5th]`` percentiles."""
    return np.percentile(draws, [2.5, 97.5], axis=axis)


def female_share(n_female: int, n: int, counts: ConfusionCounts | None, n_boot: int,
                 rng: np.random.Generator) -> dict:
    """Female share of ``n`` faces of which ``n_female`` were predicted female.

    Replicates of the share predicted female are drawn from its posterior
    (:func:`share_draws`), each paired with one draw of the error rates; the naive interval
    is Wilson's (:func:`wilson_interval`).

    Returns:
        ``{"estimate", "ci95", "naive", "naive_ci95"}``; ``estimate`` and ``ci95`` are
        ``None`` when ``counts`` is ``None`` (no measured error rates: naive only).
    """
    assert 0 <= n_female <= n and n > 0
    naive = n_female / n
    naive_boot = share_draws(n_female, n, n_boot, rng)
    out = {"estimate": None, "ci95": None, "naive": naive,
           "naive_ci95": wilson_interval(n_female, n)}
    if counts is not None:
        tpr, fpr = counts.draw(n_boot, rng)
        out["estimate"] = float(adjusted_share(naive, counts.tpr, counts.fpr))
        out["ci95"] = percentile_interval(adjusted_share(naive_boot, tpr, fpr)).tolist()
    return out


def band_matrix(n_ages: int) -> np.ndarray:
    """``[n_ages, 5]`` 0/1 matrix: integer age ``k`` (row) belongs to band ``j`` (column)."""
    ages = np.arange(n_ages)
    band = np.searchsorted(BAND_EDGES, ages, side="right") - 1
    return (band[:, None] == np.arange(len(AGE_BANDS))[None, :]).astype(np.float64)


def band_mass(ages: np.ndarray | None = None, age_probs: np.ndarray | None = None
              ) -> np.ndarray:
    """Each face's probability of lying in each age band, ``[N, 5]``, rows summing to 1.

    Args:
        ages: float ``[N]`` point ages in years; used when ``age_probs`` is ``None``
            (a point mass: the band holding the age).
        age_probs: float ``[N, K]`` per-face distributions over integer ages ``0..K-1``
            (the model's ``age_probs`` has K = 121); rows are renormalised.
    """
    if age_probs is not None:
        probs = np.asarray(age_probs, np.float64)
        mass = probs @ band_matrix(probs.shape[1])
        return mass / mass.sum(1, keepdims=True)
    ages = np.asarray(ages, np.float64)
    band = np.searchsorted(BAND_EDGES, ages, side="right") - 1
    band = np.clip(band, 0, len(AGE_BANDS) - 1)
    return np.eye(len(AGE_BANDS))[band]


def expected_age(ages: np.ndarray | None = None, age_probs: np.ndarray | None = None
                 ) -> np.ndarray:
    """Each face's mean age in years, ``[N]``: the mean of its ``age_probs`` row when given
    (rows renormalised), else its point age."""
    if age_probs is not None:
        probs = np.asarray(age_probs, np.float64)
        return probs @ np.arange(probs.shape[1]) / probs.sum(1)
    return np.asarray(ages, np.float64)


def bootstrap_means(columns: np.ndarray, n_boot: int, rng: np.random.Generator,
                    max_cells: int = 20_000_000) -> np.ndarray:
    """Column means of ``columns`` [N, K] under ``n_boot`` resamplings of its rows.

    Each replicate draws N row indices with replacement; its multiplicities ``w`` (a
    Multinomial(N, 1/N) vector) give the resampled mean ``w @ columns / N``. Replicates are
    drawn in blocks of at most ``max_cells`` indices to bound memory.

    Returns:
        float ``[n_boot, K]``.
    """
    n = len(columns)
    assert n > 0
    block = max(1, max_cells // n)
    out = []
    for start in range(0, n_boot, block):
        b = min(block, n_boot - start)
        rows = rng.integers(0, n, (b, n)) + n * np.arange(b)[:, None]
        weights = np.bincount(rows.ravel(), minlength=b * n).reshape(b, n)
        out.append(weights @ columns / n)
    return np.concatenate(out)


def age_distribution(ages: np.ndarray | None = None, age_probs: np.ndarray | None = None,
                     n_ages: int = 121) -> np.ndarray:
    """The collection's age distribution over integer ages ``0..n_ages-1``, summing to 1:
    the average of the per-face ``age_probs`` rows (renormalised) when given, else the
    histogram of point ages rounded to whole years (clipped to the range)."""
    if age_probs is not None:
        probs = np.asarray(age_probs, np.float64)
        return (probs / probs.sum(1, keepdims=True)).mean(0)
    years = np.clip(np.rint(np.asarray(ages, np.float64)), 0, n_ages - 1).astype(int)
    return np.bincount(years, minlength=n_ages) / len(years)
