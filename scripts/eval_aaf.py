"""The full photo pipeline (decode -> detect -> align -> model) on All-Age-Faces (AAF).

AAF's images are loose face crops of a population (mostly East Asian) the model never saw
in training. For each labelled image the largest detected face is scored; an image without
a detected face counts against the detection rate, not the accuracy.

    PYTHONPATH=src python scripts/eval_aaf.py --out runs/aaf_eval.json
    # only the AAF dev fold of a multi-source manifest (docs/data.md, "Several sources"):
    PYTHONPATH=src python scripts/eval_aaf.py --manifest splits/utkface_aaf_seed0.csv --split val
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_AAF = ROOT.parent / "shared" / "data" / "AAF"


def load_labels(aaf: Path, limit: int | None, manifest: Path | None = None,
                split: str = "val") -> list[dict]:
    """AAF's labelled images; with ``manifest`` only its AAF rows of ``split`` (e.g. the dev
    fold of `genderage data split ... aaf=DIR`), in the manifest's order."""
    with open(aaf / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    if manifest is not None:
        from genderage.data.split import read_manifest

        by_file = {r["file"]: r for r in rows}
        picked = read_manifest(manifest, split, "aaf")
        if not picked:
            raise SystemExit(f"{manifest}: no AAF rows in split {split!r}")
        rows = [by_file[r.file] for r in picked]
    if limit and limit < len(rows):
        rows = rows[::len(rows) // limit][:limit]
    return rows


def score(rows, results) -> dict:
    from genderage.contract import GENDER_LABELS, gender_index
    from genderage.metrics import AGE_BANDS, age_band, band_name

    ages, genders, pred_age, pred_gender, bands, low_q = [], [], [], [], [], []
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
        "by_quality": {"ok": group(~low_q), "low_quality": group(low_q)},
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--aaf", type=Path, default=DEFAULT_AAF)
    ap.add_argument("--model", default=None, help="attribute model (default: shipped)")
    ap.add_argument("--detector", default=None, metavar="SPEC")
    ap.add_argument("--limit", type=int, default=None, help="images to use (evenly spaced)")
    ap.add_argument("--manifest", type=Path, default=None,
                    help="score only this multi-source manifest's AAF rows of --split "
                         "(the AAF dev fold: --split val)")
    ap.add_argument("--split", default="val", help="with --manifest: which split (default val)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--flip-tta", action="store_true",
                    help="average each face with its mirror image (GenderAge(flip_tta=True))")
    ap.add_argument("--out", type=Path, help="write the report as JSON here")
    args = ap.parse_args(argv)

    from genderage.pipeline import GenderAge

    rows = load_labels(args.aaf, args.limit, args.manifest, args.split)
    analyzer = GenderAge(args.model, args.detector, flip_tta=args.flip_tta)
    t0 = time.perf_counter()
    results = []
    for i in range(0, len(rows), args.batch_size):
        chunk = rows[i:i + args.batch_size]
        results += analyzer.predict_batch([args.aaf / r["file"] for r in chunk])
    seconds = time.perf_counter() - t0

    report = score(rows, results)
    report.update(
        command="PYTHONPATH=src python scripts/eval_aaf.py "
                + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        model=str(analyzer.model.path), detector=analyzer.detector.name,
        flip_tta=args.flip_tta,
        ms_per_image=round(1000 * seconds / max(1, len(rows)), 1))
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
