"""The model's measured gender error rates, read from its metrics bundle.

A release ships ``<model>.metrics.json`` beside ``<model>.onnx`` (``genderage/models/``). The
bundle belongs to the model whose sha256 it records under ``model.sha256``; the results name
their model by the same hash, so the rates used are always those of the model that made the
predictions. The counts are the confusion matrix on the held-out UTKFace validation split
(``utkface_val.gender.confusion_matrix``).

A bundle may also carry an ``error_model`` section (written by ``tools/error_model.py``): the
model's mean age error and its gender confusion per estimated age band, measured on each of
several dev sets (populations). The report corrects the mean age and the female share per
age band with it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..models.bundle import BundleError, MetricsBundle, shipped_bundles
from .stats import AGE_BANDS, AgeBias, ConfusionCounts, between_set_rate_sd

log = logging.getLogger(__name__)

MIN_BAND_CLASS_FACES = 20.0
"""A band's own gender rates are used only when its pooled dev-set counts hold at least this
many faces' weight of each label; otherwise that band takes the overall rates."""


@dataclass(frozen=True)
class ErrorModel:
    """The model's errors measured on dev sets: the bundle's ``error_model`` section.

    Attributes:
        age_bias: the mean age error (predicted - true) of each dev set.
        band_counts: gender confusion counts per estimated age band (soft counts: each face
            weighted by its predicted probability of lying in the band), pooled over the dev
            sets; ``None`` for a band with too few faces (it takes the overall rates).
        source: where it comes from (for the report).
    """

    age_bias: AgeBias
    band_counts: tuple[ConfusionCounts | None, ...]
    source: str
    rate_sd: float = 0.0
    """Between-population SD of the band rates, logit scale (:func:`between_set_rate_sd`)."""


@dataclass(frozen=True)
class Rates:
    """The outcome of looking up a model's error rates.

    Attributes:
        counts: the confusion counts, or ``None`` when none were found.
        note: where the counts come from, or why there are none (shown in the report).
        age_bias: the model's mean age error (predicted - true, years) on held-out sets,
            ``{"utkface_val": ..., "aaf": ...}``, the keys the bundle measured.
        errors: the bundle's error model, or ``None`` (no correction of the mean age nor
            per-band rates).
        errors_note: where the error model comes from, or why there is none.
    """

    counts: ConfusionCounts | None
    note: str
    age_bias: dict = field(default_factory=dict)
    errors: ErrorModel | None = None
    errors_note: str = "no metrics bundle: no error model"


def counts_from_bundle(bundle: MetricsBundle, name: str, flip_tta: bool = False
                       ) -> ConfusionCounts | None:
    """The female/male validation confusion counts of a bundle, or ``None`` if it has none.

    Args:
        flip_tta: the counts measured with mirror test-time augmentation
            (``flip_tta_mode.utkface_val``) instead of the default mode (``utkface_val``).
    """
    cm = bundle.validation_confusion(flip_tta)
    if cm is None:
        return None
    key = "flip_tta_mode.utkface_val" if flip_tta else "utkface_val"
    return ConfusionCounts(tp=int(cm.tp), fn=int(cm.fn), fp=int(cm.fp), tn=int(cm.tn),
                           source=f"{name}: {key}.gender.confusion_matrix")


def error_model_from_bundle(bundle: MetricsBundle, name: str) -> ErrorModel | None:
    """The bundle's error model, pooled over its dev sets; ``None`` when it has none.

    Raises:
        BundleError: the section is there but malformed (the message names ``name``).
    """
    section = bundle.error_model(name)
    if section is None:
        return None
    per_set = [[ConfusionCounts(tp=float(c.tp), fn=float(c.fn), fp=float(c.fp),
                                tn=float(c.tn), source=name) for c in dev.by_estimated_band]
               for dev in section.dev_sets.values()]
    sets = section.dev_sets
    source = f"{name}: error_model ({', '.join(sets)})"
    bias = AgeBias(tuple(float(d.age_bias.mean) for d in sets.values()),
                   tuple(float(d.age_bias.se) for d in sets.values()), tuple(sets))
    return ErrorModel(bias, pooled_band_counts(per_set, source), source,
                      between_set_rate_sd(per_set))


def pooled_band_counts(per_set: list[list[ConfusionCounts]], source: str
                       ) -> tuple[ConfusionCounts | None, ...]:
    """Per band, the sum of the dev sets' counts; ``None`` where the pooled counts hold fewer
    than :data:`MIN_BAND_CLASS_FACES` of either label or do not rank female above male
    (``tpr <= fpr``): that band takes the overall rates."""
    out = []
    for j, band in enumerate(AGE_BANDS):
        tp, fn, fp, tn = (sum(getattr(s[j], k) for s in per_set) for k in ("tp", "fn", "fp", "tn"))
        counts = ConfusionCounts(tp=tp, fn=fn, fp=fp, tn=tn,
                                 source=f"{source}, estimated age {band}")
        usable = min(tp + fn, fp + tn) >= MIN_BAND_CLASS_FACES and counts.tpr > counts.fpr
        out.append(counts if usable else None)
    return tuple(out)


def lookup_rates(model_sha256: str | None, bundles: list[Path] | None = None,
                 flip_tta: bool = False) -> Rates:
    """Find the confusion counts of the model with this sha256 among ``bundles``.

    Args:
        model_sha256: the hash recorded in the results; ``None`` if they record none.
        bundles: bundle files to search; ``None`` for the shipped ones.
        flip_tta: the results were made with mirror test-time augmentation.
    """
    if not model_sha256:
        return Rates(None, "the results name no model (no model_sha256): naive shares only")
    for path in shipped_bundles() if bundles is None else bundles:
        try:
            bundle = MetricsBundle.read(path)
        except BundleError as exc:
            log.warning("%s", exc)
            continue
        if bundle.model_sha256 != model_sha256:
            continue
        counts = counts_from_bundle(bundle, Path(path).name, flip_tta)
        bias = bundle.age_biases()
        errors, errors_note = _errors(bundle, Path(path), flip_tta)
        if counts is None:
            mode = " for flip-TTA results" if flip_tta else ""
            return Rates(None, f"{Path(path).name} has no gender confusion matrix{mode}: "
                               "naive shares only", bias, errors, errors_note)
        return Rates(counts, counts.source, bias, errors, errors_note)
    return Rates(None, f"no metrics bundle for model sha256 {model_sha256[:16]}...: "
                       "its error rates are unknown, naive shares only",
                 errors_note="no metrics bundle for the model: no error model")


def _errors(bundle: MetricsBundle, path: Path, flip_tta: bool) -> tuple[ErrorModel | None, str]:
    """The bundle's error model and the note the report shows; a malformed section is
    logged and left out (the report then corrects nothing with it)."""
    uncorrected = ("the mean age is not corrected for the model's age bias and the female "
                   "share per age band uses the overall rates")
    try:
        errors = error_model_from_bundle(bundle, path.name)
    except BundleError as exc:
        log.warning("%s (%s); %s", exc, path, uncorrected)
        return None, f"{exc}: {uncorrected}"
    if errors is None:
        return None, f"{path.name} has no error_model section: {uncorrected}"
    if flip_tta and bundle.error_model(path.name).flip_tta is not True:
        return None, (f"{path.name}: the error model was measured without flip-TTA, these "
                      f"results used it: {uncorrected}")
    return errors, errors.source
