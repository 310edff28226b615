"""End-to-end latency of one 640x480 JPEG photo with one face, split by stage.

The photo is synthesised in memory (nothing is written): an AAF face crop scaled to 300 px
high, on a blurred stretched copy of itself, 640x480, JPEG quality 90. Without ../shared a
random texture stands in (no face is found then, and the align/predict stages are empty).

    PYTHONPATH=src python benchmarks/bench_latency.py --runs 200 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import cv2
import numpy as np
from photos import AAF_IMAGE, make_photo, timed  # benchmarks/ is the script's folder

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="attribute model (default: shipped)")
    ap.add_argument("--detector", default=None, metavar="SPEC")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2,
                    help="OpenCV threads and attribute-model intra-op threads")
    ap.add_argument("--face", type=Path, default=AAF_IMAGE)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)

    from genderage.align import align_face
    from genderage.attribute import AttributeModel
    from genderage.imageio import decode_image
    from genderage.onnx_runtime import RuntimeOptions
    from genderage.pipeline import GenderAge, resolve_model_path
    from genderage.quality import assess

    cv2.setNumThreads(args.threads)
    model = AttributeModel(resolve_model_path(args.model),
                           RuntimeOptions(threads=args.threads or None))
    analyzer = GenderAge(model, args.detector)
    detector = analyzer.detector
    data, source = make_photo(args.face)

    decode_ms, rgb = timed(lambda: decode_image(data), args.runs, args.warmup)
    detect_ms, dets = timed(lambda: detector.detect(rgb), args.runs, args.warmup)

    def align():
        crops = []
        for d in dets:
            crop = align_face(rgb, d.landmarks)
            assess(d.bbox, d.landmarks, d.score, crop)
            crops.append(crop)
        return np.stack(crops) if crops else np.zeros((0, 112, 112, 3), np.uint8)

    align_ms, crops = timed(align, args.runs, args.warmup)
    predict_ms, _ = timed(lambda: model.predict(crops), args.runs, args.warmup)
    total_ms, result = timed(lambda: analyzer.predict(data), args.runs, args.warmup)

    med = {name: round(statistics.median(t), 2) for name, t in
           (("decode", decode_ms), ("detect", detect_ms), ("align", align_ms),
            ("predict", predict_ms), ("total", total_ms))}
    p90_total = round(float(np.percentile(total_ms, 90)), 2)
    report = {"photo": source, "faces": len(result.faces), "runs": args.runs,
              "threads": args.threads, "cpu_count": os.cpu_count(),
              "detector": detector.name, "model": str(model.path),
              "median_ms": med, "p90_total_ms": p90_total,
              "sum_of_stage_medians_ms": round(sum(v for k, v in med.items() if k != "total"),
                                               2)}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"photo: {source}; faces found: {len(result.faces)}")
        print(f"detector {detector.name}, model {model.path.name}, threads {args.threads}, "
              f"{args.runs} runs (median ms)")
        for name, v in med.items():
            print(f"  {name:<8} {v:8.2f}")
        print(f"  p90 total {p90_total:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
