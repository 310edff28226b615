"""Age-conditioned calibration of the gender probability, fitted on the dev folds.

One temperature does not fit every age: a child's 0.7 is right less often than an adult's.
Per band of *estimated* age (the runtime has no other), the log-odds of P(female) after the
model's temperature are rescaled and shifted, ``sigmoid(scale[b] * z + bias[b])`` (Platt
scaling per band; :func:`genderage.attribute.recalibrate_by_age` applies it). The fit is a
two-parameter logistic regression per band with a weak prior towards the identity
(``scale 1, bias 0``), so a band with few faces stays close to the model's own probabilities.

Fitted on the same dev folds the model is scored on, so the figures reported for it are
cross-fitted (:func:`cross_fitted`): each face's probability comes from parameters fitted on
the other folds.
"""

from __future__ import annotations

import numpy as np

from ..attribute import age_band_index, recalibrate_by_age

BAND_LOWS = (0, 3, 10, 18, 30, 45, 60)
"""Lower ends of the estimated-age bands (0-2, 3-9, 10-17, 18-29, 30-44, 45-59, 60+)."""


def logit(p: np.ndarray, eps: float = 1e-7) -> np.ndarray:
    p = np.clip(np.asarray(p, float), eps, 1 - eps)
    return np.log(p) - np.log1p(-p)


def fit_platt(z: np.ndarray, female: np.ndarray, prior: float = 2.0,
              iterations: int = 100) -> tuple[float, float]:
    """``(scale, bias)`` minimising the NLL of ``sigmoid(scale * z + bias)`` against
    ``female`` plus ``prior / 2 * ((scale - 1)^2 + bias^2)`` (Newton's method with step
    halving; the problem is convex)."""
    x = np.stack([np.asarray(z, float), np.ones(len(z))], axis=1)
    y = np.asarray(female, float)
    identity = np.array([1.0, 0.0])

    def objective(w):
        t = x @ w
        return float(np.sum(np.logaddexp(0, t) - y * t)
                     + prior / 2 * np.sum((w - identity) ** 2))

    w, best = identity.copy(), objective(identity)
    for _ in range(iterations):
        p = 0.5 * (1 + np.tanh(0.5 * (x @ w)))
        grad = x.T @ (p - y) + prior * (w - identity)
        hess = (x * (p * (1 - p))[:, None]).T @ x + (prior + 1e-9) * np.eye(2)
        step = np.linalg.solve(hess, grad)
        for _ in range(30):  # halve the step until the objective falls
            trial = objective(w - step)
            if trial <= best:
                break
            step = step / 2
        else:
            break
        w, best = w - step, trial
        if np.abs(step).max() < 1e-9:
            break
    return float(w[0]), float(w[1])


def fit_by_age(z: np.ndarray, female: np.ndarray, est_age: np.ndarray, lows=BAND_LOWS,
               prior: float = 2.0) -> dict:
    """The calibration spec (``lows``, ``scale``, ``bias`` per band, ``n`` faces per band)
    for log-odds ``z`` of P(female), true ``female`` and estimated ages ``est_age``."""
    bands = age_band_index(est_age, lows)
    scale, bias, n = [], [], []
    for b in range(len(lows)):
        m = bands == b
        a, c = fit_platt(z[m], female[m], prior) if m.any() else (1.0, 0.0)
        scale.append(round(a, 6))
        bias.append(round(c, 6))
        n.append(int(m.sum()))
    return {"lows": list(lows), "scale": scale, "bias": bias, "n": n,
            "applies_to": "log-odds of P(female) after the gender temperature, per band of "
                          "estimated age"}


def cross_fitted(z: np.ndarray, female: np.ndarray, est_age: np.ndarray, groups: np.ndarray,
                 folds: int = 5, seed: int = 0, lows=BAND_LOWS, prior: float = 2.0
                 ) -> np.ndarray:
    """P(female) of every face from a spec fitted on the other folds. Folds are drawn at
    random within each value of ``groups`` (the dev set), so every fold holds both sets."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(z), int)
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        fold[idx] = rng.permutation(len(idx)) % folds
    out = np.empty(len(z))
    for k in range(folds):
        test = fold == k
        spec = fit_by_age(z[~test], female[~test], est_age[~test], lows, prior)
        out[test] = recalibrate_by_age(z[test], est_age[test], spec)
    return out
