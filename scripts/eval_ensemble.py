"""Score models alone and averaged together, on UTKFace validation and on AAF, in one pass.

A ceiling check, not a product feature: how far would averaging several independently
trained models (and optionally each face's mirror image) take gender accuracy and age MAE?
Each model's raw ``output`` (``[logit_female, logit_male, age/100]``) is averaged over the
models; the gender is the larger averaged logit, the age the averaged age.

Faces are made exactly as the product makes them: UTKFace chips through
``preprocess.resize_face`` (as ``genderage evaluate``), AAF images through the default
detector (largest face) and ``align.align_face`` (as ``scripts/eval_aaf.py``), so a single
model's figures equal those two commands'. The AAF detections are computed once and kept in
``--aaf-cache`` (about 250 MB of aligned crops; delete it after a detector change).

    PYTHONPATH=src python scripts/eval_ensemble.py --model src/genderage/models/genderage.onnx \
        --model runs/first_release.onnx --out runs/ensemble.json
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_aaf import load_labels

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def aaf_faces(aaf: Path, cache: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Aligned crops of the largest face of every labelled AAF image, with true ages and
    genders (model indices), and the number of labelled images."""
    from genderage.contract import gender_index

    rows = load_labels(aaf, None)
    if cache.is_file():
        d = np.load(cache)
        if int(d["n_images"]) == len(rows):
            return d["crops"], d["age"], d["gender"], len(rows)
    from genderage.align import align_face
    from genderage.detect import create_detector
    from genderage.imageio import ImageDecodeError, load_image

    detector = create_detector(None)
    crops, ages, genders = [], [], []
    for row in rows:
        try:
            rgb = load_image(aaf / row["file"])
        except ImageDecodeError as exc:
            print(f"skipping {exc}", file=sys.stderr)
            continue
        faces = detector.detect(rgb)
        if faces:
            crops.append(align_face(rgb, faces[0].landmarks))
            ages.append(float(row["age"]))
            genders.append(gender_index(row["gender"]))
    crops, ages, genders = np.stack(crops), np.array(ages), np.array(genders)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, crops=crops, age=ages, gender=genders, n_images=len(rows))
    return crops, ages, genders, len(rows)


def raw_outputs(model, faces: np.ndarray, batch: int = 256) -> np.ndarray:
    """``[N, 3]`` raw first outputs (mirror-averaged when the model was built with it)."""
    from genderage.preprocess import to_input

    outs = [model.run(to_input(faces[i:i + batch]))[model.output_names[0]]
            for i in range(0, len(faces), batch)]
    return np.concatenate(outs).astype(np.float64)


def scores(out: np.ndarray, age: np.ndarray, gender: np.ndarray) -> dict:
    from genderage.attribute import MAX_AGE
    from genderage.contract import AGE_SCALE
    from genderage.metrics import age_band, age_metrics

    ages = age_metrics(age, np.clip(out[:, 2] * AGE_SCALE, 0, MAX_AGE))
    correct = out[:, :2].argmax(1) == gender
    child = np.array([age_band(round(a)) == 0 for a in age], bool)
    return {"n": len(age), "gender_accuracy": round(float(correct.mean()), 4),
            "gender_se": round(float(np.sqrt(correct.mean() * (1 - correct.mean()) / len(age))), 4),
            "age_mae": round(ages["mae"], 3), "age_bias": round(ages["bias"], 3),
            "within_5": round(ages["within_5"], 4),
            "gender_accuracy_0_17": round(float(correct[child].mean()), 4) if child.any()
            else None}


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

    from genderage.attribute import AttributeModel
    from genderage.evaluate import dataset_rows, load_faces_plain

    rows = dataset_rows(args.data, args.manifest, "val")
    val = load_faces_plain(args.data, rows)
    val_age = np.array([r.age for r in rows], float)
    val_gender = np.array([r.gender for r in rows])
    crops, aaf_age, aaf_gender, n_images = aaf_faces(args.aaf, args.aaf_cache)

    outputs = []
    for path in args.model:
        model = AttributeModel(path, flip_tta=args.flip_tta)
        outputs.append((raw_outputs(model, val), raw_outputs(model, crops)))
    report = {"flip_tta": args.flip_tta, "aaf_images": n_images, "aaf_detected": len(crops),
              "models": []}
    for path, (v, a) in zip(args.model, outputs):
        report["models"].append({"model": str(path),
                                 "utkface_val": scores(v, val_age, val_gender),
                                 "aaf": scores(a, aaf_age, aaf_gender)})
    if len(outputs) > 1:
        v = np.mean([o[0] for o in outputs], axis=0)
        a = np.mean([o[1] for o in outputs], axis=0)
        report["average"] = {"utkface_val": scores(v, val_age, val_gender),
                             "aaf": scores(a, aaf_age, aaf_gender)}
    report["command"] = "PYTHONPATH=src python scripts/eval_ensemble.py " + " ".join(
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
