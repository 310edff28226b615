"""Score models alone and averaged together, on UTKFace validation and on AAF, in one pass.

The ceiling check of docs/experiments (see research/README.md): how far would averaging
several independently trained models (and optionally each face's mirror image) take gender
accuracy and age MAE? Each model's raw ``output`` (``[logit_female, logit_male, age/100]``)
is averaged over the models; the gender is the larger averaged logit, the age the averaged
age.

Faces are made exactly as the product makes them: chips through ``preprocess.resize_face``
(as ``genderage evaluate --data``), photos through the default detector (largest face) and
``align.align_face`` (as ``genderage evaluate --photos``), so a single model's figures equal
those two commands'. The AAF detections are computed once and kept in ``--aaf-cache``
(about 250 MB of aligned crops; delete it after a detector change).

    PYTHONPATH=src python research/eval_ensemble.py --model src/genderage/models/genderage.onnx \
        --model runs/first_release.onnx --out runs/ensemble.json
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from genderage.attribute import MAX_AGE, AttributeModel
from genderage.contract import AGE_SCALE, DEFAULT_PREPROCESSING, age_band
from genderage.evaluation.evaluate import dataset_rows, load_faces_plain
from genderage.evaluation.metrics import label_scores
from genderage.evaluation.photos import largest_face_crops, load_labels
from genderage.outputs import replacing

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", required=True, type=Path,
                    help="an ONNX model (repeat to average several)")
    ap.add_argument("--flip-tta", action="store_true", help="also average each mirror image")
    ap.add_argument("--data", type=Path, default=SHARED / "UTKFace")
    ap.add_argument("--manifest", type=Path, default=ROOT / "splits" / "utkface_seed0.csv")
    ap.add_argument("--aaf", type=Path, default=SHARED / "AAF")
    ap.add_argument("--aaf-cache", type=Path, default=ROOT / "runs" / "aaf_crops.npz")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)

    report = evaluate_ensemble(args.model, args.data, args.manifest, args.aaf,
                               args.aaf / "labels.csv", args.aaf_cache, args.flip_tta)
    report["command"] = "PYTHONPATH=src python research/eval_ensemble.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))

    rows_out = [(m["model"], m) for m in report["models"]] + (
        [("average", report["average"])] if "average" in report else [])
    print(f"{'model':44s} {'val gender':>10s} {'MAE':>6s} {'within 5':>8s} "
          f"{'AAF gender':>10s} {'MAE':>6s} {'0-17 gender':>11s}")
    for name, r in rows_out:
        v, a = r["utkface_val"], r["aaf"]
        print(f"{name[-44:]:44s} {100 * v['gender_accuracy']:9.2f}% {v['age_mae']:6.2f} "
              f"{100 * v['within_5']:7.2f}% {100 * a['gender_accuracy']:9.2f}% {a['age_mae']:6.2f} "
              + (f"{100 * a['gender_accuracy_0_17']:10.1f}%" if a["gender_accuracy_0_17"]
                 is not None else f"{'-':>11s}"))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
