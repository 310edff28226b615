"""Frames per second of ``genderage video`` on a 25 fps 640x480 video, per ``--every``.

    PYTHONPATH=src python benchmarks/bench_video.py [--seconds 8] [--every 1 2 3 5] [--repeats 3]

Makes a video of two moving faces (``examples/astronaut.jpg`` and its mirror image, animated
by ``tests/video_synth.py``), then times, in one process and interleaved (each repeat runs
every setting once, in rotating order), the whole analysis from the file: decoding, detection
every N frames, the attribute model, tracking. Prints the median frames/s per setting, the
ratio of processing time to the video's duration (below 1 = faster than real time), and the
per-frame costs of the stages measured on their own.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from video_synth import animate, astronaut_portrait, write_video  # noqa: E402

from genderage.pipeline import GenderAge  # noqa: E402
from genderage.preprocess import to_input  # noqa: E402
from genderage.video.analysis import VideoAnalysis  # noqa: E402
from genderage.video.io import VideoSource  # noqa: E402

FPS = 25.0
SIZE = (640, 480)


def make_video(folder: Path, seconds: float) -> Path:
    face = astronaut_portrait()
    frames = animate([face, face[:, ::-1].copy()], size=SIZE, n_frames=int(seconds * FPS),
                     width=200)
    return write_video(folder / "bench.mp4", frames, FPS)


def run_once(analyzer: GenderAge, video: Path, every: int) -> tuple[float, int, int]:
    """Seconds for the whole analysis of the file, frames processed, tracks found."""
    start = time.perf_counter()
    with VideoSource(video) as source:
        analysis = VideoAnalysis(analyzer, source.fps, every)
        n = 0
        for frame in source.frames():
            analysis.step(frame)
            n += 1
        tracks = analysis.finish()
    return time.perf_counter() - start, n, len(tracks)


def stage_costs(analyzer: GenderAge, video: Path, n: int = 30) -> dict[str, float]:
    """Median milliseconds per frame of decoding, detection (+ alignment and quality), the
    attribute model on the frame's faces, and a tracking-only frame."""
    decode, detect_step, track_step, locate, model = [], [], [], [], []
    with VideoSource(video) as source:
        frames = []
        t0 = time.perf_counter()
        for frame in source.frames():
            t1 = time.perf_counter()
            decode.append(t1 - t0)
            frames.append(frame)
            t0 = time.perf_counter()
    analysis = VideoAnalysis(analyzer, FPS, every=2)
    for frame in frames[:2 * n]:
        t0 = time.perf_counter()
        analysis.step(frame)
        (track_step if frame.index % 2 else detect_step).append(time.perf_counter() - t0)
    crops = []
    for frame in frames[:n]:
        t0 = time.perf_counter()
        candidates = analyzer.locate(frame.rgb)
        locate.append(time.perf_counter() - t0)
        crops.append(np.stack([c.crop for c in candidates]))
    for batch in crops:
        t0 = time.perf_counter()
        analyzer.model.run(to_input(batch))
        model.append(time.perf_counter() - t0)
    ms = 1000.0
    return {"decode": statistics.median(decode) * ms,
            "detect+align+quality": statistics.median(locate) * ms,
            "model (2 faces)": statistics.median(model) * ms,
            "detection frame, all": statistics.median(detect_step) * ms,
            "tracking-only frame": statistics.median(track_step) * ms}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--every", type=int, nargs="+", default=[1, 2, 3, 5])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    analyzer = GenderAge()
    with tempfile.TemporaryDirectory() as tmp:
        video = make_video(Path(tmp), args.seconds)
        duration = args.seconds
        run_once(analyzer, video, 1)  # warm-up: sessions, caches
        times: dict[int, list[float]] = {e: [] for e in args.every}
        tracks: dict[int, int] = {}
        for r in range(args.repeats):
            order = args.every[r % len(args.every):] + args.every[:r % len(args.every)]
            for every in order:
                seconds, n, tracks[every] = run_once(analyzer, video, every)
                times[every].append(seconds)
        costs = stage_costs(analyzer, video)

    print(f"video: {SIZE[0]}x{SIZE[1]}, {FPS:.0f} fps, {duration:.0f} s "
          f"({int(duration * FPS)} frames), 2 faces; {args.repeats} interleaved repeats")
    print(f"{'every':>5}  {'frames/s':>8}  {'time/duration':>13}  {'tracks':>6}  runs (s)")
    for every in args.every:
        median = statistics.median(times[every])
        print(f"{every:>5}  {duration * FPS / median:>8.1f}  {median / duration:>13.2f}  "
              f"{tracks[every]:>6}  " + " ".join(f"{t:.2f}" for t in times[every]))
    print("per-frame costs, median ms: " + ", ".join(f"{k} {v:.1f}" for k, v in costs.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
