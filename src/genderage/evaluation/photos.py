"""Photo-set evaluation: the full pipeline (decode -> detect -> align -> model) on labelled
photos, e.g. All-Age-Faces (AAF). ``genderage evaluate --photos DIR --labels CSV``.

AAF's images are loose face crops of a population (mostly East Asian) the model never saw
in training. For each labelled image the largest detected face is scored; an image without
a detected face counts against the detection rate, not the accuracy.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np

from ..contract import AGE_BANDS, GENDER_LABELS, age_band, band_name, gender_index
from .metrics import gender_by_band


def load_labels(labels_csv: str | Path, limit: int | None = None,
                manifest: str | Path | None = None, split: str = "val") -> list[dict]:
    """Rows of a ``file,age,gender`` CSV (``file`` relative to the photo folder); with
    ``manifest``, only the photos that are rows of its ``split`` (e.g. the AAF dev fold of
    a multi-source manifest), in the manifest's order; with ``limit``, that many rows evenly
    spaced.

    Raises:
        ValueError: the manifest has none of these photos in ``split``.
    """
    with open(labels_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    if manifest is not None:
        from ..data.split import read_manifest

        by_file = {r["file"]: r for r in rows}
        rows = [by_file[r.file] for r in read_manifest(manifest, split) if r.file in by_file]
        if not rows:
            raise ValueError(f"{manifest}: none of {labels_csv}'s photos in split {split!r}")
    if limit and limit < len(rows):
        rows = rows[::len(rows) // limit][:limit]
    return rows


def score(rows, results) -> dict:
    """The report of a labelled photo set: for each image the first (largest) face.

    Args:
        rows: label rows (``age``, ``gender`` as ``female``/``male``), as :func:`load_labels`.
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
        age = float(row["age"])
        ages.append(age)
        genders.append(gender_index(row["gender"]))
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

    return {
        "n": len(rows),
        "detected": detected,
        "decode_errors": errors,
        "images_with_several_faces": multi,
        "detection_rate": round(detected / max(1, len(rows)), 4),
        "gender_accuracy": round(float(correct.mean()), 4),
        "age_mae": round(float(abs_err.mean()), 3),
        "age_bias": round(float((pred_age - ages).mean()), 3),
        "within_5": round(float((abs_err <= 5).mean()), 4),
        "age_by_group": {band_name(b): group(bands == b) for b in range(len(AGE_BANDS))},
        "by_gender": {label: group(genders == i) for i, label in enumerate(GENDER_LABELS)},
        "gender_by_age_band": gender_by_band(ages, genders, np.array(p_female)),
        "by_quality": {"ok": group(~low_q), "low_quality": group(low_q)},
    }


def evaluate_photos(analyzer, photos_dir: str | Path, rows: list[dict], batch_size: int = 32,
                    command: str | None = None) -> dict:
    """Run ``analyzer`` (a :class:`~genderage.pipeline.GenderAge`) on every labelled photo
    and score it (:func:`score`), with the command that ran it, the model, the detector and
    the time per image."""
    photos_dir = Path(photos_dir)
    t0 = time.perf_counter()
    results = []
    for i in range(0, len(rows), batch_size):
        chunk = rows[i:i + batch_size]
        results += analyzer.predict_batch([photos_dir / r["file"] for r in chunk])
    seconds = time.perf_counter() - t0
    report = score(rows, results)
    if command is not None:
        report["command"] = command
    report.update(model=str(analyzer.model.path), detector=analyzer.detector.name,
                  flip_tta=analyzer.model.flip_tta,
                  ms_per_image=round(1000 * seconds / max(1, len(rows)), 1))
    return report
