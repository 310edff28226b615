"""The metrics bundle: ``<model>.metrics.json`` beside a model file, the one format a model's
measured figures travel in. The release tools write it, the model card renders it and
``genderage report`` takes the model's error rates from it.

This module is its only reader and writer: :meth:`MetricsBundle.read` and
:meth:`MetricsBundle.write` (atomic, ``indent=2`` JSON). The sections two parts of the
package exchange are typed here: the gender confusion counts (:class:`Confusion`, the form of
``utkface_val.gender.confusion_matrix`` and of every matrix of the error model) and the error
model (:class:`ErrorModelSection`: per dev set, :class:`DevSetErrors`). The other sections
(``model``, ``data``, ``training``, ``calibration``, ``utkface_val``, ``aaf``...) are kept as
the JSON they are, in file order, so a bundle read and written back is the same bytes.

A bundle belongs to the model whose sha256 it records under ``model.sha256``
(:attr:`MetricsBundle.model_sha256`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from ..contract import AGE_BANDS, GENDER_LABELS, band_name
from ..outputs import write_atomic

BANDS = tuple(band_name(i) for i in range(len(AGE_BANDS)))
"""The estimated-age bands of the error model, in order: ``"0-17"`` ... ``"70+"``."""

MODELS_DIR = Path(__file__).resolve().parent


class BundleError(ValueError):
    """A metrics bundle, or one of its sections, cannot be read (the message names the file
    and the key)."""


def shipped_bundles() -> list[Path]:
    """The metrics bundles shipped inside the package."""
    return sorted(MODELS_DIR.glob("*.metrics.json"))


def _number(value, where: str, lowest: float | None = None, strict: bool = False) -> float:
    """``value`` as a float; a bool, a non-number, NaN, infinity or a value below ``lowest``
    (at or below it when ``strict``) is a :class:`BundleError` naming ``where``."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and lowest is not None:
        ok = value > lowest if strict else value >= lowest
    if not ok:
        bound = "" if lowest is None else f" {'>' if strict else '>='} {lowest:g}"
        raise BundleError(f"{where} is {value!r}, expected a finite number{bound}")
    return float(value)


@dataclass(frozen=True)
class Confusion:
    """Gender confusion counts: ``rows_true[t][p]`` faces of true label ``t`` predicted ``p``,
    female first (``[[ff, fm], [mf, mm]]``). Counts are ints, or floats when soft (sums of
    weights). Female is the positive class of :attr:`tp` ... :attr:`tn`."""

    rows_true: tuple[tuple[float, float], tuple[float, float]]

    @classmethod
    def count(cls, true_female, pred_female, weight=None) -> Confusion:
        """The counts of bool ``[N]`` labels and predictions, each face counting ``weight``
        (``[N]``; default 1, which gives int counts)."""
        w = np.ones(len(true_female)) if weight is None else np.asarray(weight, np.float64)
        t, p = np.asarray(true_female, bool), np.asarray(pred_female, bool)
        rows = [[float(w[(t == a) & (p == b)].sum()) for b in (True, False)]
                for a in (True, False)]
        if weight is None:
            rows = [[int(v) for v in row] for row in rows]
        return cls((tuple(rows[0]), tuple(rows[1])))

    @property
    def tp(self) -> float:
        return self.rows_true[0][0]

    @property
    def fn(self) -> float:
        return self.rows_true[0][1]

    @property
    def fp(self) -> float:
        return self.rows_true[1][0]

    @property
    def tn(self) -> float:
        return self.rows_true[1][1]

    def to_dict(self) -> dict:
        """``{"labels": ["female", "male"], "rows_true": [[ff, fm], [mf, mm]]}``."""
        return {"labels": list(GENDER_LABELS), "rows_true": [list(r) for r in self.rows_true]}

    @classmethod
    def from_dict(cls, d, where: str) -> Confusion:
        """Read ``{"labels", "rows_true"}`` in any label order.

        Raises:
            BundleError: not a female/male matrix, or a count that is not a finite number
                >= 0 (the message names ``where``).
        """
        try:
            labels, rows = d["labels"], d["rows_true"]
            f, m = labels.index("female"), labels.index("male")
            cells = [[rows[i][j] for j in (f, m)] for i in (f, m)]
        except (KeyError, ValueError, IndexError, TypeError, AttributeError):
            raise BundleError(f"{where} is not a female/male confusion matrix "
                              "({labels, rows_true})") from None
        for row in cells:
            for v in row:
                _number(v, where, 0.0)
        return cls((tuple(cells[0]), tuple(cells[1])))


