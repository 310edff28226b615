"""The photos the benchmarks time, built in memory (nothing is written), and a timer.

Every benchmark that needs "a photo with one face" takes it from :func:`make_photo`, so
their figures are measured on the same input.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
AAF_IMAGES = ROOT.parent / "shared" / "data" / "AAF" / "images"
AAF_IMAGE = AAF_IMAGES / "00000A02.jpg"
"""The face of :func:`make_photo` in the latency figures (an AAF crop)."""


def make_photo(face_path: Path) -> tuple[bytes, str]:
    """A 640x480 JPEG with one face, and a description of where it came from."""
    if face_path.is_file():
        face = cv2.imread(str(face_path))
        h, w = face.shape[:2]
        face = cv2.resize(face, (round(w * 300 / h), 300), interpolation=cv2.INTER_AREA)
        canvas = cv2.GaussianBlur(cv2.resize(face, (640, 480)), (0, 0), 15)
        x, y = (640 - face.shape[1]) // 2, 100
        canvas[y:y + face.shape[0], x:x + face.shape[1]] = face
        source = f"{face_path.name} scaled to {face.shape[1]}x300 in a 640x480 canvas"
    else:
        canvas = np.random.default_rng(0).integers(0, 256, (480, 640, 3), np.uint8)
        source = "random texture (../shared absent: no face)"
    ok, buf = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return buf.tobytes(), source


def timed(fn, runs: int, warmup: int) -> tuple[list[float], object]:
    """Milliseconds of each of ``runs`` calls of ``fn`` after ``warmup`` calls, and the last
    result."""
    for _ in range(warmup):
        out = fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(1000 * (time.perf_counter() - t0))
    return times, out
