"""Throughput of ``genderage video`` on many videos: hours of video per hour of machine.

Makes ``--videos`` synthetic 640x480 25 fps programmes (two faces per shot, a cut every
4 s; the astronaut photo of examples/) and runs the tracks table on each engine and
``--every``, printing hours of video per wall-clock hour and per core-pair (Ray's start-up
is timed apart)::

    PYTHONPATH=src:tests python benchmarks/bench_screen.py --videos 4 --seconds 16
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_videos(folder: Path, n: int, seconds: float) -> float:
    from video_synth import Shot, astronaut_portrait, programme, write_video

    face = astronaut_portrait()
    other = np.clip(face[:, ::-1].astype(np.int16) + 25, 0, 255).astype(np.uint8)
    total = 0.0
    for v in range(n):
        shots = [Shot(100, (60 + 25 * k % 160, 90, 120 + 10 * v),
                      ((face, 0.3, 180), (other, 0.7, 160)))
                 for k in range(int(seconds // 4))]
        frames, _ = programme(shots, size=(640, 480), seed=v)
        write_video(folder / f"programme{v}.mp4", frames, 25.0)
        total += len(frames) / 25.0
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=16.0)
    parser.add_argument("--engines", default="local,ray")
    parser.add_argument("--every", default="5,1")
    args = parser.parse_args()
    from genderage.batch.engines import EngineSettings, create_engine
    from genderage.video.job import VideoJob
    from genderage.video.table import VideoOptions

    cores = len(os.sched_getaffinity(0))
    work = Path(tempfile.mkdtemp(prefix="bench_screen_"))
    try:
        video_s = make_videos(work, args.videos, args.seconds)
        print(f"{args.videos} videos, {video_s:.0f} s of 640x480 25 fps video; {cores} cores; "
              f"load average {os.getloadavg()[0]:.1f}")
        for engine in args.engines.split(","):
            if engine == "ray":
                # Started here, once: the rows then time the work, not Ray's start-up.
                import ray

                start = time.perf_counter()
                ray.init(include_dashboard=False, logging_level="WARNING")
                print(f"ray.init: {time.perf_counter() - start:.1f} s")
            for every in (int(e) for e in args.every.split(",")):
                out = work / f"out-{engine}-{every}"
                job = VideoJob([str(work)], str(out), VideoOptions(every=every))
                start = time.perf_counter()
                summary = job.run(create_engine(engine, EngineSettings(workers=cores)))
                wall = time.perf_counter() - start
                rate = video_s / wall
                print(f"engine {engine:5s} --every {every}: {wall:6.1f} s wall, "
                      f"{rate:5.2f} h of video per machine-hour ({rate / (cores / 2):.2f} per "
                      f"core-pair), {summary.tracks} tracks; load average "
                      f"{os.getloadavg()[0]:.1f}")
            if engine == "ray":
                ray.shutdown()
    finally:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
