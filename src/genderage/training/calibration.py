"""Post-hoc calibration on the validation split: gender temperature and age intervals.

Both are tiny (one and two parameters), fitted on validation predictions, stored in the
ONNX metadata and applied by :class:`genderage.attribute.AttributeModel`.
"""

from __future__ import annotations

import numpy as np

from ..attribute import apply_interval, decode_outputs, softmax
from ..data.split import read_manifest
from ..evaluation.evaluate import load_faces_plain
from .arch import with_age_output
from .predictor import CheckpointModel


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature T > 0 minimising the NLL of ``softmax(logits / T)`` (golden-section search
    on log T, which is unimodal for this one-parameter problem)."""
    def nll(log_t: float) -> float:
        p = softmax(logits / np.exp(log_t))
        return float(-np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, 1)).mean())

    lo, hi = np.log(0.05), np.log(20.0)
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(80):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if nll(a) < nll(b):
            hi = b
        else:
            lo = a
    return float(np.exp((lo + hi) / 2))


def fit_age_interval(age_true: np.ndarray, age_pred: np.ndarray, coverage: float = 0.8) -> dict:
    """Equal-tailed residual quantiles in log(1 + age) space for a ``coverage`` interval."""
    resid = np.log1p(age_true) - np.log1p(np.clip(age_pred, 0, None))
    tail = (1 - coverage) / 2
    return {"coverage": coverage, "space": "log1p",
            "low": float(np.quantile(resid, tail)), "high": float(np.quantile(resid, 1 - tail))}


def cross_fitted_coverage(age_true: np.ndarray, age_pred: np.ndarray, coverage: float = 0.8,
                          seed: int = 0) -> float:
    """Coverage measured out of sample: fit on one half of the data, test on the other, and
    the reverse; the mean of the two."""
    idx = np.random.default_rng(seed).permutation(len(age_true))
    halves = (idx[: len(idx) // 2], idx[len(idx) // 2:])
    covs = []
    for fit, test in (halves, halves[::-1]):
        lo, hi = apply_interval(age_pred[test], fit_age_interval(age_true[fit], age_pred[fit],
                                                                 coverage))
        covs.append(((age_true[test] >= lo) & (age_true[test] <= hi)).mean())
    return float(np.mean(covs))


def calibrate_checkpoint(checkpoint, data_dir, manifest, weights="auto", flip_tta=False,
                         age_output=None, coverage=0.8) -> dict:
    """Temperature and age-interval parameters from the manifest's ``val`` rows."""
    rows = read_manifest(manifest, "val", "utkface")
    if not rows:
        raise ValueError(f"{manifest}: no val rows to calibrate on")
    model = CheckpointModel(checkpoint, weights, flip_tta)
    if age_output is not None:
        model.module.net = with_age_output(model.module.net, age_output)
    logits = model.predict(load_faces_plain(data_dir, rows, model.preprocessing)).logits
    gender = np.array([r.gender for r in rows])
    age = np.array([r.age for r in rows], float)
    temperature = fit_temperature(logits[:, :2].astype(float), gender)
    pred_age = decode_outputs(logits).age.astype(float)
    interval = fit_age_interval(age, pred_age, coverage)
    return {"gender_temperature": temperature, "age_interval": interval,
            "fitted_on": {"manifest": str(manifest), "split": "val", "n": len(rows)},
            "cross_fitted_coverage": cross_fitted_coverage(age, pred_age, coverage)}
