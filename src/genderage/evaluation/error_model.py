"""A model's age and gender errors on labelled dev sets, in the form ``genderage report``
reads from the metrics bundle's ``error_model`` section (docs/report.md).

:func:`dev_set_errors` summarises one dev set from per-face arrays;
:func:`dev_set_faces` runs a model on the dev sets of a multi-source manifest (as the
error model, the risk-coverage table and the age-conditioned calibration are measured);
:func:`measure_error_model` makes the section from them (``tools/error_model.py``,
``tools/release_model.py`` and ``tools/quantize_model.py`` call it).

Ages are what the report uses: each face's mean of ``age_probs`` when given, else its point
age; estimated age bands are soft (each face weighted by its ``age_probs`` mass in the
band), true bands are the band of the labelled age. Female is the positive class.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..contract import gender_label
from ..data.split import ManifestRow
from ..models.bundle import Confusion, DevSetErrors, ErrorModelSection, MeanSE
from ..report.stats import AGE_BANDS, band_mass, expected_age
from .photos import LargestFaces, largest_faces

DEV_SETS = (  # name, source in the manifest, aligned chips?, description
    ("utkface_val", "utkface", True, "UTKFace val split, chips as aligned faces"),
    ("aaf_dev", "aaf", False, "AAF dev fold, photos through the full pipeline, largest face"),
)


def dev_set_errors(true_age: np.ndarray, true_female: np.ndarray, pred_female: np.ndarray,
                   age: np.ndarray, age_probs: np.ndarray | None = None,
                   images: int | None = None, description: str | None = None) -> DevSetErrors:
    """The error-model entry of one dev set (one face per labelled image).

    Args:
        true_age: labelled ages, years ``[N]``.
        true_female, pred_female: bool ``[N]``, labelled / predicted female.
        age: point ages ``[N]``; age_probs: ``[N, K]`` or ``None``.
        images, description: the labelled images the faces came from, and what the set is.

    Returns:
        ``n``; ``age_bias`` (mean, SE) of predicted - true; ``age_bias_by_true_band``; the
        gender confusion counts overall and per estimated band (soft); the true x estimated
        age-band matrix (soft counts).
    """
    true_age = np.asarray(true_age, np.float64)
    error = expected_age(age, age_probs) - true_age
    estimated = band_mass(age, age_probs)
    true_band = band_mass(true_age)
    return DevSetErrors(
        n=len(true_age), images=images, description=description,
        age_bias=MeanSE.of(error, with_n=False),
        age_bias_by_true_band={band: MeanSE.of(error[true_band[:, j] == 1])
                               for j, band in enumerate(AGE_BANDS)},
        gender_confusion=Confusion.count(true_female, pred_female),
        by_estimated_band=tuple(Confusion.count(true_female, pred_female, estimated[:, j])
                                for j in range(len(AGE_BANDS))),
        age_band_matrix={"rows": "true age band", "columns": "estimated age band (soft)",
                         "bands": list(AGE_BANDS), "counts": (true_band.T @ estimated).tolist()})


@dataclass(frozen=True)
class DevSetFaces:
    """One dev set run through a model as the product runs it: the largest face of each of
    its labelled images that has one.

    Attributes:
        images: the set's labelled images; rows: the manifest rows of those with a face.
    """

    name: str
    description: str
    images: int
    rows: list[ManifestRow]
    found: LargestFaces

    @property
    def true_age(self) -> np.ndarray:
        return np.array([r.age for r in self.rows], float)

    @property
    def true_female(self) -> np.ndarray:
        return np.array([gender_label(r.gender) == "female" for r in self.rows])


def dev_set_faces(analyzer, manifest: Path, roots: dict[str, Path]) -> list[DevSetFaces]:
    """Each dev set (:data:`DEV_SETS`) of the manifest's ``val`` split through ``analyzer``
    (a :class:`~genderage.pipeline.GenderAge`).

    Args:
        roots: the image folder of each manifest source (``{"utkface": ..., "aaf": ...}``).

    Raises:
        ValueError: a dev set missing from the manifest, or (almost) no faces found.
    """
    from ..data.split import read_manifest

    out = []
    for name, source, aligned, description in DEV_SETS:
        rows = read_manifest(manifest, "val", source)
        if not rows:
            raise ValueError(f"{manifest}: no {source} rows in split val")
        found = largest_faces(analyzer, [roots[source] / r.file for r in rows], aligned)
        if len(found.index) < 2:
            raise ValueError(f"{name}: a face in {len(found.index)} of {len(rows)} images "
                             f"under {roots[source]}; are the images there?")
        out.append(DevSetFaces(name, description, len(rows),
                               [rows[i] for i in found.index], found))
    return out


def measure_error_model(model: Path, manifest: Path, roots: dict[str, Path]
                        ) -> ErrorModelSection:
    """The ``error_model`` section (without ``command``) of ``model`` on the manifest's dev
    sets (:func:`dev_set_faces`), the model run as the product runs it (``GenderAge(model)``,
    default detector)."""
    from .. import __version__
    from ..data.split import manifest_hash
    from ..models import file_sha256
    from ..pipeline import GenderAge

    sets = {d.name: dev_set_errors(d.true_age, d.true_female, d.found.female, d.found.age,
                                   d.found.age_probs, d.images, d.description)
            for d in dev_set_faces(GenderAge(model), manifest, roots)}
    return ErrorModelSection(
        dev_sets=sets, model_sha256=file_sha256(model), genderage_version=__version__,
        flip_tta=False, age_bands=list(AGE_BANDS),
        age="each face's mean of age_probs (the report's age), else its point age",
        manifest=str(manifest), manifest_sha256=manifest_hash(manifest))
