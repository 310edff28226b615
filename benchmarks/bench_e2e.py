"""End to end, old vs new: ``GenderAge().predict(jpeg_bytes)`` on a 640x480 one-face photo
and on group photos, with each configuration's recall on those same group photos.

The configurations run interleaved in one process (round by round, the order rotating),
so that the host's drift and the other processes on it hit them alike; the ratio to v1 is
the figure to trust on a shared machine.

- ``v1``: the release before issue 19: Pillow decoding every JPEG
  (``decode_image(..., opencv_jpeg=False)``, then the array into ``predict``), the v1 MTCNN
  settings (``V1_SETTINGS``) on the MTCNN graphs as that release built them (every PReLU
  as onnxruntime's elementwise Relu/Min/Mul/Add, auto_pad pooling: :func:`v1_detector`),
  and the fp32 model; every ratio is to this row;
- ``v1 cascade, today's graphs``: the same on today's MTCNN graphs (the same outputs bit
  for bit, faster since 2026-12-06): what ``v1`` measured before then, for comparison;
- ``new detector, fp32``: today's default detector with the fp32 model;
- ``new (default)``: ``GenderAge()`` as shipped: default detector, default precision (int8
  when the package ships it);
- ``0.2 (48 + retry)``: 0.2's default detector (``V02_SETTINGS``), which missed faces in group
  photos (issue 23), with the int8 model: for reference.

The group photos (``--group N``, composed from AAF crops with known faces by
:mod:`genderage.evaluation.group_photos`, seed 1: collages, scenes, single faces; ordinary,
dark, busy; 640 to 1920 px wide) are JPEG-encoded once; one timed call predicts all of them
in turn, and the figure is per photo. Recall counts the known faces with at least 20 px
between the eyes that the results' landmarks match.

    PYTHONPATH=src python benchmarks/bench_e2e.py --rounds 20 --runs 25 --group 24
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from photos import AAF_IMAGE, make_photo  # benchmarks/ is the script's folder

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def one_face_photo() -> bytes:
    """The JPEG bytes that every configuration predicts on."""
    return make_photo(AAF_IMAGE)[0]


def v1_detector():
    """``MtcnnDetector(**V1_SETTINGS)`` on the graphs release v1 ran: each PReLU as
    onnxruntime's elementwise ``Relu(x) + alpha * Min(x, 0)``, "same" pooling as auto_pad,
    the real channel counts, i.e. the graphs built with ``blocked=False`` (which also
    differ from v1's in P-Net's softmax axis, the same arithmetic). Today's graphs for the
    blocked layout compute the same values in less time
    (docs/experiments/2026-12-06-detection-recall.md, section 9)."""
    from genderage.detect import mtcnn

    today, mtcnn.BLOCKED_LAYOUT = mtcnn.BLOCKED_LAYOUT, False
    try:
        return mtcnn.MtcnnDetector(**mtcnn.V1_SETTINGS)
    finally:
        mtcnn.BLOCKED_LAYOUT = today


def analyzers() -> dict:
    from genderage.detect.mtcnn import V02_SETTINGS, V1_SETTINGS, MtcnnDetector
    from genderage.pipeline import GenderAge

    return {"v1": GenderAge(detector=v1_detector(), precision="fp32"),
            "v1 cascade, today's graphs": GenderAge(detector=MtcnnDetector(**V1_SETTINGS),
                                                    precision="fp32"),
            "new detector, fp32": GenderAge(precision="fp32"),
            "new (default)": GenderAge(),
            "0.2 (48 + retry)": GenderAge(detector=MtcnnDetector(**V02_SETTINGS))}


def group_photos(n: int) -> tuple[list[bytes], list]:
    """``n`` composed group photos as JPEG bytes (quality 95) and their known faces."""
    import cv2

    from genderage.evaluation.group_photos import build_photos

    photos = build_photos(SHARED / "AAF", n_photos=n, seed=1)
    jpegs = [cv2.imencode(".jpg", cv2.cvtColor(p.image, cv2.COLOR_RGB2BGR),
                          [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes() for p in photos]
    return jpegs, photos


def interleaved(fns: dict, rounds: int, runs: int
                ) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall-clock and process CPU ms per call of each function; round r starts with
    function r mod n. CPU time (all threads of this process) is less inflated than wall time
    when other processes compete for the cores."""
    names = list(fns)
    wall = {name: [] for name in names}
    cpu = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            for _ in range(runs):
                t0, c0 = time.perf_counter(), time.process_time()
                fns[name]()
                wall[name].append(1000 * (time.perf_counter() - t0))
                cpu[name].append(1000 * (time.process_time() - c0))
    return wall, cpu


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--runs", type=int, default=25, help="timed calls per round and config")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--group", type=int, default=24,
                    help="group photos timed as a second set (0: none)")
    ap.add_argument("--group-rounds", type=int, default=6,
                    help="rounds over the group set (one timed call per config and round)")
    args = ap.parse_args(argv)

    data, source = make_photo(AAF_IMAGE)
    configs = analyzers()
    outputs = {}
    for name, analyzer in configs.items():
        for _ in range(args.warmup):
            outputs[name] = analyzer.predict(data)
    from genderage.imageio import decode_image

    calls = {name: (lambda a=a, pillow=name.startswith("v1"):
                    a.predict(decode_image(data, opencv_jpeg=False) if pillow else data))
             for name, a in configs.items()}
    for name, call in calls.items():
        outputs[name] = call()
    times, cpu = interleaved(calls, args.rounds, args.runs)
    v1_median = float(np.median(times["v1"]))
    report = {"photo": source, "rounds": args.rounds, "runs_per_round": args.runs,
              "cpu_count": os.cpu_count(), "load_average": os.getloadavg(), "configs": {}}
    for name, t in times.items():
        faces = outputs[name].faces
        report["configs"][name] = {
            "model": configs[name].model.path.name, "median_ms": round(float(np.median(t)), 2),
            "p90_ms": round(float(np.percentile(t, 90)), 2),
            "ratio_to_v1": round(float(np.median(t)) / v1_median, 3),
            "cpu_median_ms": round(float(np.median(cpu[name])), 2),
            "cpu_ratio_to_v1": round(float(np.median(cpu[name]) / np.median(cpu["v1"])), 3),
            "faces": [{"gender": f.gender, "p": round(f.gender_probability, 3),
                       "age": round(f.age, 1)} for f in faces]}
    if args.group:
        report["group"] = group_set(configs, args.group, args.group_rounds)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"photo: {source}; {args.rounds} rounds x {args.runs} runs, interleaved; "
          f"load average {', '.join(f'{v:.1f}' for v in report['load_average'])}")
    print("| configuration | model | median ms | p90 ms | median / v1 | CPU ms | CPU / v1 "
          "| faces |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in report["configs"].items():
        faces = "; ".join(f"{f['gender']} {f['p']:.2f}, {f['age']:.1f} y" for f in r["faces"])
        print(f"| {name} | {r['model']} | {r['median_ms']:.2f} | {r['p90_ms']:.2f} "
              f"| {r['ratio_to_v1']:.2f} | {r['cpu_median_ms']:.2f} | {r['cpu_ratio_to_v1']:.2f} "
              f"| {faces or 'none'} |")
    if args.group:
        g = report["group"]
        print(f"\n{g['photos']} group photos ({g['faces_iod20']} faces with >= 20 px between the "
              f"eyes), {args.group_rounds} rounds, interleaved; ms per photo")
        print("| configuration | median ms / photo | median / v1 | CPU ms / photo | CPU / v1 "
              "| recall, IOD >= 20 px | faces found | false boxes |")
        print("|---|---|---|---|---|---|---|---|")
        for name, r in g["configs"].items():
            print(f"| {name} | {r['median_ms']:.1f} | {r['ratio_to_v1']:.2f} "
                  f"| {r['cpu_median_ms']:.1f} | {r['cpu_ratio_to_v1']:.2f} "
                  f"| {100 * r['recall_iod20']:.1f}% | {r['faces']} | {r['false_boxes']} |")
        print(f"\nv1 on its own graphs and on today's: the same faces and outputs on every "
              f"group photo: {g['v1_rows_identical']}")
    return 0


def group_set(configs: dict, n: int, rounds: int) -> dict:
    """Time every configuration on ``n`` group photos (one call = all photos, v1 decoding
    with Pillow as v1 did) and score each one's faces against the known ones."""
    from genderage.evaluation.group_photos import score_detections
    from genderage.imageio import decode_image

    jpegs, photos = group_photos(n)

    def run(analyzer, pillow: bool):
        return [analyzer.predict(decode_image(j, opencv_jpeg=False) if pillow else j)
                for j in jpegs]

    calls = {name: (lambda a=a, p=name.startswith("v1"): run(a, p)) for name, a in configs.items()}
    results = {name: call() for name, call in calls.items()}  # also the warm-up
    wall, cpu = interleaved(calls, rounds, 1)
    out = {"photos": n, "faces_iod20": sum(f.iod >= 20 for p in photos for f in p.faces),
           "v1_rows_identical": [r.to_dict() for r in results["v1"]]
           == [r.to_dict() for r in results["v1 cascade, today's graphs"]], "configs": {}}
    for name in configs:
        marks = [[np.asarray(f.landmarks, np.float32) for f in r.faces] for r in results[name]]
        score = score_detections(photos, marks)
        out["configs"][name] = {
            "median_ms": round(float(np.median(wall[name])) / n, 2),
            "ratio_to_v1": round(float(np.median(wall[name]) / np.median(wall["v1"])), 3),
            "cpu_median_ms": round(float(np.median(cpu[name])) / n, 2),
            "cpu_ratio_to_v1": round(float(np.median(cpu[name]) / np.median(cpu["v1"])), 3),
            "recall_iod20": round(score.recall(), 4), "false_boxes": score.false_boxes,
            "faces": sum(len(r.faces) for r in results[name])}
    return out


if __name__ == "__main__":
    sys.exit(main())
