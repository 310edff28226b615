"""``genderage video INPUT``: track the faces of a video or camera, one answer per person."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..outputs import output_path
from . import add_precision_argument, positive_float, positive_int

PROGRESS_INTERVAL_S = 1.0


def camera_index(text: str) -> int:
    """argparse type: a camera index, an integer >= 0 (OpenCV crashes the process on some
    negative ones)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a camera index (0, 1, ...), got {text!r}")
    return value


def add_parser(sub):
    from ..video import DEFAULT_EVERY

    p = sub.add_parser(
        "video", help="track faces in a video or camera; one gender/age answer per person",
        description="Detect faces every N frames, follow them in between, and give each "
                    "person (track) one answer from all of their frames, weighted by face "
                    "quality. Writes one JSON object per track to --out (default: standard "
                    "output). Outputs are always new files: an existing file or link "
                    "is never written over. Exit status: 0 the video was read (with or without faces), "
                    "1 the video or camera could not be read, 2 usage error.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("input", nargs="?", metavar="INPUT",
                        help="a video file OpenCV reads (mp4, avi, mkv, webm)")
    source.add_argument("--camera", type=camera_index, metavar="INDEX",
                        help="read a camera instead (e.g. 0); stop with Ctrl-C")
    p.add_argument("--out", type=output_path, metavar="TRACKS.jsonl",
                   help="write one JSON object per track here (default: standard output)")
    p.add_argument("--frames", type=output_path, metavar="FRAMES.jsonl",
                   help="also write one JSON object per frame: each face's track id, raw and "
                        "smoothed estimate")
    p.add_argument("--annotate", type=output_path, metavar="OUT.mp4",
                   help="write a copy of the video with boxes, track ids and smoothed labels")
    p.add_argument("--every", type=positive_int, default=DEFAULT_EVERY, metavar="N",
                   help=f"run the detector on every Nth frame and track in between "
                        f"(default: {DEFAULT_EVERY}; 1 = every frame)")
    p.add_argument("--max-fps", type=positive_float, metavar="F",
                   help="process at most F frames per second of video (default: all)")
    p.add_argument("--no-progress", action="store_true",
                   help="do not print progress to standard error")
    p.add_argument("--detector", metavar="SPEC",
                   help="detector backend name or .onnx path (default: the built-in one)")
    p.add_argument("--model", metavar="PATH", help="attribute model .onnx (default: shipped)")
    add_precision_argument(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from ..cli import CliError
    from ..detect import DetectorError
    from ..outputs import OutputExistsError, check_outputs
    from ..pipeline import GenderAge
    from ..video.io import VideoOpenError, VideoSource

    try:
        check_outputs([args.out, args.frames, args.annotate],
                      inputs=[] if args.input is None else [args.input])
    except OutputExistsError as exc:
        raise CliError(str(exc)) from None
    try:
        analyzer = GenderAge(args.model, args.detector, precision=args.precision)
        analyzer.detector  # noqa: B018 - create it now: a bad --detector is a usage error
    except DetectorError as exc:
        raise CliError(str(exc)) from None
    _quiet_opencv()
    try:
        source = VideoSource(args.camera if args.input is None else args.input, args.max_fps)
    except VideoOpenError as exc:
        print(f"genderage video: error: {exc}", file=sys.stderr)
        return 1
    with source:
        try:
            n_tracks = _process(source, analyzer, args)
        except VideoOpenError as exc:
            print(f"genderage video: error: {exc}", file=sys.stderr)
            return 1
    if n_tracks == 0:
        print(f"genderage video: no faces found in {source.name}", file=sys.stderr)
    return 0


def _quiet_opencv() -> None:
    """OpenCV's own warnings about a file or camera it cannot open would precede our one-line
    error; keep its errors only."""
    import cv2

    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is not None:
        logging.setLogLevel(logging.LOG_LEVEL_ERROR)


def _process(source, analyzer, args) -> int:
    """Run the analysis, writing the outputs as it goes; returns the number of tracks."""
    from ..video.analysis import VideoAnalysis
    from ..video.draw import draw_frame

    analysis = VideoAnalysis(analyzer, source.fps, args.every, frame_step=source.step)
    progress = None if args.no_progress else _Progress(source, args.every)
    tracks_out = sys.stdout if args.out is None else _open_text(args.out)
    frames_out = _open_text(args.frames) if args.frames else None
    writer = None
    n_frames = 0
    finished = False
    try:
        try:
            for frame in source.frames():
                result = analysis.step(frame)
                n_frames += 1
                if frames_out is not None:
                    frames_out.write(json.dumps(result.to_dict()) + "\n")
                if args.annotate is not None:
                    if writer is None:
                        writer = _open_writer(args.annotate, source.output_fps, frame.rgb,
                                              args.input)
                    writer.write(draw_frame(frame.rgb, result))
                if progress is not None:
                    progress.update(frame, n_frames, len(analysis.tracker.tracks))
        except KeyboardInterrupt:
            if not source.is_camera:
                raise
        tracks = analysis.finish()
        for track in tracks:
            tracks_out.write(json.dumps(track.to_dict()) + "\n")
        finished = True
    finally:
        for out in (tracks_out, frames_out):
            if out is not None and out is not sys.stdout:
                out.close()
        if writer is not None:
            writer.close(keep=finished)
    if progress is not None:
        progress.done(n_frames, len(tracks))
    return len(tracks)


def _open_text(path: Path):
    """Create an output file before any work is done, so a bad path fails at once."""
    from ..cli import CliError
    from ..outputs import OutputExistsError, create_new

    try:
        return create_new(path, "w", encoding="utf-8")
    except OutputExistsError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None


def _open_writer(path: Path, fps: float, first_frame, audio_from: str | None):
    from ..cli import CliError
    from ..video.io import VideoOpenError

    h, w = first_frame.shape[:2]
    try:
        return _StagedVideo(path, fps, (w, h), audio_from)
    except (VideoOpenError, OSError) as exc:
        raise CliError(str(exc)) from None


class _StagedVideo:
    """The annotated video, written under a temporary name and linked into place at the end
    (:class:`~genderage.outputs.StagedOutput`): OpenCV's writer only takes a path."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int], audio_from: str | None):
        from ..outputs import StagedOutput
        from ..video import browser_writer
        from ..video.io import VideoWriter

        self.staged = StagedOutput(path)
        try:
            if browser_writer.available():  # H.264 / VP9 and the audio: browsers play it
                self.writer = browser_writer.BrowserVideoWriter(self.staged.tmp, fps, size,
                                                                audio_from)
            else:
                print("genderage video: writing MPEG-4 Part 2 without sound, which browsers "
                      "do not play; pip install 'genderage[video]' for H.264 with the "
                      "source's audio", file=sys.stderr)
                self.writer = VideoWriter(self.staged.tmp, fps, size)
        except BaseException:
            self.staged.discard()
            raise

    def write(self, rgb) -> None:
        self.writer.write(rgb)

    def close(self, keep: bool) -> None:
        from ..cli import CliError
        from ..outputs import OutputExistsError

        self.writer.close()
        if not keep:
            self.staged.discard()
            return
        try:
            self.staged.commit()
        except OutputExistsError as exc:
            raise CliError(str(exc)) from None


class _Progress:
    """One status line on standard error, refreshed about once a second."""

    def __init__(self, source, every: int):
        self.source = source
        self.start = time.monotonic()
        self.last = 0.0
        print(f"genderage video: {source.name}: {source.size[0]}x{source.size[1]} at "
              f"{source.fps:.1f} fps, detecting every {every} frame(s)"
              + (f", keeping every {source.step}th frame" if source.step > 1 else ""),
              file=sys.stderr, flush=True)

    def update(self, frame, n_frames: int, n_live: int) -> None:
        now = time.monotonic()
        if not sys.stderr.isatty() or now - self.last < PROGRESS_INTERVAL_S:
            return
        self.last = now
        total = f"/{self.source.frame_count}" if self.source.frame_count else ""
        rate = n_frames / max(now - self.start, 1e-9)
        print(f"\rframe {frame.index + 1}{total}  {frame.time_s:6.1f} s  "
              f"{n_live} live track(s)  {rate:5.1f} frames/s", end="", file=sys.stderr,
              flush=True)

    def done(self, n_frames: int, n_tracks: int) -> None:
        elapsed = time.monotonic() - self.start
        print(f"\rgenderage video: {n_frames} frames in {elapsed:.1f} s "
              f"({n_frames / max(elapsed, 1e-9):.1f} frames/s), {n_tracks} track(s)",
              file=sys.stderr, flush=True)
