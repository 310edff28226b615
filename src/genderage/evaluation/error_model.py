"""A model's age and gender errors on one labelled dev set, in the form ``genderage report``
reads from the metrics bundle's ``error_model`` section (docs/report.md).

Ages are what the report uses: each face's mean of ``age_probs`` when given, else its point
age; estimated age bands are soft (each face weighted by its ``age_probs`` mass in the
band), true bands are the band of the labelled age. Female is the positive class.
"""

from __future__ import annotations

import numpy as np

from ..contract import GENDER_LABELS
from ..report.stats import AGE_BANDS, band_mass, expected_age


def confusion(true_female: np.ndarray, pred_female: np.ndarray,
              weight: np.ndarray | None = None) -> dict:
    """``{"labels": ["female", "male"], "rows_true": [[ff, fm], [mf, mm]]}``: row = true
    label, column = predicted; each face counts ``weight`` (default 1)."""
    w = np.ones(len(true_female)) if weight is None else np.asarray(weight, np.float64)
    t, p = np.asarray(true_female, bool), np.asarray(pred_female, bool)
    rows = [[float(w[(t == a) & (p == b)].sum()) for b in (True, False)] for a in (True, False)]
    if weight is None:
        rows = [[int(v) for v in row] for row in rows]
    return {"labels": list(GENDER_LABELS), "rows_true": rows}


def mean_and_se(errors: np.ndarray) -> dict:
    """``{"n", "mean", "se"}`` of ``errors``; ``se`` (sample SD / sqrt(n)) is ``None`` for
    fewer than two values, ``mean`` too for none."""
    n = len(errors)
    return {"n": n, "mean": float(errors.mean()) if n else None,
            "se": float(errors.std(ddof=1) / np.sqrt(n)) if n > 1 else None}


def dev_set_errors(true_age: np.ndarray, true_female: np.ndarray, pred_female: np.ndarray,
                   age: np.ndarray, age_probs: np.ndarray | None = None) -> dict:
    """The error-model entry of one dev set (one face per labelled image).

    Args:
        true_age: labelled ages, years ``[N]``.
        true_female, pred_female: bool ``[N]``, labelled / predicted female.
        age: point ages ``[N]``; age_probs: ``[N, K]`` or ``None``.

    Returns:
        ``n``; ``age_bias`` {mean, se} of predicted - true; ``age_bias_by_true_band``
        {band: {n, mean, se}}; ``gender_confusion`` (counts); ``gender_confusion_by_estimated_band``
        {band: soft counts}; ``age_band_matrix`` {rows: true band, columns: estimated band,
        counts: soft [5][5]}.
    """
    true_age = np.asarray(true_age, np.float64)
    error = expected_age(age, age_probs) - true_age
    estimated = band_mass(age, age_probs)
    true_band = band_mass(true_age)
    return {
        "n": len(true_age),
        "age_bias": {k: v for k, v in mean_and_se(error).items() if k != "n"},
        "age_bias_by_true_band": {band: mean_and_se(error[true_band[:, j] == 1])
                                  for j, band in enumerate(AGE_BANDS)},
        "gender_confusion": confusion(true_female, pred_female),
        "gender_confusion_by_estimated_band": {
            band: confusion(true_female, pred_female, estimated[:, j])
            for j, band in enumerate(AGE_BANDS)},
        "age_band_matrix": {"rows": "true age band", "columns": "estimated age band (soft)",
                            "bands": list(AGE_BANDS),
                            "counts": (true_band.T @ estimated).tolist()},
    }
