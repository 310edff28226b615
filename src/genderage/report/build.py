"""From a results file to the report's data (the content of ``report.json``)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .. import __version__
from .estimate import estimate
from .rates import lookup_rates
from .stats import age_distribution
from .table import Results, ResultsError, read_results

log = logging.getLogger(__name__)

WHAT_THE_NUMBERS_ARE = (
    "Gender is one of the two labels the training data (UTKFace) annotates, guessed from "
    "appearance: these are estimates of apparent, binary, dataset-defined labels, not of "
    "anyone's gender identity. Age is apparent age as the model sees it.",
    "The correction uses error rates measured on UTKFace validation faces (mostly well-lit "
    "web photos of the public). Where this collection differs (other populations, many "
    "children or people over 70, poor photos) the real error rates differ and the corrected "
    "share can be off by more than its interval. The model is least accurate on gender for "
    "children (0-17) and people over 70 (see the model card); the per-band correction uses "
    "the overall rates, so it is least trustworthy in those bands.",
    "Age bands and the mean age describe the model's age estimates and are not corrected for "
    "its age errors; the intervals cover sampling, not the model's systematic age error.",
    "Only detected faces are counted; undetected faces and unreadable images are not.",
)


def build_report(path: str | Path, *, exclude_low_quality: bool = False, by: str | None = None,
                 n_boot: int = 1000, seed: int = 0, bundles: list[Path] | None = None) -> dict:
    """Read ``genderage batch`` results and estimate the population they describe.

    Args:
        path: Parquet file or folder of part files.
        exclude_low_quality: leave out faces flagged ``low_quality``.
        by: also report each value of this column separately.
        n_boot: bootstrap replicates per interval.
        seed: random seed (the same input gives the same report).
        bundles: metrics bundles to search for the model's error rates (default: shipped).

    Raises:
        FileNotFoundError, ResultsError: unusable input (see :func:`read_results`).
    """
    results = read_results(path, by)
    used = ~results.low_quality if exclude_low_quality else np.ones(len(results.faces), bool)
    faces = results.faces.subset(used)
    if len(faces) == 0:
        raise ResultsError(f"{path}: no faces to report on ({len(results.faces)} faces, "
                           f"{int(results.low_quality.sum())} low quality)")
    rates = lookup_rates(results.model_sha256, bundles, results.flip_tta)
    if rates.counts is None:
        log.warning("%s", rates.note)
    report = {
        "input": str(path),
        "genderage_version": __version__,
        "model_sha256": results.model_sha256,
        "n_images": results.n_images,
        "n_images_failed": results.n_errors,
        "n_faces": len(results.faces),
        "n_faces_low_quality": int(results.low_quality.sum()),
        "exclude_low_quality": exclude_low_quality,
        **estimate(faces, rates.counts, n_boot, seed),
        "age_distribution": age_distribution(faces.age, faces.age_probs).tolist(),
        "method": _method(rates, faces, n_boot, seed),
        "caveats": list(WHAT_THE_NUMBERS_ARE),
    }
    if by is not None:
        report["by"] = {"column": by, "groups": _groups(results, used, rates, n_boot, seed)}
    return report


def _groups(results: Results, used: np.ndarray, rates, n_boot: int, seed: int) -> dict:
    groups = {}
    for value in sorted(set(results.groups[used])):
        faces = results.faces.subset(used & (results.groups == value))
        groups[value] = estimate(faces, rates.counts, n_boot, seed)
    return groups


def _method(rates, faces, n_boot: int, seed: int) -> dict:
    counts = rates.counts
    return {
        "female_share": ("adjusted classify-and-count" if counts else
                         "naive share of faces predicted female (no error rates)"),
        "intervals": "95% percentile bootstrap over faces"
                     + (", each replicate with error rates drawn from their Beta posteriors"
                        if counts else ""),
        "n_boot": n_boot,
        "seed": seed,
        "confusion_rates": None if counts is None else {
            "source": counts.source, "tpr": counts.tpr, "fpr": counts.fpr,
            "counts": {"tp": counts.tp, "fn": counts.fn, "fp": counts.fp, "tn": counts.tn}},
        "rates_note": rates.note,
        "age_source": "age_probs (summed per-face distributions)" if faces.age_probs is not None
                      else "point ages (no age_probs column)",
        "model_age_bias": rates.age_bias,
    }
