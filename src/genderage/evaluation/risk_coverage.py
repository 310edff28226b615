"""Risk-coverage of the gender answer: how accurate the model is on the faces it answers when
it leaves the least confident ones "unknown" (``--min-gender-probability P``), per age band,
so that a user can pick ``P``.

A face's confidence is the probability of its likelier gender (``Face.gender_probability``).
For a target coverage ``c`` of ``n`` faces, ``P`` is the confidence of the ``ceil(c n)``-th
most confident face; the faces answered are those with confidence >= ``P``, exactly what
``--min-gender-probability P`` answers (ties at ``P`` included, so the coverage reached may be
a little above ``c``).

:func:`measure_risk_coverage` runs a model on the dev sets of a multi-source manifest as
``tools/error_model.py`` does (``tools/risk_coverage.py`` writes the result into the model's
metrics bundle; the model card renders it).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .error_model import dev_set_faces

COVERAGES = (1.0, 0.95, 0.9, 0.8, 0.7)
"""Target shares of faces answered, as the model card's table shows them."""

RISK_BANDS = ((0, 2), (3, 9), (10, 17), (18, 29), (30, 44), (45, 59), (60, 200))
"""Inclusive labelled-age ranges of the table: finer for children, where the model is least
sure (issue 24)."""

CHILD_AGES = (0, 17)
"""The recommended ``P`` answers :data:`RECOMMENDED_COVERAGE` of the faces in this age range
(both dev sets pooled)."""

RECOMMENDED_COVERAGE = 0.8


def band_label(lo: int, hi: int) -> str:
    return f"{lo}+" if hi >= 200 else f"{lo}-{hi}"


def threshold_for(confidence: np.ndarray, coverage: float) -> float:
    """The ``P`` at which ``coverage`` of ``confidence`` is answered: the confidence of the
    ``ceil(coverage * n)``-th most confident face (``n >= 1``)."""
    ranked = np.sort(np.asarray(confidence, np.float64))[::-1]
    k = max(1, math.ceil(coverage * len(ranked) - 1e-9))
    return float(ranked[k - 1])


def answered(correct: np.ndarray, confidence: np.ndarray, threshold: float) -> dict:
    """``{"answered", "coverage", "accuracy"}`` of the faces with confidence >= ``threshold``
    (``accuracy`` ``None`` when none is answered)."""
    keep = np.asarray(confidence, np.float64) >= threshold
    n = int(keep.sum())
    return {"answered": n, "coverage": n / len(keep) if len(keep) else None,
            "accuracy": float(np.asarray(correct, bool)[keep].mean()) if n else None}


def risk_coverage(correct: np.ndarray, confidence: np.ndarray,
                  coverages: tuple[float, ...] = COVERAGES) -> list[dict]:
    """One row per target coverage: ``{"target", "threshold", "answered", "coverage",
    "accuracy"}`` (see the module docstring); ``[]`` for no faces.

    Args:
        correct: bool ``[N]``, the likelier gender is the labelled one.
        confidence: ``[N]`` probability of the likelier gender, in [0.5, 1].
    """
    if len(confidence) == 0:
        return []
    rows = []
    for target in coverages:
        threshold = threshold_for(confidence, target)
        rows.append({"target": target, "threshold": threshold,
                     **answered(correct, confidence, threshold)})
    return rows


def band_masks(age: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean mask per :data:`RISK_BANDS` label of labelled ages ``age`` (years)."""
    age = np.asarray(age, np.float64)
    return {band_label(lo, hi): (age >= lo) & (age <= hi) for lo, hi in RISK_BANDS}


def dev_set_table(true_female: np.ndarray, p_female: np.ndarray, age: np.ndarray) -> dict:
    """The risk-coverage entry of one dev set: ``{"n", "all": rows, "by_band": {band: {"n",
    "rows"}}}`` (rows of :func:`risk_coverage`)."""
    p_female = np.asarray(p_female, np.float64)
    correct = (p_female >= 0.5) == np.asarray(true_female, bool)
    confidence = np.maximum(p_female, 1.0 - p_female)
    return {"n": len(p_female), "all": risk_coverage(correct, confidence),
            "by_band": {band: {"n": int(m.sum()),
                               "rows": risk_coverage(correct[m], confidence[m])}
                        for band, m in band_masks(age).items()}}


def recommend(faces: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict:
    """The recommended ``min_gender_probability``: the ``P`` that answers
    :data:`RECOMMENDED_COVERAGE` of the faces aged :data:`CHILD_AGES`, all dev sets pooled,
    and what every band of every dev set gets at it.

    Args:
        faces: per dev set, ``(true_female, p_female, age)`` arrays.
    """
    lo, hi = CHILD_AGES
    children = np.concatenate([np.maximum(p, 1 - p)[(a >= lo) & (a <= hi)]
                               for _, p, a in faces.values()])
    threshold = threshold_for(children, RECOMMENDED_COVERAGE)
    at = {}
    for name, (true_female, p, age) in faces.items():
        p = np.asarray(p, np.float64)
        correct = (p >= 0.5) == np.asarray(true_female, bool)
        confidence = np.maximum(p, 1 - p)
        masks = {"all": np.ones(len(p), bool), **band_masks(age),
                 band_label(lo, hi): (age >= lo) & (age <= hi)}
        at[name] = {band: {"n": int(m.sum()), **answered(correct[m], confidence[m], threshold)}
                    for band, m in masks.items()}
    return {"min_gender_probability": threshold,
            "rule": f"answers {RECOMMENDED_COVERAGE:.0%} of the faces aged "
                    f"{band_label(lo, hi)} of the dev sets pooled",
            "at_recommended": at}


def measure_risk_coverage(model: Path, manifest: Path, roots: dict[str, Path]) -> dict:
    """The ``risk_coverage`` section (without ``command``) of ``model`` on the manifest's dev
    sets (:func:`~genderage.evaluation.error_model.dev_set_faces`: UTKFace val chips as aligned
    faces, AAF dev photos through the full pipeline, largest face), the model run as the
    product runs it (``GenderAge(model)``, default detector, no mirror TTA).

    Args:
        roots: the image folder of each manifest source (``{"utkface": ..., "aaf": ...}``).

    Raises:
        ValueError: a dev set missing from the manifest, or (almost) no faces found.
    """
    from .. import __version__
    from ..data.split import manifest_hash
    from ..models import file_sha256
    from ..pipeline import GenderAge

    sets, faces = {}, {}
    for d in dev_set_faces(GenderAge(model), manifest, roots):
        true_female, p_female, age = d.true_female, d.found.p_female, d.true_age
        faces[d.name] = (true_female, p_female, age)
        sets[d.name] = {"description": d.description, "images": d.images,
                        **dev_set_table(true_female, p_female, age)}
    return {"model_sha256": file_sha256(model), "genderage_version": __version__,
            "flip_tta": False, "coverages": list(COVERAGES),
            "bands": [band_label(lo, hi) for lo, hi in RISK_BANDS],
            "confidence": "probability of the likelier gender (gender_probability)",
            "manifest": str(manifest), "manifest_sha256": manifest_hash(manifest),
            "dev_sets": sets, "recommended": recommend(faces)}
