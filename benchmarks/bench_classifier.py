"""The attribute model alone at batch 1: fp32 vs int8, interleaved, wall and CPU time.

``AttributeModel.predict`` on one aligned 112x112 face (the pipeline's crop of the photo of
``bench_e2e.py``), with one and with two onnxruntime threads. With one thread all the work
runs on the calling thread, so its CPU time (``time.thread_time``) is the model's cost even
when other processes share the cores.

    PYTHONPATH=src python benchmarks/bench_classifier.py --rounds 10 --runs 50
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from bench_e2e import one_face_photo  # benchmarks/ is the script's folder


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args(argv)

    from genderage.align import align_face
    from genderage.attribute import AttributeModel
    from genderage.detect import create_detector
    from genderage.imageio import load_image
    from genderage.models import default_model_path
    from genderage.onnx_runtime import RuntimeOptions

    rgb = load_image(one_face_photo())
    face = align_face(rgb, create_detector().detect(rgb)[0].landmarks)[None]
    models = {f"{p}, {t} thread{'s' * (t > 1)}": AttributeModel(default_model_path(p),
                                                                  RuntimeOptions(threads=t))
              for t in (1, 2) for p in ("fp32", "int8")}
    wall = {name: [] for name in models}
    cpu = {name: [] for name in models}
    for m in models.values():
        for _ in range(10):
            m.predict(face)
    for _ in range(args.rounds):
        for name, m in models.items():
            for _ in range(args.runs):
                t0, c0 = time.perf_counter(), time.thread_time()
                m.predict(face)
                wall[name].append(1000 * (time.perf_counter() - t0))
                cpu[name].append(1000 * (time.thread_time() - c0))
    print(f"one face, batch 1, {args.rounds} rounds x {args.runs} runs, interleaved")
    print("| model | wall ms median | wall ms p90 | calling-thread CPU ms median |")
    print("|---|---|---|---|")
    for name in models:
        print(f"| {name} | {np.median(wall[name]):.3f} | {np.percentile(wall[name], 90):.3f} "
              f"| {np.median(cpu[name]):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
