"""Photo-set evaluation: the full pipeline (decode -> detect -> align -> model) on labelled
photos, e.g. All-Age-Faces (AAF). ``genderage evaluate --photos DIR --labels CSV``.

AAF's images are loose face crops of a population (mostly East Asian) the model never saw
in training. For each labelled image the largest detected face is scored; an image without
a detected face counts against the detection rate, not the accuracy.

Every measurement on labelled photos goes through the helpers here: :func:`load_labels`
(the labels, optionally one split of a manifest), :func:`largest_faces` (each photo's
largest face through the pipeline: the error model, risk-coverage, the release rule) and
:func:`largest_face_crops` (the aligned crop of each one, for running several models on the
same faces: the int8 check, research/eval_ensemble.py).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..contract import AGE_BANDS, GENDER_LABELS, age_band, band_name, gender_index
from ..data.aaf import AAFRecord, read_labels_file
from .metrics import gender_by_band, label_scores

log = logging.getLogger(__name__)


def load_labels(labels_csv: str | Path, limit: int | None = None,
                manifest: str | Path | None = None, split: str = "val") -> list[AAFRecord]:
    """The labelled photos of a ``file,age,gender`` CSV (:func:`~genderage.data.aaf.
    read_labels_file`); with ``manifest``, only the photos that are rows of its ``split``
    (e.g. the AAF dev fold of a multi-source manifest), in the manifest's order; with
    ``limit``, that many rows evenly spaced.

    Raises:
        ValueError: the manifest has none of these photos in ``split``.
    """
    rows = read_labels_file(labels_csv)
    if manifest is not None:
        from ..data.split import read_manifest

        by_file = {r.file: r for r in rows}
        rows = [by_file[r.file] for r in read_manifest(manifest, split) if r.file in by_file]
        if not rows:
            raise ValueError(f"{manifest}: none of {labels_csv}'s photos in split {split!r}")
    if limit and limit < len(rows):
        rows = rows[::len(rows) // limit][:limit]
    return rows


@dataclass(frozen=True)
class LargestFaces:
    """The largest face of each labelled photo that has one, from one pipeline run over the
    photos (the pipeline gives an image's faces largest first).

    Attributes:
        results: one :class:`~genderage.results.ImageResult` per photo, in order.
        index: int ``[M]``, the photos with a face.
        faces: their largest :class:`~genderage.results.Face` each.
        age_probs: ``[M, K]``, the model's age distribution of each of those faces; ``None``
            when the model has none.
    """

    results: list
    index: np.ndarray
    faces: list
    age_probs: np.ndarray | None

    @property
    def female(self) -> np.ndarray:
        """bool ``[M]``: the face is predicted female."""
        return np.array([f.gender == "female" for f in self.faces], bool)

    @property
    def p_female(self) -> np.ndarray:
        """``[M]`` calibrated P(female)."""
        return np.array([f.female_probability for f in self.faces], float)

    @property
    def age(self) -> np.ndarray:
        """``[M]`` point ages, years."""
        return np.array([f.age for f in self.faces], float)


def largest_faces(analyzer, paths: list, aligned: bool = False, batch: int = 64
                  ) -> LargestFaces:
    """Run ``analyzer`` (a :class:`~genderage.pipeline.GenderAge`) on ``paths``, ``batch``
    photos per model call (``aligned``: each photo is a face chip, no detection), and keep
    the largest face of each."""
    results, index, faces, probs = [], [], [], []
    for start in range(0, len(paths), batch):
        located = [analyzer.locate_image(p, aligned) for p in paths[start:start + batch]]
        chunk, out = analyzer.analyze(located)
        row = 0
        for i, result in enumerate(chunk):
            if result.faces:  # row `row` of the batch output is faces[0]
                index.append(start + i)
                faces.append(result.faces[0])
                probs.append(None if out.age_probs is None else out.age_probs[row])
            row += len(result.faces)
        results += chunk
    age_probs = None if not probs or probs[0] is None else np.stack(probs)
    return LargestFaces(results, np.array(index, int), faces, age_probs)


def largest_face_crops(photos_dir: str | Path, rows: list[AAFRecord], detector=None
                       ) -> tuple[list[AAFRecord], np.ndarray]:
    """The labelled photos in which ``detector`` (default: the default detector) finds a
    face, and the aligned uint8 ``[M, 112, 112, 3]`` RGB crop of each one's largest face
    (:func:`~genderage.align.align_face`, as the pipeline crops). An unreadable photo is
    logged and left out."""
    from ..align import align_face
    from ..data.aaf import largest_face
    from ..detect import create_detector
    from ..imageio import ImageDecodeError, read_image

    detector = create_detector(None) if detector is None else detector
    kept, crops = [], []
    for row in rows:
        try:
            rgb = read_image(Path(photos_dir) / row.file)
        except ImageDecodeError as exc:
            log.warning("skipping %s", exc)
            continue
        face = largest_face(detector.detect(rgb))
        if face is not None:
            kept.append(row)
            crops.append(align_face(rgb, face.landmarks))
    return kept, np.stack(crops)


def score(rows: list[AAFRecord], results) -> dict:
    """The report of a labelled photo set: for each image the first (largest) face.

    Args:
        rows: the labelled photos, as :func:`load_labels` gives them.
        results: one :class:`~genderage.results.ImageResult` per row.
    """
    ages, genders, pred_age, pred_gender, bands, low_q, p_female = [], [], [], [], [], [], []
    detected = errors = multi = 0
    for row, res in zip(rows, results):
        if res.error:
            errors += 1
            continue
        if not res.faces:
            continue
        detected += 1
        multi += len(res.faces) > 1
        face = res.faces[0]
        age = float(row.age)
        ages.append(age)
        genders.append(row.gender)
        pred_age.append(face.age)
        pred_gender.append(gender_index(face.gender))
        p_female.append(face.gender_probability if face.gender == "female"
                        else 1 - face.gender_probability)
        bands.append(age_band(int(round(age))))
        low_q.append(face.quality.low_quality)
    ages, pred_age = np.array(ages), np.array(pred_age)
    correct = np.array(genders) == np.array(pred_gender)
    abs_err = np.abs(pred_age - ages)
    bands, low_q, genders = np.array(bands), np.array(low_q, bool), np.array(genders)

    def group(mask) -> dict:
        return {"n": int(mask.sum()),
                "age_mae": round(float(abs_err[mask].mean()), 3) if mask.any() else None,
                "gender_accuracy": round(float(correct[mask].mean()), 4) if mask.any() else None}

    overall = label_scores(ages, genders, pred_age, pred_gender)
    return {
        "n": len(rows),
        "detected": detected,
        "decode_errors": errors,
        "images_with_several_faces": multi,
        "detection_rate": round(detected / max(1, len(rows)), 4),
        **{k: v for k, v in overall.items() if k != "n"},
        "age_by_group": {band_name(b): group(bands == b) for b in range(len(AGE_BANDS))},
        "by_gender": {label: group(genders == i) for i, label in enumerate(GENDER_LABELS)},
        "gender_by_age_band": gender_by_band(ages, genders, np.array(p_female)),
        "by_quality": {"ok": group(~low_q), "low_quality": group(low_q)},
    }


def evaluate_photos(analyzer, photos_dir: str | Path, rows: list[AAFRecord],
                    batch_size: int = 32, command: str | None = None) -> dict:
    """Run ``analyzer`` (a :class:`~genderage.pipeline.GenderAge`) on every labelled photo
    and score it (:func:`score`), with the command that ran it, the model, the detector and
    the time per image."""
    from ..detect.registry import describe_detector

    photos_dir = Path(photos_dir)
    t0 = time.perf_counter()
    found = largest_faces(analyzer, [photos_dir / r.file for r in rows], batch=batch_size)
    seconds = time.perf_counter() - t0
    report = score(rows, found.results)
    if command is not None:
        report["command"] = command
    report.update(model=str(analyzer.model.path), detector=analyzer.detector.name,
                  detector_settings=describe_detector(analyzer.detector),
                  flip_tta=analyzer.model.flip_tta,
                  ms_per_image=round(1000 * seconds / max(1, len(rows)), 1))
    return report
