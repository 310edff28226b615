"""Does detection + alignment reproduce the UTKFace chips the model was trained on?

For validation chips (``splits/utkface_seed0.csv``, split == val) framed by a padding border,
run the detector, align the central face, and compare with the original chip:

- landmark deviation: detected landmarks (chip pixels) vs ``align.TEMPLATE``;
- the re-crop transform: scale, rotation and shift relative to the original chip;
- pixel deviation: mean |re-crop - chip| at 200x200 (whole, and the central 100x100 that
  holds the face) and at the model's 112x112;
- with a model: gender accuracy and age MAE on the original chips vs the re-crops.

    PYTHONPATH=src python research/check_alignment.py --out runs/check_alignment.json
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

from fit_chip_template import DEFAULT_DATA, ROOT  # research/ is the script's folder

from genderage.training.recrop import central_detection, pad_chip


def load_rows(split_csv: Path, split: str, limit: int | None) -> list[dict]:
    with open(split_csv, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == split]
    if limit and limit < len(rows):
        rows = rows[::len(rows) // limit][:limit]
    return rows


def transform_params(m: np.ndarray, pad: int, size: int) -> tuple[float, float, float]:
    """(scale, rotation degrees, centre shift px) of a padded-image -> chip matrix, relative
    to the identity crop (a pure ``-pad`` translation)."""
    from genderage.align import transform_points

    scale = math.sqrt(abs(np.linalg.det(m[:, :2])))
    rot = math.degrees(math.atan2(m[1, 0], m[0, 0]))
    centre = np.array([[pad + size / 2, pad + size / 2]])
    shift = float(np.linalg.norm(transform_points(m, centre)[0] - size / 2))
    return scale, rot, shift


def model_metrics(model, faces: np.ndarray, ages: np.ndarray, genders: np.ndarray) -> dict:
    probs, pred_age = [], []
    for i in range(0, len(faces), 64):
        out = model.predict(faces[i:i + 64])
        probs.append(out.gender_probs)
        pred_age.append(out.age)
    probs, pred_age = np.concatenate(probs), np.concatenate(pred_age)
    return {"gender_accuracy": round(float((probs.argmax(1) == genders).mean()), 4),
            "age_mae": round(float(np.abs(pred_age - ages).mean()), 3)}


def pct(a, qs=(5, 50, 95)) -> dict:
    return {f"p{q}": round(float(v), 2) for q, v in zip(qs, np.percentile(a, qs))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detector", default=None, metavar="SPEC")
    ap.add_argument("--model", default=None, help="attribute model (default: shipped, if any)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--split-csv", type=Path, default=ROOT / "splits" / "utkface_seed0.csv")
    ap.add_argument("--split", default="val")
    ap.add_argument("--limit", type=int, default=None, help="chips to use (evenly spaced)")
    ap.add_argument("--pad", type=int, default=100)
    ap.add_argument("--pad-mode", choices=("constant", "reflect", "replicate"),
                    default="constant")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)

    from genderage.align import TEMPLATE, chip_transform, warp_chip
    from genderage.attribute import AttributeModel
    from genderage.contract import CHIP_SIZE, gender_index
    from genderage.detect import create_detector
    from genderage.imageio import ImageDecodeError, read_image
    from genderage.models import default_model_path
    from genderage.preprocess import resize_face
    from genderage.quality import blur_score, head_pose

    detector = create_detector(args.detector)
    rows = load_rows(args.split_csv, args.split, args.limit)
    lm_dev, px200, px_centre, px112, params = [], [], [], [], []
    blur_orig, blur_recrop, poses = [], [], []
    originals, recrops, ages, genders = [], [], [], []
    missed = unreadable = 0
    for row in rows:
        try:
            chip = read_image(args.data / row["file"])
        except ImageDecodeError:
            unreadable += 1
            continue
        padded = pad_chip(chip, args.pad, args.pad_mode)
        det = central_detection(detector.detect(padded), CHIP_SIZE, args.pad)
        if det is None:
            missed += 1
            continue
        lm = np.asarray(det.landmarks, np.float64)
        lm_dev.append(np.linalg.norm(lm - args.pad - TEMPLATE, axis=1).mean())
        recrop = warp_chip(padded, lm)
        diff = np.abs(recrop.astype(np.float32) - chip)
        px200.append(diff.mean())
        px_centre.append(diff[50:150, 50:150].mean())
        orig112, recrop112 = resize_face(chip), resize_face(recrop)
        px112.append(np.abs(recrop112.astype(np.float32) - orig112).mean())
        params.append(transform_params(chip_transform(lm), args.pad, CHIP_SIZE))
        blur_orig.append(blur_score(orig112))
        blur_recrop.append(blur_score(recrop112))
        poses.append(head_pose(lm))
        originals.append(orig112)
        recrops.append(recrop112)
        ages.append(float(row["age"]))
        genders.append(gender_index(row["gender"]))

    params, poses = np.array(params), np.array(poses)
    report = {
        "detector": getattr(detector, "name", args.detector), "split": args.split,
        "pad": args.pad, "pad_mode": args.pad_mode, "chips": len(rows),
        "detected": len(lm_dev), "missed": missed, "unreadable": unreadable,
        "landmark_deviation_px": {"mean": round(float(np.mean(lm_dev)), 2), **pct(lm_dev)},
        "pixel_mae_200": {"mean": round(float(np.mean(px200)), 2), **pct(px200)},
        "pixel_mae_200_centre": {"mean": round(float(np.mean(px_centre)), 2), **pct(px_centre)},
        "pixel_mae_112": {"mean": round(float(np.mean(px112)), 2), **pct(px112)},
        "recrop_scale": pct(params[:, 0], (5, 50, 95)),
        "recrop_rotation_deg": pct(params[:, 1], (5, 50, 95)),
        "recrop_shift_px": {"mean": round(float(params[:, 2].mean()), 2), **pct(params[:, 2])},
        "blur_original_112": pct(blur_orig, (1, 2, 5, 50)),
        "blur_recrop_112": pct(blur_recrop, (1, 2, 5, 50)),
        "yaw_deg": pct(poses[:, 0], (1, 5, 50, 95, 99)),
        "pitch_deg": pct(poses[:, 1], (1, 5, 50, 95, 99)),
        "roll_deg": pct(poses[:, 2], (1, 5, 50, 95, 99)),
    }
    model_path = args.model or default_model_path()
    if model_path:
        model = AttributeModel(model_path)
        ages_a, genders_a = np.array(ages), np.array(genders)
        orig = model_metrics(model, np.stack(originals), ages_a, genders_a)
        rec = model_metrics(model, np.stack(recrops), ages_a, genders_a)
        report["model"] = {"path": str(model_path), "original_chips": orig, "recrops": rec,
                           "delta_gender_accuracy_points":
                               round(100 * (rec["gender_accuracy"] - orig["gender_accuracy"]), 2),
                           "delta_age_mae": round(rec["age_mae"] - orig["age_mae"], 3)}
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