@dataclass(frozen=True)
class MeanSE:
    """A mean and its standard error over ``n`` values (``None`` where undefined)."""

    mean: float | None
    se: float | None
    n: int | None = None

    def to_dict(self) -> dict:
        """``{"n", "mean", "se"}``, without ``n`` when it is ``None``."""
        return {**({} if self.n is None else {"n": self.n}), "mean": self.mean, "se": self.se}

    @classmethod
    def of(cls, values: np.ndarray, with_n: bool = True) -> MeanSE:
        """Mean and SE (sample SD / sqrt(n)) of ``values``; ``se`` is ``None`` for fewer than
        two values, ``mean`` too for none."""
        n = len(values)
        return cls(float(values.mean()) if n else None,
                   float(values.std(ddof=1) / np.sqrt(n)) if n > 1 else None,
                   n if with_n else None)


@dataclass(frozen=True)
class DevSetErrors:
    """The errors of a model on one labelled dev set (one face per labelled image), as the
    report uses them.

    Attributes:
        age_bias: mean (and SE) of predicted - true age, years.
        by_estimated_band: gender confusion per estimated age band (:data:`BANDS` order), soft
            counts: each face weighted by its predicted mass in the band.
        n: faces scored; images: labelled images; description: what the set is.
        age_bias_by_true_band: ``{band: MeanSE}`` by band of true age.
        gender_confusion: the overall counts.
        age_band_matrix: ``{"rows", "columns", "bands", "counts"}``, true x estimated band.
    """

    age_bias: MeanSE
    by_estimated_band: tuple[Confusion, ...]
    n: int | None = None
    images: int | None = None
    description: str | None = None
    age_bias_by_true_band: dict[str, MeanSE] | None = None
    gender_confusion: Confusion | None = None
    age_band_matrix: dict | None = None

    def to_dict(self) -> dict:
        out = {k: v for k, v in (("description", self.description), ("images", self.images),
                                 ("n", self.n)) if v is not None}
        out["age_bias"] = self.age_bias.to_dict()
        if self.age_bias_by_true_band is not None:
            out["age_bias_by_true_band"] = {b: m.to_dict()
                                            for b, m in self.age_bias_by_true_band.items()}
        if self.gender_confusion is not None:
            out["gender_confusion"] = self.gender_confusion.to_dict()
        out["gender_confusion_by_estimated_band"] = {
            band: c.to_dict() for band, c in zip(BANDS, self.by_estimated_band)}
        if self.age_band_matrix is not None:
            out["age_band_matrix"] = self.age_band_matrix
        return out

    @classmethod
    def from_dict(cls, d, where: str) -> DevSetErrors:
        """Raises :class:`BundleError` naming ``where`` when the parts the report uses (age
        bias, a finite SE > 0, a confusion matrix per band) are missing or malformed."""
        try:
            bias, se = d["age_bias"]["mean"], d["age_bias"]["se"]
            by_band = d["gender_confusion_by_estimated_band"]
            matrices = [by_band[band] for band in BANDS]
        except (KeyError, TypeError) as exc:
            raise BundleError(f"{where} lacks {exc}") from None
        _number(bias, f"{where}.age_bias.mean")
        _number(se, f"{where}.age_bias.se", 0.0, strict=True)
        by_true = d.get("age_bias_by_true_band")
        if by_true is not None:
            try:
                by_true = {b: MeanSE(m["mean"], m["se"], m["n"]) for b, m in by_true.items()}
            except (AttributeError, KeyError, TypeError):
                raise BundleError(f"{where}.age_bias_by_true_band is not {{band: {{n, mean, "
                                  "se}}}") from None
        overall = d.get("gender_confusion")
        return cls(
            age_bias=MeanSE(bias, se),  # as written, so that a round trip keeps the bytes
            by_estimated_band=tuple(
                Confusion.from_dict(m, f"{where}.gender_confusion_by_estimated_band.{band}")
                for band, m in zip(BANDS, matrices)),
            n=d.get("n"), images=d.get("images"), description=d.get("description"),
            age_bias_by_true_band=by_true,
            gender_confusion=None if overall is None else
            Confusion.from_dict(overall, f"{where}.gender_confusion"),
            age_band_matrix=d.get("age_band_matrix"))


