"""From a results file to the report's data (the content of ``report.json``)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .. import __version__
from .estimate import estimate
from .rates import lookup_rates
from .stats import AGE_BANDS, age_distribution
from .table import ResultsError, read_results

log = logging.getLogger(__name__)

WHAT_THE_NUMBERS_ARE = (
    "Gender is one of the two labels the training data (UTKFace) annotates, guessed from "
    "appearance: these are estimates of apparent, binary, dataset-defined labels, not of "
    "anyone's gender identity. Age is apparent age as the model sees it.",
    "The correction uses error rates measured on labelled dev faces (UTKFace validation "
    "chips; with an error model, also the All-Age-Faces dev fold). Where this collection "
    "differs (other populations, many children or people over 70, poor photos) the real "
    "error rates differ and the corrected share can be off by more than its interval. The "
    "model is least accurate on gender for children (0-17) and people over 70 (see the model "
    "card).",
    "Age bands are bands of the model's age ESTIMATES, not of true age: a person of 31 "
    "estimated at 28 counts in 18-29. The female share per band is the share among faces "
    "whose estimated age lies in the band.",
    "Only detected faces are counted; undetected faces and unreadable images are not.",
)
WITH_ERROR_MODEL = (
    "The mean age is corrected by the model's average age error on its {k} dev sets; its "
    "interval adds how much that error varied between them. That variation is estimated "
    "from only {k} populations, so it is itself rough: a population unlike them can be off "
    "by more than the interval. The uncorrected mean is reported beside it.")
WITHOUT_ERROR_MODEL = (
    "The model's metrics bundle has no error model: the mean age is not corrected for the "
    "model's age errors and its interval covers sampling only; the female share per age band "
    "is corrected with the overall rates.")


def build_report(path: str | Path, *, exclude_low_quality: bool = False, by: str | None = None,
                 n_boot: int = 1000, seed: int = 0, bundles: list[Path] | None = None,
                 labels: str | Path | None = None) -> dict:
    """Read ``genderage batch`` results and estimate the population they describe.

    Args:
        path: Parquet file or folder of part files.
        exclude_low_quality: leave out faces flagged ``low_quality``.
        by: also report each value of this column separately.
        n_boot: bootstrap replicates per interval.
        seed: random seed (the same input gives the same report).
        bundles: metrics bundles to search for the model's error rates (default: shipped).
        labels: a labels file of a random sample of these faces (``genderage label``): the
            estimates become prediction-powered ones (:func:`.labelled.add_labels`).

    Raises:
        FileNotFoundError, ResultsError: unusable input (see :func:`read_results`).
        LabelsError: unusable labels file.
    """
    results = read_results(path, by)
    if results.n_doubled_rows:
        log.warning("%s: %d doubled row(s) dropped (the same image and face written more than "
                    "once, e.g. by two batch runs on one --out); each is counted once",
                    path, results.n_doubled_rows)
    used = ~results.low_quality if exclude_low_quality else np.ones(len(results.faces), bool)
    faces = results.faces.subset(used)
    if len(faces) == 0:
        raise ResultsError(f"{path}: no faces to report on ({len(results.faces)} faces, "
                           f"{int(results.low_quality.sum())} low quality)")
    rates = lookup_rates(results.model_sha256, bundles, results.flip_tta)
    if rates.counts is None:
        log.warning("%s", rates.note)
    errors = rates.errors
    corrections = {} if errors is None else {"age_bias": errors.age_bias,
                                             "band_counts": errors.band_counts,
                                             "band_rate_sd": errors.rate_sd}
    report = {
        "input": str(path),
        "genderage_version": __version__,
        "model_sha256": results.model_sha256,
        "n_images": results.n_images,
        "n_images_failed": results.n_errors,
        "n_faces": len(results.faces),
        "n_faces_low_quality": int(results.low_quality.sum()),
        "n_rows_doubled": results.n_doubled_rows,
        "exclude_low_quality": exclude_low_quality,
        **estimate(faces, rates.counts, n_boot, seed, **corrections),
        "age_distribution": _age_distribution(results, faces, exclude_low_quality).tolist(),
        "method": _method(rates, faces, n_boot, seed),
        "caveats": [*WHAT_THE_NUMBERS_ARE,
                    WITHOUT_ERROR_MODEL if errors is None else
                    WITH_ERROR_MODEL.format(k=len(errors.age_bias.biases))],
    }
    if by is not None:
        report["by"] = {"column": by, "groups": {
            value: estimate(results.faces.subset(rows), rates.counts, n_boot, seed,
                            **corrections)
            for value, rows in group_rows(results.groups, used)}}
    if labels is not None:
        from .labelled import add_labels

        report = add_labels(report, results, used, labels, path, by)
    return report


def group_rows(groups: np.ndarray, used: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """``(value, row indices)`` of each value of ``groups`` among the ``used`` rows, values
    sorted: one sort for all groups (a comparison per group and row took minutes with
    thousands of values)."""
    rows = np.flatnonzero(used)
    values, codes = np.unique(groups[rows].astype(str), return_inverse=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes, minlength=len(values)))[:-1]
    return list(zip(values.tolist(), np.split(rows[order], bounds)))


def _age_distribution(results, faces, exclude_low_quality: bool) -> np.ndarray:
    """The collection's age distribution: streamed from ``age_probs`` by ``read_results``
    when present, else the histogram of the used faces' point ages."""
    streamed = results.age_distribution_good if exclude_low_quality else \
        results.age_distribution
    return streamed if streamed is not None else age_distribution(faces.age, faces.age_probs)


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
        "age_source": "age_probs (summed per-face distributions)" if faces.has_distributions
                      else "point ages (no age_probs column)",
        "model_age_bias": rates.age_bias,
        "error_model": _error_model_method(rates),
    }


def _error_model_method(rates) -> dict:
    """What the report took from the bundle's error model (``note`` says why when nothing)."""
    errors = rates.errors
    if errors is None:
        return {"used": False, "note": rates.errors_note}
    bias = errors.age_bias
    return {
        "used": True, "note": rates.errors_note,
        "mean_age": ("uncorrected mean - b, b the plain average of the dev sets' mean age "
                     "errors; each bootstrap replicate subtracts a draw from "
                     "Normal(b, se_b^2 + tau^2), tau^2 the between-set variance "
                     "(DerSimonian-Laird, floored at 0). tau rests on only "
                     f"{len(bias.biases)} populations and is therefore itself rough."),
        "age_bias": {"b": bias.mean, "se_b": bias.se, "tau": bias.tau2 ** 0.5,
                     "dev_sets": {name: {"bias": b, "se": se} for name, b, se in
                                  zip(bias.names, bias.biases, bias.ses)}},
        "female_share_by_age_band": ("each band of ESTIMATED age corrected with that band's "
                                     "own gender rates, pooled over the dev sets (soft counts); "
                                     "a band with too few dev faces uses the overall rates"),
        "band_rates": {band: None if c is None else {"tpr": c.tpr, "fpr": c.fpr}
                       for band, c in zip(AGE_BANDS, errors.band_counts)},
        "band_rate_sd": errors.rate_sd,
    }
