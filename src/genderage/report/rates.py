"""The model's measured gender error rates, read from its metrics bundle.

A release ships ``<model>.metrics.json`` beside ``<model>.onnx`` (``genderage/models/``). The
bundle belongs to the model whose sha256 it records under ``model.sha256``; the results name
their model by the same hash, so the rates used are always those of the model that made the
predictions. The counts are the confusion matrix on the held-out UTKFace validation split
(``utkface_val.gender.confusion_matrix``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from .stats import ConfusionCounts

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"


@dataclass(frozen=True)
class Rates:
    """The outcome of looking up a model's error rates.

    Attributes:
        counts: the confusion counts, or ``None`` when none were found.
        note: where the counts come from, or why there are none (shown in the report).
        age_bias: the model's mean age error (predicted - true, years) on held-out sets,
            ``{"utkface_val": ..., "aaf": ...}``, the keys the bundle measured.
    """

    counts: ConfusionCounts | None
    note: str
    age_bias: dict = field(default_factory=dict)


def shipped_bundles() -> list[Path]:
    """The metrics bundles shipped inside the package."""
    return sorted(MODELS_DIR.glob("*.metrics.json"))


def counts_from_bundle(bundle: dict, name: str, flip_tta: bool = False
                       ) -> ConfusionCounts | None:
    """The female/male validation confusion counts of a bundle, or ``None`` if it has none.

    Args:
        flip_tta: the counts measured with mirror test-time augmentation
            (``flip_tta_mode.utkface_val``) instead of the default mode (``utkface_val``).
    """
    key = ("flip_tta_mode", "utkface_val") if flip_tta else ("utkface_val",)
    try:
        section = bundle
        for part in key:
            section = section[part]
        cm = section["gender"]["confusion_matrix"]
        labels, rows = cm["labels"], cm["rows_true"]
        f, m = labels.index("female"), labels.index("male")
        return ConfusionCounts(tp=int(rows[f][f]), fn=int(rows[f][m]), fp=int(rows[m][f]),
                               tn=int(rows[m][m]),
                               source=f"{name}: {'.'.join(key)}.gender.confusion_matrix")
    except (KeyError, ValueError, IndexError, TypeError):
        return None


def age_bias_from_bundle(bundle: dict) -> dict:
    """The mean age errors a bundle records: ``utkface_val.age.bias`` and ``aaf.age_bias``."""
    found = {"utkface_val": bundle.get("utkface_val", {}).get("age", {}).get("bias"),
             "aaf": bundle.get("aaf", {}).get("age_bias")}
    return {k: float(v) for k, v in found.items() if v is not None}


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
            bundle = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            log.warning("%s: unreadable metrics bundle (%s)", path, exc)
            continue
        if bundle.get("model", {}).get("sha256") != model_sha256:
            continue
        counts = counts_from_bundle(bundle, Path(path).name, flip_tta)
        bias = age_bias_from_bundle(bundle)
        if counts is None:
            mode = " for flip-TTA results" if flip_tta else ""
            return Rates(None, f"{Path(path).name} has no gender confusion matrix{mode}: "
                               "naive shares only", bias)
        return Rates(counts, counts.source, bias)
    return Rates(None, f"no metrics bundle for model sha256 {model_sha256[:16]}...: "
                       "its error rates are unknown, naive shares only")
