"""Many videos -> one Parquet table, one row per track (``genderage video ... --out DIR``).

:data:`TRACK_COLUMNS` is the one declaration of the table's columns (docs/video.md lists
them). A video with no face, or one that could not be read, gives ONE row whose track
columns are null (``error`` / ``error_kind`` say why for the latter), so the table says
which videos were done. A video that stopped decoding before its stated length (truncated)
keeps its tracks, and each of its rows says so in ``error`` with ``error_kind =
"truncated"``.

The unit of work is one video: :class:`VideoChunkAnalyzer` is what the batch engines
(:mod:`genderage.batch.local`, :mod:`genderage.batch.ray_engine`) run per task.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import pyarrow as pa

from .. import __version__
from ..models import file_sha256
from ..onnx_runtime import RuntimeOptions
from ..options import FaceOptionFields
from ..pipeline import GenderAge, resolve_model_path
from . import DEFAULT_EVERY
from .records import TrackResult, track_row

VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg",
                              ".mpeg", ".ts", ".mts", ".flv", ".wmv", ".3gp", ".ogv"})
"""Extensions a folder is searched for (files named explicitly are tried whatever theirs)."""

TRUNCATED_FRACTION = 0.98
"""A video whose decoded frames fall short of this fraction of its stated frame count is
reported as truncated (container frame counts are estimates, hence the margin)."""

TRACK_COLUMNS = [
    pa.field("path", pa.string(), nullable=False),
    pa.field("track_id", pa.int32()),
    pa.field("shot", pa.int32()),
    pa.field("first_time_s", pa.float64()),
    pa.field("last_time_s", pa.float64()),
    pa.field("on_screen_s", pa.float64()),
    pa.field("first_frame", pa.int32()),
    pa.field("last_frame", pa.int32()),
    pa.field("n_frames", pa.int32()),
    pa.field("n_frames_used", pa.int32()),
    pa.field("gender", pa.string()),
    pa.field("gender_probability", pa.float32()),
    pa.field("female_probability", pa.float32()),
    pa.field("age", pa.float32()),
    pa.field("age_low", pa.float32()),
    pa.field("age_high", pa.float32()),
    pa.field("best_frame", pa.int32()),
    pa.field("best_bbox", pa.list_(pa.float32(), 4)),
    pa.field("low_quality", pa.bool_()),
    pa.field("video_duration_s", pa.float64()),
    pa.field("fps", pa.float32()),
    pa.field("error", pa.string()),
    pa.field("error_kind", pa.string()),
    pa.field("model_sha256", pa.string(), nullable=False),
    pa.field("genderage_version", pa.string(), nullable=False),
]
AGE_PROBS = pa.field("age_probs", pa.list_(pa.float32()))


def tracks_schema(age_probs: bool) -> pa.Schema:
    """The table's schema; ``age_probs`` adds each track's age distribution column."""
    return pa.schema(TRACK_COLUMNS + ([AGE_PROBS] if age_probs else []))


@dataclass(frozen=True)
class VideoOutcome:
    """What analysing one video gave.

    Attributes:
        path: the video as named in the inputs.
        tracks: its tracks (empty without faces or on error).
        duration_s: seconds of video decoded (``None`` when none could be).
        fps: the source's frame rate (``None`` when it could not be opened).
        error, error_kind: why the video could not be read, or was cut short; ``None``
            when it was read to the end.
    """

    path: str
    tracks: list[TrackResult]
    duration_s: float | None = None
    fps: float | None = None
    error: str | None = None
    error_kind: str | None = None


def outcomes_table(outcomes: list[VideoOutcome], age_probs: bool, model_sha256: str,
                   version: str = __version__) -> pa.Table:
    """Rows of :func:`tracks_schema` for ``outcomes``: one per track, one per video
    without any."""
    empty = dict.fromkeys(f.name for f in tracks_schema(age_probs))
    rows = []
    for o in outcomes:
        base = {**empty, "path": o.path, "video_duration_s": o.duration_s, "fps": o.fps,
                "error": o.error, "error_kind": o.error_kind, "model_sha256": model_sha256,
                "genderage_version": version}
        if not o.tracks:
            rows.append(base)
        for track in o.tracks:
            row = {**base, **track_row(track)}
            if age_probs:
                row["age_probs"] = None if track.age_probs is None else list(track.age_probs)
            rows.append(row)
    return pa.Table.from_pylist(rows, schema=tracks_schema(age_probs))


@dataclass(frozen=True)
class VideoOptions(FaceOptionFields):
    """What the rows depend on; parts written with other options are not resumed.

    Attributes:
        model: attribute model path, ``None`` for the shipped one.
        detector: detector spec, ``None`` for the default backend.
        every: run the detector on every Nth frame.
        max_fps: keep at most this many frames per second (``None``: all).
        age_probs: add each track's age distribution.
        min_face, det_threshold, max_faces, min_gender_probability: the face options
            (:class:`~genderage.options.FaceOptions`; ``None``: off / the detector's own).
    """

    model: str | None = None
    detector: str | None = None
    every: int = DEFAULT_EVERY
    max_fps: float | None = None
    age_probs: bool = False

    def check(self) -> None:
        """Fail now, not in every worker, on options that cannot work.

        Raises:
            FileNotFoundError: the model file is missing.
            DetectorError: the detector spec names no usable backend.
            ValueError: ``age_probs`` with a model that has no such output.
        """
        from ..attribute import AttributeModel

        model = AttributeModel(resolve_model_path(self.model))
        if self.age_probs and not model.has_age_probs:
            raise ValueError(f"{model.path}: --age-probs needs a model with an 'age_probs' "
                             f"output; this one has {model.output_names}")
        if self.detector is not None:
            from ..detect import create_detector

            create_detector(self.detector)

    def fingerprint(self) -> str:
        """JSON of the options, the model by its SHA-256; ``"kind": "video"`` keeps a
        photo batch's parts and a video table's apart."""
        described = {**asdict(self), "kind": "video",
                     "model": file_sha256(resolve_model_path(self.model)),
                     "detector": self.detector or "default"}
        return json.dumps(described, sort_keys=True)


def analyze_video(analyzer: GenderAge, path: str, options: VideoOptions) -> VideoOutcome:
    """Track the faces of one video file; a video that cannot be read is an outcome with
    an error, never an exception."""
    import os

    from .analysis import VideoAnalysis
    from .io import VideoOpenError, VideoSource

    if os.path.isfile(path) and os.path.getsize(path) == 0:
        return VideoOutcome(path, [], error=f"{path}: empty file (0 bytes)", error_kind="empty")
    try:
        source = VideoSource(path, options.max_fps)
    except VideoOpenError as exc:
        return VideoOutcome(path, [], error=str(exc), error_kind="unreadable")
    with source:
        analysis = VideoAnalysis(analyzer, source.fps, options.every,
                                 age_probs=options.age_probs, frame_step=source.step)
        last = -1
        try:
            for frame in source.frames():
                analysis.step(frame)
                last = frame.index
        except VideoOpenError as exc:
            return VideoOutcome(path, [], 0.0, source.fps, str(exc), "no_frames")
        tracks = analysis.finish()
        decoded = last + 1
        duration = decoded / source.fps
        stated = source.frame_count
        if stated and decoded < TRUNCATED_FRACTION * stated:
            return VideoOutcome(path, tracks, duration, source.fps,
                                f"{path}: truncated: decoded {decoded} of {stated} frames "
                                f"({duration:.1f} s); the tracks cover that part only",
                                "truncated")
        return VideoOutcome(path, tracks, duration, source.fps)


analyse_video = analyze_video  # the earlier spelling, kept for one release


class VideoChunkAnalyzer:
    """Turns lists of video paths into rows: the unit of work of the batch engines.

    Args:
        options: the run's :class:`VideoOptions`.
        threads: the most onnxruntime threads any session of the worker uses, the attribute
            model's and every detector network's (``None``: each session's own default).
    """

    def __init__(self, options: VideoOptions, threads: int | None = None):
        from ..attribute import AttributeModel

        self.options = options
        runtime = RuntimeOptions(threads=threads)
        model = AttributeModel(resolve_model_path(options.model), runtime)
        self.analyzer = GenderAge(model, options.detector, runtime=runtime,
                                  **options.face_options())
        self.model_sha256 = file_sha256(model.path)

    def __call__(self, paths: list[str]) -> pa.Table:
        outcomes = [analyze_video(self.analyzer, path, self.options) for path in paths]
        return outcomes_table(outcomes, self.options.age_probs, self.model_sha256)
