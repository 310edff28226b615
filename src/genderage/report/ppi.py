"""Prediction-powered inference (PPI++) for the report's estimates: pure numpy, no I/O.

Every estimate the report makes is a ratio of two population means, ``theta = E[a] / E[b]``,
where a person's labels give ``a`` and ``b`` on a random sample of faces and the model's
outputs give stand-ins ``a_hat`` and ``b_hat`` on every face:

- female share among faces a person could tell: ``a = told * female``, ``b = told``,
  ``a_hat`` = the model's P(female) (or its 0/1 answer), ``b_hat = 1``;
- mean age: ``a = aged * age``, ``b = aged``, ``a_hat = estimated age``, ``b_hat = 1``;
- a band of (true) age: ``a = aged * [age in band]``, ``b = aged``, ``a_hat`` = the face's
  estimated probability mass in the band;
- a group of faces known for every face (a band of ESTIMATED age, a ``--by`` value): the same
  with ``a``, ``b``, ``a_hat``, ``b_hat`` multiplied by the face's membership (0..1).

The estimator is PPI++ (Angelopoulos, Duchi, Zrnic, *PPI++: Efficient Prediction-Powered
Inference*, 2023) for the M-estimation problem whose gradient is ``b theta - a``:

    theta = (lam mean_all(a_hat) + S(a - lam a_hat)) / (lam mean_all(b_hat) + S(b - lam b_hat))

with ``S(x) = sum_g P_g mean_{labelled in g}(x)`` the stratified sample mean (``P_g`` the
share of all faces in sampling stratum ``g``; one stratum for a uniform sample). Its
variance, by the delta method, is

    V = (lam^2 var_all(b_hat theta - a_hat) / N + sum_g P_g^2 var_g(r) / n_g) / H^2,
    r = (b theta - a) - lam (b_hat theta - a_hat),  H = the denominator above,

and the interval is ``theta +- 1.96 sqrt(V)``. ``lam`` (power tuning) is chosen from the data
to make ``V`` small, as ``ppi_py`` chooses it: the gradients at the ``lam = 1`` estimate give
``lam = sum_g c_g cov_g(g, g_hat) / ((sum_g c_g + 1/N) var(g_hat))``, ``c_g = P_g^2 / n_g``,
clipped to [0, 1]. ``lam = 0`` is the labels-only estimate; ``lam = 1`` is plain PPI. With
one stratum and ``b = b_hat = 1`` this is exactly ``ppi_py.ppi_mean_ci`` (tests check the
numbers); the variance of the whole collection's outputs is counted as ``ppi_py`` counts it
(the collection as a sample of a larger one), so no finite-population correction is made and
the interval is, if anything, a little wide for the collection itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054
"""The standard normal's 97.5th percentile."""
MIN_LABELS = 30
"""Fewer usable labels than this (in faces' worth) and no interval is given: the normal
approximation the interval rests on is not to be trusted."""


@dataclass(frozen=True)
class Labelled:
    """The labelled faces of one estimate, as arrays over the labelled faces.

    Attributes:
        a, b: the quantities the labels give (``theta = E[a] / E[b]``), ``[n]``.
        a_hat, b_hat: the model's stand-ins for ``a`` and ``b`` on the same faces, ``[n]``.
        stratum: int ``[n]``, each face's sampling stratum (index into ``share``).
    """

    a: np.ndarray
    b: np.ndarray
    a_hat: np.ndarray
    b_hat: np.ndarray
    stratum: np.ndarray


@dataclass(frozen=True)
class Ratio:
    """One estimate with its 95% interval.

    Attributes:
        estimate: ``theta``.
        ci95: ``(lo, hi)``, ``theta +- 1.96 se`` (clipped by the caller where a share).
        se: standard error.
        lam: the power-tuning weight used (0: labels only, 1: plain PPI).
        n_used: usable labels, in faces' worth (the sum of ``b`` over the labelled faces).
    """

    estimate: float
    ci95: tuple[float, float]
    se: float
    lam: float
    n_used: float


