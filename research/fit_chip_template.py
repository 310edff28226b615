"""Measure where a detector puts the five landmarks on UTKFace chips: the alignment template.

The model was trained on UTKFace's 200x200 chips, so the inference crop must put the face
where the chips have it. This runs a detector on chips framed by a padding border (a face
filling a tight crop is hard to detect), maps the landmarks back to chip pixels and takes
the per-coordinate median. The result is stored as ``genderage.align.TEMPLATE``.

    PYTHONPATH=src python research/fit_chip_template.py --n 2000 --out runs/chip_template.json
    PYTHONPATH=src python research/fit_chip_template.py --detector yunet=/path/yunet.onnx ...
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

from genderage.training.recrop import central_detection, pad_chip

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "UTKFace"
NAMES = ("left_eye", "right_eye", "nose", "left_mouth", "right_mouth")


def split_files(split_csv: Path, split: str) -> list[str]:
    with open(split_csv, newline="") as f:
        return [row["file"] for row in csv.DictReader(f) if row["split"] == split]


def chip_landmarks(detector, files: list[str], data: Path, pad: int, mode: str):
    """Landmarks ``[M, 5, 2]`` in chip pixels for the chips where a central face was found."""
    from genderage.imageio import ImageDecodeError, read_image

    found, missed, seconds = [], 0, 0.0
    for name in files:
        try:
            chip = read_image(data / name)
        except ImageDecodeError:
            missed += 1
            continue
        t0 = time.perf_counter()
        det = central_detection(detector.detect(pad_chip(chip, pad, mode)), chip.shape[0], pad)
        seconds += time.perf_counter() - t0
        if det is None:
            missed += 1
        else:
            found.append(np.asarray(det.landmarks, np.float64) - pad)
    return np.array(found).reshape(-1, 5, 2), missed, seconds / max(1, len(files))


def summarise(landmarks: np.ndarray) -> dict:
    median = np.median(landmarks, axis=0)
    q1, q3 = np.percentile(landmarks, [25, 75], axis=0)
    return {
        "n": int(len(landmarks)),
        "median": np.round(median, 2).tolist(),
        "mean": np.round(landmarks.mean(0), 2).tolist(),
        "iqr": np.round(q3 - q1, 2).tolist(),
        "median_distance_to_median_px":
            round(float(np.median(np.linalg.norm(landmarks - median, axis=2))), 2),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detector", action="append", default=None, metavar="SPEC",
                    help="detector spec (repeatable; default: the default backend)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--split-csv", type=Path, default=ROOT / "splits" / "utkface_seed0.csv")
    ap.add_argument("--split", default="train")
    ap.add_argument("--n", type=int, default=2000, help="chips to use (evenly spaced)")
    ap.add_argument("--pad", type=int, default=100)
    ap.add_argument("--pad-mode", choices=("constant", "reflect", "replicate"),
                    default="constant")
    ap.add_argument("--out", type=Path, help="write the measurements as JSON here")
    args = ap.parse_args(argv)

    from genderage.detect import create_detector

    files = split_files(args.split_csv, args.split)
    files = files[::max(1, len(files) // args.n)][:args.n]
    report = {"split": args.split, "pad": args.pad, "pad_mode": args.pad_mode,
              "chips": len(files), "detectors": {}}
    for spec in args.detector or [None]:
        detector = create_detector(spec)
        landmarks, missed, sec = chip_landmarks(detector, files, args.data, args.pad,
                                                args.pad_mode)
        if not len(landmarks):
            print(f"{spec}: no face found on any chip", file=sys.stderr)
            return 1
        stats = summarise(landmarks)
        stats.update(missed=missed, ms_per_chip=round(1000 * sec, 1))
        report["detectors"][spec or "default"] = stats
        print(f"== {spec or 'default'} ({getattr(detector, 'name', '?')}): found "
              f"{stats['n']}/{len(files)}, {stats['ms_per_chip']} ms/chip")
        for name, (x, y), (ix, iy) in zip(NAMES, stats["median"], stats["iqr"]):
            print(f"  {name:<12} x={x:7.2f} y={y:7.2f}   IQR x={ix:5.2f} y={iy:5.2f}")
        print("  TEMPLATE = np.array([")
        for x, y in stats["median"]:
            print(f"      [{x:.2f}, {y:.2f}],")
        print("  ], dtype=np.float32)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
