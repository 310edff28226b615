"""The report's estimates from a labelled random sample of the collection: prediction-powered
(:mod:`.ppi`) beside the dev-set correction, the model's accuracy on the collection, and how
many labels a chosen interval width needs (``--plan``). Method: docs/report.md."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..label.sample import face_keys, results_fingerprint, sampling_order
from ..label.store import LabelsError, LabelsFile, read_labels, rows_named
from .estimate import FaceData
from .ppi import MIN_LABELS, Z95, Labelled, ppi_ratio
from .stats import AGE_BANDS, BAND_EDGES, ConfusionCounts, adjusted_share

log = logging.getLogger(__name__)

NO_SAMPLING_NOTE = (
    "{file} does not record how its sample was drawn (it was not written by `genderage "
    "label`): the intervals assume the labelled faces are a uniformly random sample of the "
    "faces in the results. If they were chosen any other way (the first ones, the clear ones, "
    "the ones the model got wrong), the intervals are wrong.")


@dataclass(frozen=True)
class Sample:
    """The labelled faces joined to the faces of the report.

    Attributes:
        pos: ``[n]`` index of each labelled face among the faces used.
        gender: ``[n]`` the labels' gender words.
        age: float ``[n]``, NaN where skipped.
        stratum: int ``[n]`` sampling stratum of each labelled face.
        share: ``[G]`` each stratum's share of the faces used.
        strata_all: int ``[N]`` stratum of every face used.
        counts: what the labels hold (for the report).
        warnings: what the reader must know about the sample.
    """

    pos: np.ndarray
    gender: np.ndarray
    age: np.ndarray
    stratum: np.ndarray
    share: np.ndarray
    strata_all: np.ndarray
    counts: dict
    warnings: list[str]


def join_labels(labels: LabelsFile, keys: list[str], used: np.ndarray,
                design_strata: np.ndarray | None) -> Sample:
    """Match the labels to the faces of the results and check how the sample was drawn.

    Args:
        labels: the read labels file.
        keys: :func:`face_keys` of every face in the results.
        used: bool ``[N]``, the faces the report uses (the others' labels are left out).
        design_strata: ``[N]`` the value of the column the sample was stratified on, per
            face (``None`` for a uniform sample).

    Raises:
        LabelsError: labels naming faces that are not in the results (rows named).
    """
    index = {k: i for i, k in enumerate(keys)}
    rows = [index.get(f"{lab.path}\t{lab.face_index}") for lab in labels.labels]
    unknown = [lab.line for lab, i in zip(labels.labels, rows) if i is None]
    if unknown:
        raise LabelsError(f"{labels.path}: faces not in the results (path and face_index "
                          f"match no face): {rows_named(unknown)}")
    rows = np.array(rows, np.int64)
    warnings = _check_sampling(labels, keys, rows, design_strata)
    if design_strata is None:
        design_strata = np.zeros(len(keys), object)
    _, inverse = np.unique(np.asarray(design_strata, object)[used].astype(str),
                           return_inverse=True)
    position = np.full(len(keys), -1, np.int64)
    position[np.flatnonzero(used)] = np.arange(int(used.sum()))
    inside = used[rows]
    pos = position[rows[inside]]
    kept = [lab for lab, k in zip(labels.labels, inside) if k]
    gender = np.array([lab.gender for lab in kept], dtype=object)
    counts = {"rows": len(labels.labels), "outside_faces_used": int((~inside).sum()),
              **{g: int((gender == g).sum()) for g in ("female", "male", "cant_tell",
                                                         "not_a_face")},
              "age_given": int(sum(lab.age is not None for lab in kept))}
    return Sample(pos=pos, gender=gender,
                  age=np.array([np.nan if lab.age is None else lab.age for lab in kept]),
                  stratum=inverse[pos], share=np.bincount(inverse) / len(inverse),
                  strata_all=inverse, counts=counts, warnings=warnings)


def _check_sampling(labels: LabelsFile, keys: list[str], rows: np.ndarray,
                    design_strata: np.ndarray | None) -> list[str]:
    """Warnings about the design: none recorded, other results, not the recorded prefix."""
    s = labels.sampling
    if s is None:
        return [NO_SAMPLING_NOTE.format(file=labels.path.name)]
    out = []
    if s.results_fingerprint != results_fingerprint(keys):
        out.append(f"{labels.path.name} was drawn from other results (fingerprint "
                   f"{s.results_fingerprint}, these results {results_fingerprint(keys)}): faces "
                   "were added or removed since, so the labelled faces may not be a uniformly "
                   "random sample of these faces")
    order = sampling_order(keys, s.seed, design_strata)
    expected = set(order[:len(rows)].tolist())
    off = len(set(rows.tolist()) - expected)
    if off:
        out.append(f"{off} of the {len(rows)} labelled faces are not the first {len(rows)} "
                   f"of the sampling order (seed {s.seed}): faces were skipped or labelled out "
                   "of order, so the sample may not be uniformly random")
    return out


def _entry(sample: Sample, a, b, a_hat, b_hat, a_hat_all, b_hat_all, share_like: bool,
           lam: float | None = None) -> dict:
    """One estimate: PPI++ and labels-only, or why it is not available."""
    n_used = float(np.sum(b))
    if n_used < MIN_LABELS:
        return {"available": False, "n_labels": n_used,
                "reason": f"{n_used:.0f} usable labels; at least {MIN_LABELS} are needed"}
    has_mass = np.bincount(sample.strata_all, weights=b_hat_all,
                           minlength=len(sample.share)) > 0
    labelled = np.bincount(sample.stratum, minlength=len(sample.share)) > 0
    if np.any(has_mass & ~labelled):
        return {"available": False, "n_labels": n_used,
                "reason": "a sampling stratum holding some of these faces has no labels"}
    x = Labelled(a, b, a_hat, b_hat, sample.stratum)
    alone = ppi_ratio(x, a_hat_all, b_hat_all, sample.share, 0.0)
    if share_like and alone.estimate in (0.0, 1.0):
        return {"available": False, "n_labels": n_used,
                "reason": f"all {n_used:.0f} usable labels give the same answer: a normal "
                          "interval does not hold at 0% or 100% (by the rule of three, the "
                          f"share is within {3 / n_used:.0%} of it)"}
    ppi = ppi_ratio(x, a_hat_all, b_hat_all, sample.share, lam)
    clip = (lambda v: float(np.clip(v, 0.0, 1.0))) if share_like else float
    out = {"available": True, "estimate": clip(ppi.estimate),
           "ci95": [clip(ppi.ci95[0]), clip(ppi.ci95[1])], "se": ppi.se, "lambda": ppi.lam,
           "n_labels": n_used, "labels_only": {"estimate": clip(alone.estimate),
                                               "ci95": [clip(v) for v in alone.ci95],
                                               "se": alone.se}}
    if ppi.se > 0 and alone.se > 0:
        out["narrower_than_labels_only"] = 1.0 - ppi.se / alone.se
        out["labels_worth"] = n_used * (alone.se / ppi.se) ** 2
    return out


def labelled_estimates(faces: FaceData, sample: Sample, domain: np.ndarray | None = None
                       ) -> dict:
    """PPI estimates of every quantity the report gives, over the faces in ``domain``
    (float ``[N]`` membership, ``None``: all faces).

    Returns:
        ``{"female_share", "mean_age", "age_bands": {band: ...},
        "female_share_by_age_band": {band: ...}}``, each entry from :func:`_entry`.
    """
    n = len(faces)
    d_all = np.ones(n) if domain is None else np.asarray(domain, np.float64)
    d = d_all[sample.pos]
    # The calibrated P(female) predicts a label better than the 0/1 answer (on AAF it leaves
    # about a quarter less residual variance), so PPI uses it when the results have it.
    pred_f_all = faces.female.astype(np.float64) if faces.p_female is None else faces.p_female
    age_hat_all = faces.expected_age()
    mass_all = faces.band_mass()
    pred_f, age_hat, mass = pred_f_all[sample.pos], age_hat_all[sample.pos], mass_all[sample.pos]
    told = np.isin(sample.gender, ("female", "male")).astype(np.float64)
    female = (sample.gender == "female").astype(np.float64)
    aged = np.isfinite(sample.age).astype(np.float64)
    age = np.nan_to_num(sample.age)
    true_band = np.clip(np.searchsorted(BAND_EDGES, age, side="right") - 1, 0,
                        len(AGE_BANDS) - 1)

    def entry(a, b, a_hat, b_hat, a_hat_all, b_hat_all, share_like=True):
        return _entry(sample, a, b, a_hat, b_hat, a_hat_all, b_hat_all, share_like)

    def share_of_female(w, w_all):
        return entry(w * told * female, w * told, w * pred_f, w, w_all * pred_f_all, w_all)

    return {
        "female_share": share_of_female(d, d_all),
        "mean_age": entry(d * aged * age, d * aged, d * age_hat, d, d_all * age_hat_all, d_all,
                          share_like=False),
        "age_bands": {band: entry(d * aged * (true_band == j), d * aged, d * mass[:, j], d,
                                  d_all * mass_all[:, j], d_all)
                      for j, band in enumerate(AGE_BANDS)},
        "female_share_by_age_band": {
            band: share_of_female(d * mass[:, j], d_all * mass_all[:, j])
            for j, band in enumerate(AGE_BANDS)},
    }


def model_on_collection(faces: FaceData, sample: Sample) -> dict:
    """The model's accuracy, age MAE and mean age error measured on the labelled faces, and
    the share of detections that are not faces, each with its labels-only 95% interval."""
    n = len(faces)
    pred_f = faces.female.astype(np.float64)[sample.pos]
    told = np.isin(sample.gender, ("female", "male")).astype(np.float64)
    correct = told * (pred_f == (sample.gender == "female"))
    aged = np.isfinite(sample.age).astype(np.float64)
    err = np.nan_to_num(faces.age[sample.pos] - sample.age)
    mean_err = np.nan_to_num(faces.expected_age()[sample.pos] - sample.age)
    ones, ones_all, zero = np.ones(len(sample.pos)), np.ones(n), np.zeros(len(sample.pos))

    def alone(a, b, share_like=True):
        e = _entry(sample, a, b, zero, ones, np.zeros(n), ones_all, share_like, lam=0.0)
        if e["available"]:
            e.pop("labels_only")
            for k in ("lambda", "narrower_than_labels_only", "labels_worth"):
                e.pop(k, None)
        return e

    return {"gender_accuracy": alone(correct, told),
            "age_mae": alone(aged * np.abs(err), aged, share_like=False),
            "age_bias": alone(aged * mean_err, aged, share_like=False),
            "not_a_face_share": alone((sample.gender == "not_a_face").astype(float), ones)}


def trust_sentence(ppi_share: dict, dev_share: dict, ppi_age: dict, dev_age: dict,
                   warned: bool = False) -> str:
    """Which estimate to trust, in plain words (``warned``: the sample drew warnings)."""
    if not ppi_share["available"]:
        return ("The prediction-powered estimates are not available ("
                f"{ppi_share['reason']}): the report gives the dev-set correction, which holds "
                "only where the model errs on this collection as it does on the dev sets. "
                f"Label at least {MIN_LABELS} faces with `genderage label` to check it.")
    out = [f"Trust the prediction-powered estimates: they rest on {ppi_share['n_labels']:.0f} "
           "labels of this collection and hold whatever the model's errors here, as long as "
           "the labelled faces are a uniformly random sample and the labels are right."]
    if warned:
        out.append("Read the warnings first: they say why this sample may not be uniformly "
                   "random, and then no interval here can be trusted.")
    for name, ppi, dev, fmt in (("female share", ppi_share, dev_share, "{:.1%}"),
                                ("mean age", ppi_age, dev_age, "{:.1f}")):
        value = dev.get("estimate")
        if not ppi.get("available") or value is None:
            continue
        lo, hi = ppi["ci95"]
        inside = lo <= value <= hi
        out.append(f"The dev-set correction's {name} ({fmt.format(value)}) lies "
                   + ("inside the prediction-powered interval: the two agree." if inside else
                      "OUTSIDE the prediction-powered interval: the model errs differently "
                      "on this collection than on the dev sets, so do not use it here."))
    return " ".join(out)


def plan(faces: FaceData, counts: ConfusionCounts | None,
         half_widths=(0.01, 0.02, 0.03, 0.04, 0.05)) -> dict:
    """About how many labels give a female-share interval of +-``h``, from the model's
    measured gender error rates (``tpr``, ``fpr``) and the collection's predictions.

    With the true share ``p`` estimated by the dev-set correction and the model answering as
    its rates say, one face's label ``y`` and prediction ``y_hat`` have ``var(y) = p(1-p)``,
    ``cov(y, y_hat) = p tpr - p q`` and ``var(y_hat) = q(1-q)`` (``q = p tpr + (1-p) fpr``).
    With ``n`` labels of ``N`` faces, PPI++ has variance ``(var(y) - 2 lam cov + lam^2
    var(y_hat)) / n + lam^2 var(y_hat) / N``, least at ``lam = cov / ((1 + n/N) var(y_hat))``;
    labels alone have ``var(y) / n``. The number given is the least ``n`` whose interval is
    that narrow (``None``: more labels than faces). The "can't tell" and "not a face" labels
    are not counted: label a few more than the number given.
    """
    n_all = len(faces)
    naive = float(faces.female.mean())
    if counts is None:
        return {"available": False, "reason": "no measured error rates for this model"}
    p = float(adjusted_share(naive, counts.tpr, counts.fpr))
    q = p * counts.tpr + (1 - p) * counts.fpr
    var_y, var_hat, cov = p * (1 - p), q * (1 - q), p * counts.tpr - p * q
    n = np.arange(1, n_all + 1, dtype=np.float64)
    lam = np.clip(cov / (var_hat * (1 + n / n_all)), 0, 1) if var_hat > 0 else np.zeros_like(n)
    v_ppi = (var_y - 2 * lam * cov + lam ** 2 * var_hat) / n + lam ** 2 * var_hat / n_all
    v_alone = var_y / n

    def least(v, h):
        ok = np.flatnonzero(v <= (h / Z95) ** 2)
        return int(n[ok[0]]) if len(ok) else None

    rows = [{"half_width": h, "labels_ppi": least(v_ppi, h), "labels_only": least(v_alone, h)}
            for h in half_widths]
    return {"available": True, "n_faces": n_all, "share_assumed": p, "tpr": counts.tpr,
            "fpr": counts.fpr, "rows": rows,
            "rates_source": counts.source}


ESTIMATE_KEYS = ("n_faces_used", "female_share", "mean_age", "age_bands",
                 "female_share_by_age_band")


def add_labels(report: dict, results, used: np.ndarray, labels_path: str | Path,
               results_path: str | Path, by: str | None) -> dict:
    """``report`` with its estimates made from the labels where they are available.

    The dev-set estimates move under ``dev_set`` (and each ``--by`` group's under its own
    ``dev_set``); each estimate says which method made it (``method``: ``ppi``,
    ``dev_set_correction`` or ``naive``) and keeps its PPI details under ``ppi``; ``labels``
    holds the sample's counts, checks, the model's accuracy on it and which estimate to trust.

    Raises:
        FileNotFoundError, LabelsError: unusable labels file (the rows named).
    """
    from .table import read_results

    labels = read_labels(labels_path)
    if labels.sampling is not None and labels.sampling.unit != "face":
        raise LabelsError(f"{labels_path}: labels {labels.sampling.unit}s of a tracks table of "
                          f"`genderage video`, not faces of {results_path}")
    design = None
    if labels.sampling is not None and labels.sampling.by is not None:
        column = labels.sampling.by
        design = results.groups if column == by else read_results(results_path, column).groups
    keys = face_keys(results.face_paths, results.face_indices)
    sample = join_labels(labels, keys, used, design)
    for warning in sample.warnings:
        log.warning("%s", warning)
    faces = results.faces.subset(used)
    dev = {k: report[k] for k in ESTIMATE_KEYS}
    report.update(_merged(dev, labelled_estimates(faces, sample)))
    report["dev_set"] = dev
    if "by" in report:
        groups = results.groups[used]
        for value, group in report["by"]["groups"].items():
            dev_g = {k: group[k] for k in ESTIMATE_KEYS}
            group.update(_merged(dev_g, labelled_estimates(
                faces, sample, (groups == value).astype(np.float64))))
            group["dev_set"] = dev_g
    s = labels.sampling
    report["labels"] = {
        "file": str(labels_path), "counts": sample.counts, "min_labels": MIN_LABELS,
        "sampling": None if s is None else {
            "seed": s.seed, "by": s.by, "n": s.n, "results_fingerprint": s.results_fingerprint,
            "strata": int(len(sample.share))},
        "warnings": sample.warnings,
        "model_on_collection": model_on_collection(faces, sample),
        "trust": trust_sentence(report["female_share"]["ppi"], dev["female_share"],
                                report["mean_age"]["ppi"], dev["mean_age"],
                                warned=bool(sample.warnings)),
    }
    return report


def _merged(dev: dict, ppi: dict) -> dict:
    """The dev-set estimates with each replaced by its PPI estimate where available."""
    def one(entry: dict, p: dict, key: str = "estimate") -> dict:
        out = {**entry, "ppi": p}
        if p["available"]:
            out.update({key: p["estimate"], "ci95": p["ci95"], "method": "ppi"})
        else:
            out["method"] = "naive" if entry.get(key) is None else "dev_set_correction"
        return out

    return {"female_share": one(dev["female_share"], ppi["female_share"]),
            "mean_age": one(dev["mean_age"], ppi["mean_age"]),
            "age_bands": {b: one(dev["age_bands"][b], ppi["age_bands"][b], "share")
                          for b in AGE_BANDS},
            "female_share_by_age_band": {b: one(dev["female_share_by_age_band"][b],
                                                ppi["female_share_by_age_band"][b])
                                         for b in AGE_BANDS}}


def plan_text(results_path: str | Path, exclude_low_quality: bool = False,
              half_widths: tuple[float, ...] | None = None) -> str:
    """``genderage report --plan``: :func:`plan` for a results file, as a short table
    (``half_widths``: the intervals wanted, +-fractions; default +-1 to +-5 points)."""
    from .rates import lookup_rates
    from .table import read_results

    results = read_results(results_path)
    used = ~results.low_quality if exclude_low_quality else np.ones(len(results.faces), bool)
    faces = results.faces.subset(used)
    if len(faces) == 0:
        raise ValueError(f"{results_path}: no faces to plan for")
    rates = lookup_rates(results.model_sha256, None, results.flip_tta)
    if half_widths is not None and not all(0 < h < 0.5 for h in half_widths):
        raise ValueError(f"--width: expected 0 < POINTS < 50, got "
                         f"{', '.join(f'{100 * h:g}' for h in half_widths)}")
    out = plan(faces, rates.counts, *([half_widths] if half_widths else []))
    if not out["available"]:
        return f"no plan: {out['reason']} ({rates.note})"
    lines = [f"{out['n_faces']} faces; if the model errs as on its dev sets "
             f"(P(pred. female | female) {out['tpr']:.3f}, P(pred. female | male) "
             f"{out['fpr']:.3f}) and the female share is about {out['share_assumed']:.0%}:",
             "", "female share interval   labels (with the model)   labels alone",
             ]
    for row in out["rows"]:
        ppi, alone = (f"{v:>6}" if v is not None else "  more than the faces"
                      for v in (row["labels_ppi"], row["labels_only"]))
        lines.append(f"  +-{100 * row['half_width']:g} points{'':13}{ppi:<26}{alone}")
    lines += ["", "Where the model errs more on this collection than on the dev sets, more "
              "labels are needed; `genderage report --labels` says what the labels gave. Add a "
              "few for \"can't tell\" and \"not a face\" answers. Label with: genderage label "
              f"{results_path} --out LABELS.csv --n N"]
    return "\n".join(lines)