def ppi_ratio(labelled: Labelled, a_hat_all: np.ndarray, b_hat_all: np.ndarray,
              share: np.ndarray, lam: float | None = None) -> Ratio:
    """The PPI++ estimate of ``E[a] / E[b]`` and its 95% interval (see the module docstring).

    Args:
        labelled: the labelled faces (at least two per stratum; a stratum without labels
            counts as zero, which is right only where ``a``, ``b`` and the stand-ins are all
            zero on its faces, e.g. outside the group being estimated).
        a_hat_all, b_hat_all: the model's stand-ins on every face of the collection ``[N]``
            (the labelled ones included).
        share: ``[G]``, each stratum's share of all faces (``P_g``; sums to 1).
        lam: the power-tuning weight; ``None`` chooses it from the data.
    """
    x = labelled
    share = np.asarray(share, np.float64)
    n_g = np.bincount(x.stratum, minlength=len(share)).astype(np.float64)
    c_g = np.divide(share ** 2, n_g, out=np.zeros_like(share), where=n_g > 0)
    n_all = len(a_hat_all)

    def smean(v):
        sums = np.bincount(x.stratum, weights=v, minlength=len(share))
        return float(share @ np.divide(sums, n_g, out=np.zeros_like(sums), where=n_g > 0))

    def parts(lam_):
        num = lam_ * a_hat_all.mean() + smean(x.a - lam_ * x.a_hat)
        den = lam_ * b_hat_all.mean() + smean(x.b - lam_ * x.b_hat)
        return num, den

    if lam is None:
        num, den = parts(1.0)
        theta1 = num / den
        g, g_hat = x.b * theta1 - x.a, x.b_hat * theta1 - x.a_hat
        g_hat_all = b_hat_all * theta1 - a_hat_all
        cov = _strata_sum(c_g, x.stratum, g, g_hat)
        var_hat = np.var(np.concatenate([g_hat, g_hat_all]), ddof=1)
        lam = float(np.clip(cov / ((c_g.sum() + 1.0 / n_all) * var_hat), 0.0, 1.0)) \
            if var_hat > 0 else 0.0
    num, den = parts(lam)
    theta = num / den
    r = (x.b * theta - x.a) - lam * (x.b_hat * theta - x.a_hat)
    imputed = lam ** 2 * np.var(b_hat_all * theta - a_hat_all) / n_all
    v = (imputed + _strata_sum(c_g, x.stratum, r, r)) / den ** 2
    se = float(np.sqrt(v))
    return Ratio(float(theta), (float(theta - Z95 * se), float(theta + Z95 * se)), se,
                 float(lam), float(x.b.sum()))


def _strata_sum(c_g: np.ndarray, stratum: np.ndarray, u: np.ndarray, v: np.ndarray) -> float:
    """``sum_g c_g cov_g(u, v)``, each stratum's covariance over its own labelled faces with
    divisor ``n_g`` (as ``ppi_py`` computes it)."""
    total = 0.0
    for g in np.flatnonzero(c_g):
        m = stratum == g
        total += c_g[g] * float(np.mean((u[m] - u[m].mean()) * (v[m] - v[m].mean())))
    return total


def labels_for_width(half_width: float, residual_var: float, prediction_var: float,
                     n_all: int) -> float | None:
    """About how many labels give a 95% interval of +-``half_width`` for a mean, by the
    variance formula above with one stratum: ``1.96^2 (residual_var / n + lam^2
    prediction_var / N) <= half_width^2``, ``lam`` fixed at its optimum (folded into
    ``residual_var = var(y - lam y_hat)`` and ``prediction_var = var(y_hat)``).

    Returns ``None`` when no number of labels reaches the width (the collection's own
    spread of predictions already uses it up).
    """
    room = (half_width / Z95) ** 2 - prediction_var / n_all
    if room <= 0:
        return None
    return residual_var / room
