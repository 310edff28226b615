"""Where the default detector's time goes, and whether per-network threads pay.

On the photo of benchmarks/bench_latency.py: the median time of each MTCNN stage with one and
two onnxruntime threads, then the whole detector with one thread for every network against
the default (1, 2, 2), interleaved in this process so that the host's drift hits both alike.

    PYTHONPATH=src python benchmarks/profile_mtcnn.py [--runs 200] [--rounds 10]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

import cv2
import numpy as np

from photos import AAF_IMAGE, make_photo, timed  # benchmarks/ is the script's folder

from genderage.detect.mtcnn import MtcnnDetector, crop_patches, normalise, pyramid_scales
from genderage.detect.ops import letterbox
from genderage.imageio import decode_image


def median_ms(fn, runs: int, warmup: int = 10) -> float:
    return statistics.median(timed(fn, runs, warmup)[0])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200, help="runs per stage measurement")
    ap.add_argument("--rounds", type=int, default=10, help="interleaved rounds of 30 runs")
    args = ap.parse_args(argv)
    cv2.setNumThreads(2)
    rgb = decode_image(make_photo(AAF_IMAGE)[0])
    one, two, default = MtcnnDetector(threads=1), MtcnnDetector(threads=2), MtcnnDetector()
    n = args.runs

    canvas, _ = letterbox(rgb, one.input_size, border=one.border, multiple=1)
    h, w = canvas.shape[:2]
    print(f"canvas {w}x{h}; median ms over {n} runs")
    box_ms = median_ms(lambda: letterbox(rgb, one.input_size, border=one.border, multiple=1), n)
    print(f"  letterbox              {box_ms:6.2f}")
    resize_ms = pnet1 = pnet2 = 0.0
    for scale in pyramid_scales(h, w, one.min_face):
        size = (math.ceil(w * scale), math.ceil(h * scale))
        blob = normalise(cv2.resize(canvas, size, interpolation=cv2.INTER_AREA))[None]
        resize_ms += median_ms(lambda s=size: cv2.resize(canvas, s, interpolation=cv2.INTER_AREA), n)
        pnet1 += median_ms(lambda x=blob: one._pnet.run(["reg", "prob"], {"image": x}), n)
        pnet2 += median_ms(lambda x=blob: two._pnet.run(["reg", "prob"], {"image": x}), n)
    print(f"  pyramid resizes        {resize_ms:6.2f}")
    print(f"  P-Net, all levels      {pnet1:6.2f} (1 thread) {pnet2:6.2f} (2 threads)")
    proposals = one._propose(canvas, one.min_face)
    refined = one._refine(canvas, proposals)
    x24, x48 = crop_patches(canvas, proposals, 24), crop_patches(canvas, refined, 48)
    for label, d in (("1 thread", one), ("2 threads", two)):
        r = median_ms(lambda d=d: d._rnet.run(["reg", "prob"], {"image": x24}), n)
        o = median_ms(lambda d=d: d._onet.run(["reg", "landmarks", "prob"], {"image": x48}), n)
        print(f"  R-Net ({len(x24)} crops) {r:6.2f}, O-Net ({len(x48)} crops) {o:6.2f}  ({label})")

    a, b = one.detect(rgb), default.detect(rgb)
    assert len(a) == len(b) and all(np.allclose(p.landmarks, q.landmarks, atol=1e-3)
                                    for p, q in zip(a, b)), "thread settings changed detections"
    times: dict[str, list[float]] = {"threads 1": [], "threads (1, 2, 2)": []}
    for _ in range(args.rounds):
        for (label, d) in (("threads 1", one), ("threads (1, 2, 2)", default)):
            for _ in range(30):
                t0 = time.perf_counter()
                d.detect(rgb)
                times[label].append(1000 * (time.perf_counter() - t0))
    print(f"whole detector, interleaved {args.rounds} x 30 runs (median ms): " + ", ".join(
        f"{k} {statistics.median(v):.2f}" for k, v in times.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
