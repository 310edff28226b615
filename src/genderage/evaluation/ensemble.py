"""Models alone and averaged together, on UTKFace validation chips and on a labelled photo set.

A ceiling check, not a product feature: how far would averaging several independently
trained models (and optionally each face's mirror image) take gender accuracy and age MAE?
Each model's raw ``output`` (``[logit_female, logit_male, age/100]``) is averaged over the
models; the gender is the larger averaged logit, the age the averaged age.

Faces are made exactly as the product makes them: chips through ``preprocess.resize_face``
(as ``genderage evaluate --data``), photos through the default detector (largest face) and
``align.align_face`` (as ``genderage evaluate --photos``), so a single model's figures equal
those two commands'. The photos' crops are computed once and kept in a cache file.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from ..attribute import MAX_AGE, AttributeModel
from ..contract import AGE_SCALE, DEFAULT_PREPROCESSING, age_band
from ..outputs import replacing
from .evaluate import dataset_rows, load_faces_plain
from .metrics import label_scores
from .photos import largest_face_crops, load_labels


def photo_crops(photos_dir: Path, labels_csv: Path, cache: Path
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Aligned crops of the largest face of every labelled photo, with true ages and
    genders (model indices), and the number of labelled photos."""
    rows = load_labels(labels_csv)
    if cache.is_file():
        d = np.load(cache)
        if int(d["n_images"]) == len(rows):
            return d["crops"], d["age"], d["gender"], len(rows)
    kept, crops = largest_face_crops(photos_dir, rows)
    ages = np.array([float(r.age) for r in kept])
    genders = np.array([r.gender for r in kept])
    with replacing(cache) as tmp:
        np.savez(tmp, crops=crops, age=ages, gender=genders, n_images=len(rows))
    return crops, ages, genders, len(rows)


def raw_outputs(model, faces: np.ndarray, batch: int = 256) -> np.ndarray:
    """``[N, 3]`` raw first outputs (mirror-averaged when the model was built with it)."""
    outs = [model.predict(faces[i:i + batch]).logits for i in range(0, len(faces), batch)]
    return np.concatenate(outs).astype(np.float64)


def scores(out: np.ndarray, age: np.ndarray, gender: np.ndarray) -> dict:
    """Gender accuracy (with its standard error), age MAE, bias and within-5 of raw outputs
    (:func:`~genderage.evaluation.metrics.label_scores`), and gender accuracy aged 0-17."""
    pred_gender = out[:, :2].argmax(1)
    correct = pred_gender == gender
    child = np.array([age_band(round(a)) == 0 for a in age], bool)
    return {**label_scores(age, gender, np.clip(out[:, 2] * AGE_SCALE, 0, MAX_AGE), pred_gender),
            "gender_se": round(float(np.sqrt(correct.mean() * (1 - correct.mean()) / len(age))), 4),
            "gender_accuracy_0_17": round(float(correct[child].mean()), 4) if child.any()
            else None}


def evaluate_ensemble(models: list[Path], data_dir: Path, manifest: Path, photos_dir: Path,
                      labels_csv: Path, photo_cache: Path, flip_tta: bool = False) -> dict:
    """Scores of each model and of their average, on the manifest's ``val`` chips and on the
    photo set (key ``aaf``, the set it was written for)."""
    rows = dataset_rows(data_dir, manifest, "val")
    val = load_faces_plain(data_dir, rows)
    val_age = np.array([r.age for r in rows], float)
    val_gender = np.array([r.gender for r in rows])
    crops, aaf_age, aaf_gender, n_images = photo_crops(photos_dir, labels_csv, photo_cache)

    outputs = []
    for path in models:
        model = AttributeModel(path, flip_tta=flip_tta)
        # the crops are made once for all models: each may have its own colour order and
        # value range (predict applies them), not its own crop geometry
        if replace(model.preprocessing, color="RGB", value_range=(0.0, 1.0)) \
                != DEFAULT_PREPROCESSING:
            raise ValueError(f"{path}: its crop geometry is not the default one")
        outputs.append((raw_outputs(model, val), raw_outputs(model, crops)))
    report = {"flip_tta": flip_tta, "aaf_images": n_images, "aaf_detected": len(crops),
              "models": []}
    for path, (v, a) in zip(models, outputs):
        report["models"].append({"model": str(path),
                                 "utkface_val": scores(v, val_age, val_gender),
                                 "aaf": scores(a, aaf_age, aaf_gender)})
    if len(outputs) > 1:
        v = np.mean([o[0] for o in outputs], axis=0)
        a = np.mean([o[1] for o in outputs], axis=0)
        report["average"] = {"utkface_val": scores(v, val_age, val_gender),
                             "aaf": scores(a, aaf_age, aaf_gender)}
    return report
