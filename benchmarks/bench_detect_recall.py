"""Every detector option on the group-photo evaluation: recall per face size, false boxes, and
the time per photo, measured on the same photos in one run.

The photos are composed from All-Age-Faces crops with known faces
(:mod:`genderage.evaluation.group_photos`): collages, scenes of 2-11 people at several sizes,
single faces; ordinary, dark and busy. Detectors run photo by photo in turn (the order
rotating), so the host's drift hits them alike. SCRFD and YuNet rows need their files in
``../shared/models`` and are left out without them.

    PYTHONPATH=src python benchmarks/bench_detect_recall.py --photos 120
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from genderage.detect.mtcnn import V02_SETTINGS, V1_SETTINGS, MtcnnDetector
from genderage.evaluation.group_photos import (
    MIN_IOD,
    SIZE_BINS,
    bin_name,
    build_photos,
    score_detections,
)

SHARED = Path(__file__).resolve().parents[2] / "shared"


def detectors(with_optional: bool = True) -> dict:
    """Name -> detector, the default first."""
    out = {
        "mtcnn (default: min face 64 px)": MtcnnDetector(),
        "mtcnn, min face 56 px": MtcnnDetector(min_face_px=56.0),
        "mtcnn, min face 80 px": MtcnnDetector(min_face_px=80.0),
        "mtcnn, min face 64 px, P-Net 0.6": MtcnnDetector(stage_thresholds=(0.6, 0.7)),
        "mtcnn-v1 (0.1's cascade)": MtcnnDetector(**V1_SETTINGS),
        "mtcnn 0.2 default (48 + retry)": MtcnnDetector(**V02_SETTINGS),
    }
    models = SHARED / "models"
    if with_optional and models.is_dir():
        from genderage.detect.scrfd import ScrfdDetector
        from genderage.detect.yunet import YuNetDetector

        for size in (320, 640):
            if (models / "scrfd_500m_bnkps.onnx").is_file():
                out[f"scrfd 500m, canvas {size}"] = ScrfdDetector(
                    models / "scrfd_500m_bnkps.onnx", input_size=size)
            if (models / "scrfd_2.5g_bnkps.onnx").is_file():
                out[f"scrfd 2.5g, canvas {size}"] = ScrfdDetector(
                    models / "scrfd_2.5g_bnkps.onnx", input_size=size)
            if (models / "yunet_s_dynamic.onnx").is_file():
                out[f"yunet s, canvas {size}"] = YuNetDetector(
                    models / "yunet_s_dynamic.onnx", input_size=size)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=120)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--aaf", type=Path, default=SHARED / "data" / "AAF")
    ap.add_argument("--only-mtcnn", action="store_true", help="leave out SCRFD and YuNet")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if not (args.aaf / "labels.csv").is_file():
        print(f"needs All-Age-Faces at {args.aaf}", file=sys.stderr)
        return 2

    photos = build_photos(args.aaf, n_photos=args.photos, seed=args.seed)
    dets = detectors(not args.only_mtcnn)
    names = list(dets)
    found = {n: [] for n in names}
    times = {n: [] for n in names}
    for i, photo in enumerate(photos):
        for name in names[i % len(names):] + names[:i % len(names)]:
            t0 = time.perf_counter()
            result = dets[name].detect(photo.image)
            times[name].append(1000 * (time.perf_counter() - t0))
            found[name].append([d.landmarks for d in result])
    faces = sum(len(p.faces) for p in photos)
    faces20 = sum(f.iod >= MIN_IOD for p in photos for f in p.faces)
    rows = {}
    for name in names:
        s = score_detections(photos, found[name])
        rows[name] = {**s.summary(), "median_ms": round(float(np.median(times[name])), 1),
                      "mean_ms": round(float(np.mean(times[name])), 1)}
    if args.json:
        print(json.dumps({"photos": len(photos), "faces": faces, "seed": args.seed,
                          "load_average": os.getloadavg(), "detectors": rows}, indent=2))
        return 0
    print(f"{len(photos)} photos (seed {args.seed}), {faces} faces, {faces20} with >= "
          f"{MIN_IOD:.0f} px between the eyes; load average "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    bins = [bin_name(*b) for b in SIZE_BINS]
    print("| detector | recall, IOD >= 20 px | " + " | ".join(bins)
          + " | dark | busy | collage | false boxes / 10 photos | median ms | mean ms |")
    print("|---|---|" + "---|" * (len(bins) + 7))
    for name, r in rows.items():
        per_bin = " | ".join(f"{r['recall_by_iod'][b][0]}/{r['recall_by_iod'][b][1]}"
                             for b in bins)
        kinds = " | ".join(f"{r['by_kind'][k][0]}/{r['by_kind'][k][1]}"
                           for k in ("dark", "busy", "collage"))
        print(f"| {name} | {100 * r['recall_iod20']:.1f}% | {per_bin} | {kinds} "
              f"| {r['false_boxes_per_10_photos']:.2f} | {r['median_ms']:.1f} "
              f"| {r['mean_ms']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
