"""What a crowd photo costs after detection, with and without ``max_faces``.

A 1920x1080 canvas holds N copies of the astronaut's face (examples/astronaut.jpg) at sizes
from 24 to 120 px; a detector stub returns their boxes and landmarks, so the figures are the
pipeline's share (selection, alignment, quality, ONE attribute-model call) without the
detector's, whose cost does not depend on ``max_faces``. For each N it prints the median time
per photo and the peak Python memory (tracemalloc) of ``GenderAge.predict``.

    PYTHONPATH=src python benchmarks/bench_max_faces.py --faces 1 30 100 300 --max-faces 10
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import cv2
import numpy as np

ASTRONAUT = Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg"
LANDMARKS = np.array([[204.1, 101.3], [246.9, 103.1], [225.5, 129.4], [201.4, 139.5],
                      [245.1, 141.3]], np.float32)
"""The default detector's landmarks on the astronaut, in pixels of the 512x512 photo."""
FACE_BOX = (170, 55, 275, 180)


class Planted:
    """Returns the planted faces (the detector's part is not measured)."""

    name = "planted"

    def __init__(self, detections):
        self.detections = detections

    def detect(self, image_rgb):
        return list(self.detections)


def crowd(n: int, seed: int = 0):
    """A 1920x1080 RGB canvas with ``n`` faces and their Detection records."""
    from genderage.detect.types import Detection

    rng = np.random.default_rng(seed)
    photo = cv2.cvtColor(cv2.imread(str(ASTRONAUT)), cv2.COLOR_BGR2RGB)
    x1, y1, x2, y2 = FACE_BOX
    face = photo[y1:y2, x1:x2]
    canvas = np.full((1080, 1920, 3), 90, np.uint8)
    detections = []
    for _ in range(n):
        side = int(rng.uniform(24, 120))
        scale = side / (x2 - x1)
        h = int(round((y2 - y1) * scale))
        x, y = int(rng.uniform(0, 1920 - side)), int(rng.uniform(0, 1080 - h))
        canvas[y:y + h, x:x + side] = cv2.resize(face, (side, h), interpolation=cv2.INTER_AREA)
        marks = (LANDMARKS - [x1, y1]) * scale + [x, y]
        detections.append(Detection(np.array([x, y, x + side, y + h], np.float32),
                                    marks.astype(np.float32), 0.99))
    return canvas, detections


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=int, nargs="+", default=[1, 30, 100, 300])
    ap.add_argument("--max-faces", type=int, default=10)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--model", default=None, help="attribute model (default: shipped)")
    args = ap.parse_args(argv)

    from genderage.attribute import AttributeModel
    from genderage.pipeline import GenderAge, resolve_model_path

    model = AttributeModel(resolve_model_path(args.model))
    print(f"model {model.path.name}; 1920x1080 canvas; median of {args.runs} runs")
    print(f"{'faces':>6} {'max_faces':>9} {'model inputs':>12} {'ms/photo':>9} {'peak MiB':>9}")
    for n in args.faces:
        canvas, detections = crowd(n)
        for max_faces in (None, args.max_faces):
            analyzer = GenderAge(model, Planted(detections), max_faces=max_faces)
            analyzer.predict(canvas)  # warm-up
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                faces = analyzer.predict(canvas).faces
                times.append(time.perf_counter() - start)
            tracemalloc.start()
            analyzer.predict(canvas)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(f"{n:>6} {str(max_faces):>9} {len(faces):>12} "
                  f"{1000 * statistics.median(times):>9.1f} {peak / 2**20:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
