"""End to end, old vs new: ``GenderAge().predict(jpeg_bytes)`` on a 640x480 one-face photo.

The configurations run interleaved in one process (round by round, the order rotating),
so that the host's drift and the other processes on it hit them alike; the ratio to v1 is
the figure to trust on a shared machine.

- ``v1``: the release before issue 19: Pillow decoding every JPEG
  (``decode_image(..., opencv_jpeg=False)``, then the array into ``predict``), the v1 MTCNN
  settings (``V1_SETTINGS``) and the fp32 model;
- ``new detector, fp32``: today's default detector with the fp32 model;
- ``new (default)``: ``GenderAge()`` as shipped: default detector, default precision (int8
  when the package ships it).

    PYTHONPATH=src python benchmarks/bench_e2e.py --rounds 20 --runs 25
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


def analyzers() -> dict:
    from genderage.detect.mtcnn import V1_SETTINGS, MtcnnDetector
    from genderage.pipeline import GenderAge

    return {"v1": GenderAge(detector=MtcnnDetector(**V1_SETTINGS), precision="fp32"),
            "new detector, fp32": GenderAge(precision="fp32"),
            "new (default)": GenderAge()}


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
    args = ap.parse_args(argv)

    data, source = make_photo(AAF_IMAGE)
    configs = analyzers()
    outputs = {}
    for name, analyzer in configs.items():
        for _ in range(args.warmup):
            outputs[name] = analyzer.predict(data)
    from genderage.imageio import decode_image

    calls = {name: (lambda a=a: a.predict(data)) for name, a in configs.items()}
    calls["v1"] = lambda a=configs["v1"]: a.predict(decode_image(data, opencv_jpeg=False))
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
