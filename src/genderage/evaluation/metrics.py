"""Evaluation metrics in plain numpy: gender classification, age regression, calibration."""

from __future__ import annotations

import numpy as np

from ..contract import AGE_BANDS, GENDER_LABELS, RACES, age_band, band_name
from ..models.bundle import Confusion


def gender_metrics(true: np.ndarray, probs: np.ndarray) -> dict:
    """Accuracy, per-class precision/recall/F1 and the confusion matrix (rows = true).

    Args:
        true: int ``[N]`` model gender indices.
        probs: float ``[N, 2]`` probabilities.
    """
    pred = probs.argmax(1)
    confusion = Confusion.count(true == 0, pred == 0)  # index 0 is female, its first row
    cm = np.array(confusion.rows_true)
    per_class = {}
    for k, label in enumerate(GENDER_LABELS):
        tp = cm[k, k]
        precision = tp / cm[:, k].sum() if cm[:, k].sum() else 0.0
        recall = tp / cm[k].sum() if cm[k].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {"precision": float(precision), "recall": float(recall),
                            "f1": float(f1), "support": int(cm[k].sum())}
    return {"accuracy": float((pred == true).mean()) if len(true) else float("nan"),
            "n": int(len(true)), "per_class": per_class,
            "confusion_matrix": confusion.to_dict()}


def age_metrics(true: np.ndarray, pred: np.ndarray) -> dict:
    """MAE with std, median absolute error, share within 5 and 10 years, mean signed error."""
    err = pred - true
    ae = np.abs(err)
    if not len(ae):
        return {"n": 0}
    return {"n": int(len(ae)), "mae": float(ae.mean()), "mae_std": float(ae.std()),
            "median_ae": float(np.median(ae)), "within_5": float((ae <= 5).mean()),
            "within_10": float((ae <= 10).mean()), "bias": float(err.mean())}


def label_scores(true_age, true_gender, pred_age, pred_gender, rounded: bool = True) -> dict:
    """How predictions of a labelled set of faces score: ``n``, ``gender_accuracy``,
    ``age_mae``, ``age_bias`` (mean predicted - true) and ``within_5`` (share within 5
    years); accuracies to 4 decimals and ages to 3 unless not ``rounded``.

    Args:
        true_age, pred_age: ``[N]`` years.
        true_gender, pred_gender: int ``[N]`` model gender indices.
    """
    true_age, pred_age = np.asarray(true_age, float), np.asarray(pred_age, float)
    correct = np.asarray(true_gender) == np.asarray(pred_gender)
    error = pred_age - true_age
    out = {"gender_accuracy": float(correct.mean()), "age_mae": float(np.abs(error).mean()),
           "age_bias": float(error.mean()), "within_5": float((np.abs(error) <= 5).mean())}
    if rounded:
        out = {k: round(v, 4 if k in ("gender_accuracy", "within_5") else 3)
               for k, v in out.items()}
    return {"n": len(true_age), **out}


GENDER_BANDS = ((0, 2), (3, 9), (10, 17), (18, 29), (30, 44), (45, 59), (60, 200))
"""Inclusive true-age ranges that gender accuracy and calibration are reported by: finer than
:data:`~genderage.contract.AGE_BANDS` where gender is hardest (children in three bands)."""


def gender_band_name(band: tuple[int, int]) -> str:
    lo, hi = band
    return f"{lo}+" if hi >= 200 else f"{lo}-{hi}"


def gender_by_band(age_true: np.ndarray, gender_true: np.ndarray, p_female: np.ndarray,
                   bands=GENDER_BANDS) -> dict:
    """Per band of true age (bands without faces left out): ``n``, gender ``accuracy`` and
    the ``ece`` of the gender probability (:func:`calibration`, 15 bins).

    Args:
        age_true: ``[N]`` years.
        gender_true: int ``[N]`` model gender indices (0 = female).
        p_female: ``[N]`` calibrated P(female).
    """
    age_true = np.asarray(age_true, float)
    gender_true = np.asarray(gender_true, int)
    p_female = np.asarray(p_female, float)
    probs = np.stack([p_female, 1 - p_female], axis=1)
    out = {}
    for lo, hi in bands:
        m = (age_true >= lo) & (age_true < hi + 1)
        if m.any():
            out[gender_band_name((lo, hi))] = {
                "n": int(m.sum()),
                "accuracy": float((probs[m].argmax(1) == gender_true[m]).mean()),
                "ece": calibration(gender_true[m], probs[m])["ece"]}
    return out


def calibration(true: np.ndarray, probs: np.ndarray, bins: int = 15) -> dict:
    """Expected calibration error of the predicted label's probability, with the bin table."""
    pred = probs.argmax(1)
    conf = probs.max(1)
    correct = (pred == true).astype(float)
    edges = np.linspace(0.5, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            gap = abs(correct[m].mean() - conf[m].mean())
            ece += m.mean() * gap
            table.append({"lo": float(edges[b]), "hi": float(edges[b + 1]), "n": int(m.sum()),
                          "confidence": float(conf[m].mean()), "accuracy": float(correct[m].mean())})
    nll = -np.log(np.clip(probs[np.arange(len(true)), true], 1e-12, 1)).mean()
    return {"ece": float(ece), "nll": float(nll), "bins": table}


def interval_coverage(true: np.ndarray, interval: np.ndarray) -> dict:
    inside = (true >= interval[:, 0]) & (true <= interval[:, 1])
    return {"coverage": float(inside.mean()),
            "mean_width": float((interval[:, 1] - interval[:, 0]).mean())}


def full_report(age_true, gender_true, race, age_pred, gender_probs, age_interval=None,
                nominal_coverage: float | None = None) -> dict:
    """Every metric of the model card, overall and by age group, race and gender."""
    age_true = np.asarray(age_true, float)
    gender_true = np.asarray(gender_true, int)
    race = np.asarray(race, int)
    bands = np.array([age_band(int(a)) for a in age_true])
    pred = gender_probs.argmax(1)

    def subgroup(mask):
        return {"n": int(mask.sum()),
                "gender_accuracy": float((pred[mask] == gender_true[mask]).mean()) if mask.any()
                else None,
                "age": age_metrics(age_true[mask], age_pred[mask])}

    report = {
        "n": int(len(age_true)),
        "gender": gender_metrics(gender_true, gender_probs),
        "age": age_metrics(age_true, age_pred),
        "age_by_group": {band_name(b): subgroup(bands == b) for b in range(len(AGE_BANDS))},
        "by_race": {RACES[r]: subgroup(race == r) for r in range(len(RACES)) if (race == r).any()},
        "by_gender": {GENDER_LABELS[g]: subgroup(gender_true == g) for g in (0, 1)},
        "calibration": calibration(gender_true, gender_probs),
        "gender_by_age_band": gender_by_band(age_true, gender_true, gender_probs[:, 0]),
    }
    if age_interval is not None:
        report["age_interval"] = {"nominal": nominal_coverage,
                                  **interval_coverage(age_true, age_interval)}
    return report
