"""Where ``GenderAge().predict`` spends its CPU time on group photos, stage by stage.

The group photos of benchmarks/bench_e2e.py (``--group N``, seed 1) are predicted from their
JPEG bytes ``--rounds`` times after one warm-up pass; each stage's process CPU time (all
threads) is summed through thin wrappers around the pipeline's functions and the detector's
three onnxruntime sessions, and printed per photo. Process CPU time rather than wall time:
on a shared host it moves far less with the load (docs/experiments/2026-12-06-detection-recall.md).

    PYTHONPATH=src python benchmarks/profile_stages.py [--group 24] [--rounds 3]
"""

from __future__ import annotations

import argparse
import collections
import os
import time

from bench_e2e import group_photos  # benchmarks/ is the script's folder

import genderage.detect.mtcnn as mtcnn
import genderage.pipeline as pipeline

SPENT: collections.Counter = collections.Counter()


def timed(fn, label: str):
    def wrapper(*args, **kwargs):
        start = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[label] += time.process_time() - start
    return wrapper


class TimedSession:
    """An onnxruntime session whose ``run`` adds its CPU time to ``label``."""

    def __init__(self, session, label: str):
        self.session, self.label = session, label
        self.run = timed(session.run, label)

    def __getattr__(self, name):
        return getattr(self.session, name)


def instrument(analyzer) -> None:
    for module, name, label in ((mtcnn, "crop_patches", "R/O-Net crops"),
                                (mtcnn, "nms", "NMS"),
                                (mtcnn, "shrink", "P-Net pyramid resize"),
                                (mtcnn, "letterbox", "canvas"),
                                (pipeline, "align_face", "alignment"),
                                (pipeline, "assess", "quality"),
                                (pipeline, "load_image_reduced", "decoding")):
        setattr(module, name, timed(getattr(module, name), label))
    det = analyzer.detector
    shared = det._pnet_large is det._pnet  # small and large pyramid levels: one session?
    det._pnet = TimedSession(det._pnet, "P-Net")
    det._pnet_large = det._pnet if shared else TimedSession(det._pnet_large, "P-Net")
    det._rnet = TimedSession(det._rnet, "R-Net")
    det._onet = TimedSession(det._onet, "O-Net")
    analyzer.model.run = timed(analyzer.model.run, "attribute model")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--group", type=int, default=24, help="composed group photos")
    ap.add_argument("--rounds", type=int, default=3, help="timed passes over the photos")
    args = ap.parse_args(argv)

    photos, truth = group_photos(args.group)
    analyzer = pipeline.GenderAge()
    if not hasattr(pipeline, "load_image_reduced"):
        raise SystemExit("pipeline no longer decodes through load_image_reduced: update the script")
    instrument(analyzer)
    faces = sum(len(analyzer.predict(b).faces) for b in photos)  # warm-up
    SPENT.clear()
    start = time.process_time()
    for _ in range(args.rounds):
        for jpeg in photos:
            analyzer.predict(jpeg)
    per_photo = 1000 / (args.rounds * len(photos))
    total = (time.process_time() - start) * per_photo
    print(f"{len(photos)} group photos, {faces / len(photos):.2f} faces each, {args.rounds} rounds;"
          f" load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("| stage | CPU ms / photo | share |\n|---|---|---|")
    for label, seconds in SPENT.most_common():
        print(f"| {label} | {seconds * per_photo:.2f} | {seconds * per_photo / total:.0%} |")
    rest = total - sum(SPENT.values()) * per_photo
    print(f"| everything else | {rest:.2f} | {rest / total:.0%} |\n| **total** | **{total:.2f}** | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
