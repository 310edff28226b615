"""How fast the labelling page (``genderage label``) shows the next face.

Two figures:

1. **Key press to next face drawn**, in headless Chromium (Debian's ``/usr/bin/chromium``,
   driven by playwright): the page's own ``window.labelTimings`` (from the keydown to the
   next face decoded in the ``<img>``, the answer's POST and its reply included) over
   ``--answers`` answers typed one after another at a labeller's pace (``--pause`` s).
2. **Server time to cut one face** (``/api/face``: read the file, decode, crop, JPEG
   encode), for the faces of the results and for a 24-megapixel JPEG made here, where the
   page's prefetch must hide the decode.

    PYTHONPATH=src python benchmarks/bench_label.py --results runs/ppi_aaf/results

The results are those of ``research/ppi_aaf_children.py`` (AAF photos, about 300x345);
labels go to a temporary file that is removed.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

CHROMIUM = "/usr/bin/chromium"


def page_timings(results: Path, answers: int, pause: float) -> list[float]:
    import uvicorn
    from playwright.sync_api import sync_playwright

    from genderage.label.app import LabelSession, create_label_app

    with tempfile.TemporaryDirectory() as tmp:
        session = LabelSession(results, Path(tmp) / "labels.csv", n=answers + 1)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_label_app(session), host="127.0.0.1",
                                               port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                            args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{port}/")
                page.wait_for_function("() => document.getElementById('face').dataset.rank"
                                       " === '0'")
                for k in range(answers):
                    time.sleep(pause)
                    page.keyboard.type(str(20 + k % 50))
                    page.keyboard.press("fm"[k % 2])
                    page.wait_for_function("(k) => document.getElementById('face').dataset"
                                           ".rank === String(k)", arg=k + 1)
                timings = page.evaluate("() => window.labelTimings")
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    return timings


def crop_timings(results: Path, faces: int) -> tuple[list[float], list[float]]:
    import cv2

    from genderage.label.crop import face_jpeg
    from genderage.report.table import read_results

    r = read_results(results, extra=("bbox",))
    small = []
    for i in range(min(faces, len(r.face_paths))):
        start = time.perf_counter()
        face_jpeg(r.face_paths[i], r.extra["bbox"][i])
        small.append(1000 * (time.perf_counter() - start))
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "24mpx.jpg"
        rng = np.random.default_rng(0)
        img = cv2.resize(rng.integers(0, 255, (600, 400, 3), dtype=np.uint8), (6000, 4000))
        cv2.imwrite(str(big), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
        large = []
        for _ in range(10):
            start = time.perf_counter()
            face_jpeg(str(big), [2800.0, 1800.0, 3200.0, 2300.0])
            large.append(1000 * (time.perf_counter() - start))
    return small, large


def describe(name: str, ms: list[float]) -> str:
    a = np.asarray(ms)
    return (f"{name}: n={len(a)}, median {np.median(a):.1f} ms, p95 {np.percentile(a, 95):.1f}"
            f" ms, max {a.max():.1f} ms")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--answers", type=int, default=60)
    parser.add_argument("--pause", type=float, default=0.5,
                        help="seconds between answers (a labeller's pace; default 0.5)")
    parser.add_argument("--faces", type=int, default=200)
    args = parser.parse_args(argv)
    small, large = crop_timings(args.results, args.faces)
    print(describe("server, cut one face (results' photos)", small))
    print(describe("server, cut one face (24 Mpx JPEG)", large))
    print(describe("page, key press to next face drawn", page_timings(
        args.results, args.answers, args.pause)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
