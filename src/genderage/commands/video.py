"""``genderage video INPUT...``: track the faces of videos or a camera, one answer per person.

One video file gives JSON lines (``--out TRACKS.jsonl`` or standard output); several
videos, folders or path lists give a Parquet dataset (``--out DIR.parquet``) made by the
batch engines, resumable (``genderage.video.job``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..outputs import output_path
from ..writers import FORMATS
from . import (add_engine_arguments, add_face_options, add_precision_argument,
               create_engine_from, engine_failure, face_options, positive_float, positive_int,
               progress_wanted)

PROGRESS_INTERVAL_S = 1.0
LIST_SUFFIXES = (".txt", ".csv", ".parquet")


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
        "video", help="track faces in videos or a camera; one gender/age answer per person",
        description="Detect faces every N frames, follow them in between (a track ends at "
                    "a shot cut), and give each person (track) one answer from all of their "
                    "frames, weighted by face quality. One video: one JSON object per track "
                    "to --out TRACKS.jsonl (default: standard output). Several videos, "
                    "folders or path lists, or --out DIR.parquet: a Parquet dataset with "
                    "one row per track, resumable as `genderage batch` is (docs/video.md). "
                    "Exit status: 0 every video was read (with or without faces), 1 a video "
                    "or the camera could not be read, a video was cut short, or a folder "
                    "held files that are not videos (each named on standard error), 2 usage "
                    "error. Outputs are always new files: an existing file or link is never "
                    "written over.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("inputs", nargs="*", default=[], metavar="INPUT",
                        help="video files OpenCV reads (mp4, avi, mkv, webm...), folders "
                             "(recursive), or .txt/.csv/.parquet lists of paths")
    source.add_argument("--camera", type=camera_index, metavar="INDEX",
                        help="read a camera instead (e.g. 0); stop with Ctrl-C")
    p.add_argument("--out", type=output_path, metavar="TRACKS.jsonl|DIR.parquet",
                   help="one video: write one JSON object per track here (default: standard "
                        "output); a name ending in .parquet, or several videos: the Parquet "
                        "dataset folder")
    p.add_argument("--format", choices=FORMATS,
                   help="how one video's tracks are written: jsonl (default), csv (one row "
                        "per track, full precision) or table (aligned, for reading)")
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
    add_face_options(p)
    p.add_argument("--age-probs", action="store_true",
                   help="store each track's age distribution (age_probs)")
    table = p.add_argument_group("many videos (--out DIR.parquet)")
    add_engine_arguments(table, "videos")
    table.add_argument("--part-size", type=positive_int, default=1, metavar="N",
                       help="videos per part file; a killed run redoes at most the videos "
                            "not yet in a part (default: 1)")
    table.add_argument("--overwrite", action="store_true",
                       help="delete the part files already in --out and start afresh")
    add_precision_argument(p)
    p.set_defaults(run=run)


def is_table_run(args) -> bool:
    """Whether the inputs and ``--out`` ask for a Parquet dataset rather than JSON lines."""
    if args.camera is not None:
        return False
    if args.out is not None and (args.out.suffix.lower() == ".parquet" or args.out.is_dir()):
        return True
    return len(args.inputs) != 1 or Path(args.inputs[0]).is_dir() \
        or Path(args.inputs[0]).suffix.lower() in LIST_SUFFIXES


def run(args) -> int:
    from ..errors import CliError

    if is_table_run(args):
        return run_table(args)
    if args.engine != "local" or args.cluster or args.workers or args.overwrite:
        raise CliError("--engine, --workers, --cluster and --overwrite are for many "
                       "videos into --out DIR.parquet")
    args.input = args.inputs[0] if args.inputs else None
    return run_one(args)


def run_one(args) -> int:
    from ..errors import CliError
    from ..detect import DetectorError
    from ..outputs import OutputExistsError, check_outputs
    from ..pipeline import GenderAge
    from ..video.io import VideoOpenError, VideoSource

    knobs = face_options(args)
    try:
        check_outputs([args.out, args.frames, args.annotate],
                      inputs=[] if args.input is None else [args.input])
    except OutputExistsError as exc:
        raise CliError(str(exc)) from None
    try:
        analyzer = GenderAge(args.model, args.detector, precision=args.precision, **knobs)
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
    from ..models import file_sha256
    from ..video.analysis import VideoAnalysis
    from ..video.draw import draw_frame
    from ..video.records import tracks_layout
    from ..writers import open_writer

    model_sha256 = file_sha256(analyzer.model.path)
    analysis = VideoAnalysis(analyzer, source.fps, args.every, age_probs=args.age_probs,
                             frame_step=source.step)
    progress = None if args.no_progress else _Progress(source, args.every)
    tracks_out = sys.stdout if args.out is None else _open_text(args.out)
    tracks_writer = open_writer(args.format or "jsonl", tracks_out, tracks_layout(model_sha256))
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
            tracks_writer.write(track)
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
    from ..errors import CliError
    from ..outputs import OutputExistsError, create_new

    try:
        return create_new(path, "w", encoding="utf-8")
    except OutputExistsError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None


def _open_writer(path: Path, fps: float, first_frame, audio_from: str | None):
    from ..errors import CliError
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
        from ..errors import CliError
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


def run_table(args) -> int:
    """Many videos -> a Parquet dataset of tracks, on the batch engines."""
    from ..errors import CliError

    if args.out is None:
        raise CliError("several videos, a folder or a path list need --out DIR.parquet")
    if args.frames or args.annotate or args.format:
        raise CliError("--frames, --annotate and --format are for one video with --out "
                       "TRACKS.jsonl; many videos give a Parquet dataset")
    from ..batch.inputs import InputError
    from ..batch.store import OutputError
    from ..detect import DetectorError
    from ..video.job import VideoJob
    from ..video.table import VideoOptions

    engine = create_engine_from(args)
    model = args.model
    if args.precision is not None:  # the shipped file of that precision, by path
        from ..pipeline import resolve_model_path

        model = str(resolve_model_path(args.model, args.precision))
    options = VideoOptions(model=model, detector=args.detector, every=args.every,
                           max_fps=args.max_fps, age_probs=args.age_probs, **face_options(args))
    try:
        options.check()
        job = VideoJob(args.inputs, str(args.out), options, overwrite=args.overwrite)
    except (InputError, OutputError, DetectorError) as exc:
        raise CliError(str(exc)) from None
    for entry in job.found.skipped:
        print(f"genderage video: skipped {entry.path}: {entry.reason}", file=sys.stderr)
    if not job.paths:
        job.close()
        raise CliError(f"no video files found in {', '.join(args.inputs)}")
    from tqdm import tqdm

    with tqdm(total=len(job.paths), initial=len(job.paths) - len(job.todo), unit="video",
              desc="genderage video", file=sys.stderr, dynamic_ncols=True,
              disable=not progress_wanted(args, results_on_stdout=False)) as bar:
        try:
            summary = job.run(engine, args.part_size, progress=bar.update)
        except engine.failures as exc:
            raise engine_failure(args.engine, exc) from None
    for message in summary.failures.values():
        print(f"genderage video: error: {message}", file=sys.stderr)
    done_before = summary.videos - summary.new_videos
    rate = summary.new_video_s / summary.wall_s if summary.wall_s > 0 else 0.0
    lines = [f"genderage video: {summary.videos} videos ({summary.new_videos} analysed now, "
             f"{done_before} already in {args.out}), {summary.video_s / 3600:.2f} h of video, "
             f"{summary.tracks} tracks, {len(summary.failures)} failed or cut short",
             f"  wall time {summary.wall_s:.1f} s, {rate:.2f} s of video per second"]
    if summary.nodes:
        lines.append("  videos per node: " + ", ".join(
            f"{node[:12]}: {n}" for node, n in sorted(summary.nodes.items())))
    print("\n".join(lines), file=sys.stderr)
    return 1 if summary.failures or job.found.skipped else 0