@dataclass(frozen=True)
class ErrorModelSection:
    """The bundle's ``error_model``: a model's errors on each of several dev sets
    (populations), with how and on what they were measured (``tools/error_model.py``)."""

    dev_sets: dict[str, DevSetErrors]
    model_sha256: str | None = None
    genderage_version: str | None = None
    flip_tta: bool | None = None
    age_bands: list[str] | None = None
    age: str | None = None
    """Which age the errors are of (the report's: each face's mean of ``age_probs``)."""
    manifest: str | None = None
    manifest_sha256: str | None = None
    command: str | None = None

    def to_dict(self) -> dict:
        out = {}
        for f in fields(self):  # declaration order, ``dev_sets`` placed before ``command``
            if f.name == "dev_sets":
                continue
            if f.name == "command":
                out["dev_sets"] = {k: v.to_dict() for k, v in self.dev_sets.items()}
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, section, name: str) -> ErrorModelSection:
        """Raises :class:`BundleError` (naming the file ``name``) when the section is
        malformed."""
        sets = section.get("dev_sets") if isinstance(section, dict) else None
        if not isinstance(sets, dict) or not sets:
            raise BundleError(f"{name}: error_model has no dev_sets")
        known = {f.name for f in fields(cls)} - {"dev_sets"}
        return cls(dev_sets={k: DevSetErrors.from_dict(v, f"{name}: error_model.dev_sets.{k}")
                             for k, v in sets.items()},
                   **{k: v for k, v in section.items() if k in known})


@dataclass(frozen=True)
class MetricsBundle:
    """A model's metrics bundle: its top-level sections as JSON, in file order; the typed
    views :attr:`error_model` and :meth:`validation_confusion` read the sections the report
    uses."""

    sections: dict = field(default_factory=dict)

    @classmethod
    def read(cls, path: str | Path) -> MetricsBundle:
        """Raises :class:`BundleError` naming ``path`` when it cannot be read or is not a
        JSON object."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise BundleError(f"{path}: unreadable metrics bundle ({exc})") from None
        if not isinstance(data, dict):
            raise BundleError(f"{path}: unreadable metrics bundle (not a JSON object)")
        return cls(data)

    def to_json(self) -> str:
        return json.dumps(self.sections, indent=2) + "\n"

    def write(self, path: str | Path) -> None:
        """Write the bundle to ``path`` atomically."""
        write_atomic(path, self.to_json())

    def replace(self, **sections) -> MetricsBundle:
        """A copy with these sections set (typed ones as their dicts; an existing key keeps
        its place, a new one goes last) or, given ``None``, removed."""
        out = dict(self.sections)
        for key, value in sections.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = value.to_dict() if hasattr(value, "to_dict") else value
        return MetricsBundle(out)

    @property
    def model_sha256(self) -> str | None:
        model = self.sections.get("model")
        return model.get("sha256") if isinstance(model, dict) else None

    def error_model(self, name: str = "bundle") -> ErrorModelSection | None:
        """The ``error_model`` section, ``None`` when there is none.

        Raises:
            BundleError: the section is there but malformed (the message names ``name``).
        """
        section = self.sections.get("error_model")
        return None if section is None else ErrorModelSection.from_dict(section, name)

    def validation_confusion(self, flip_tta: bool = False) -> Confusion | None:
        """The gender confusion counts on the UTKFace validation split
        (``utkface_val.gender.confusion_matrix``; with ``flip_tta``, those of the mirror
        test-time-augmentation mode under ``flip_tta_mode``), ``None`` if missing or
        malformed."""
        section = self.sections
        try:
            for part in (("flip_tta_mode", "utkface_val") if flip_tta else ("utkface_val",)):
                section = section[part]
            return Confusion.from_dict(section["gender"]["confusion_matrix"], "")
        except (KeyError, TypeError, BundleError):
            return None

    def age_biases(self) -> dict[str, float]:
        """The mean age errors the bundle records: ``utkface_val.age.bias`` and
        ``aaf.age_bias``, by those names."""
        found = {"utkface_val": (self.sections.get("utkface_val") or {}).get("age", {}).get("bias"),
                 "aaf": (self.sections.get("aaf") or {}).get("age_bias")}
        return {k: float(v) for k, v in found.items() if v is not None}


def read_model_bundle(path: str | Path, model: str | Path) -> MetricsBundle:
    """The bundle at ``path``, which must record the sha256 of the file ``model``.

    Raises:
        BundleError: it cannot be read, or it belongs to another model (naming both).
    """
    from . import file_sha256

    bundle = MetricsBundle.read(path)
    if bundle.model_sha256 != file_sha256(model):
        raise BundleError(f"{path}: records model sha256 {bundle.model_sha256}, not that of "
                          f"{model}")
    return bundle


def find_bundle(model_sha256: str, paths: list[Path] | None = None
                ) -> tuple[Path, MetricsBundle] | None:
    """The first readable bundle among ``paths`` (default: the shipped ones) recording
    ``model_sha256``, with its path; ``None`` if there is none."""
    for path in shipped_bundles() if paths is None else paths:
        try:
            bundle = MetricsBundle.read(path)
        except BundleError:
            continue
        if bundle.model_sha256 == model_sha256:
            return Path(path), bundle
    return None
