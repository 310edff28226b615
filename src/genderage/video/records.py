"""Typed records of a video analysis, each with a stable ``to_dict()``.

``TrackResult.to_dict()`` is one line of ``genderage video --out TRACKS.jsonl``;
``FrameResult.to_dict()`` is one line of ``--frames FRAMES.jsonl``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..results import Face
from .smoothing import Estimate


def _box(bbox) -> list[float]:
    return [round(float(v), 2) for v in bbox]


@dataclass(frozen=True)
class TrackedFace:
    """One face in one frame.

    Attributes:
        track_id: the track it belongs to.
        bbox: ``(x1, y1, x2, y2)`` pixels: the detected box, or between detections the
            track's box moved by its velocity.
        raw: this frame's own prediction, or ``None`` when the frame was not run through
            the detector (see ``--every``).
        smoothed: the track's running estimate up to this frame (hysteresis label).
    """

    track_id: int
    bbox: tuple[float, float, float, float]
    raw: Face | None
    smoothed: Estimate

    def to_dict(self) -> dict:
        return {"track_id": self.track_id, "bbox": _box(self.bbox),
                "detected": self.raw is not None,
                "raw": None if self.raw is None else self.raw.to_dict(),
                "smoothed": self.smoothed.to_dict()}


@dataclass(frozen=True)
class FrameResult:
    """The faces of one processed frame.

    Attributes:
        frame: frame index in the source (from 0).
        time_s: seconds from the start.
        detected: the detector ran on this frame.
        faces: the faces shown in it, by track.
    """

    frame: int
    time_s: float
    detected: bool
    faces: list[TrackedFace]

    def to_dict(self) -> dict:
        return {"frame": self.frame, "time_s": round(self.time_s, 3),
                "detected": self.detected, "faces": [f.to_dict() for f in self.faces]}


@dataclass(frozen=True)
class TrackResult:
    """One person's answer, from all frames of their track.

    Attributes:
        track_id: the id used in the frames and the annotated video.
        first_frame, last_frame: frame indices of the first and the last detection.
        first_time_s, last_time_s: their times, seconds.
        n_frames: processed frames in which the face was shown (detected, or followed
            between detections), from ``first_frame`` to ``last_frame``.
        n_frames_used: detections whose prediction went into the answer.
        gender, gender_probability: argmax and calibrated probability of the
            quality-weighted average of the logits; ``gender`` is ``None`` ("unknown")
            when that probability is below the ``min_gender_probability`` asked for.
        age, age_interval: expectation of the quality-weighted average age distribution,
            and the model's calibrated interval around it.
        best_frame, best_bbox: the frame and box of the track's highest-weighted face.
        low_quality: every detection of this track was flagged low quality.
        female_probability: calibrated P(female) of the same average (no threshold).
        settings: the run's detector name and settings and ``min_gender_probability``
            (:meth:`~genderage.pipeline.GenderAge.detector_settings`), in every record.
        shot: index of the camera shot the track lies in (from 0; a track never spans a
            cut, see :mod:`genderage.video.shots`).
        on_screen_s: seconds of video in which the face was shown: every processed frame
            from its first detection to the last frame before the next detection that did
            not find it (or the cut, or the end), each counting the source frames it stands
            for. On average this neither gains nor loses the frames between detections.
        age_probs: the track's age distribution (quality-weighted mean of its faces'),
            ``[121]``, when asked for; ``None`` otherwise.
    """

    track_id: int
    first_frame: int
    last_frame: int
    first_time_s: float
    last_time_s: float
    n_frames: int
    n_frames_used: int
    gender: str | None
    gender_probability: float
    age: float
    age_interval: tuple[float, float]
    best_frame: int
    best_bbox: tuple[float, float, float, float]
    low_quality: bool
    female_probability: float
    settings: dict
    shot: int = 0
    on_screen_s: float = 0.0
    age_probs: tuple[float, ...] | None = None

    def to_dict(self) -> dict:
        out = {"track_id": self.track_id, "shot": self.shot, "first_frame": self.first_frame,
                "last_frame": self.last_frame, "first_time_s": round(self.first_time_s, 3),
                "last_time_s": round(self.last_time_s, 3),
                "on_screen_s": round(self.on_screen_s, 3), "n_frames": self.n_frames,
                "n_frames_used": self.n_frames_used, "gender": self.gender,
                "gender_probability": round(float(self.gender_probability), 4),
                "age": round(float(self.age), 2),
                "age_interval": [round(float(v), 2) for v in self.age_interval],
                "best_frame": self.best_frame, "best_bbox": _box(self.best_bbox),
                "low_quality": self.low_quality,
                "female_probability": round(float(self.female_probability), 4),
                "settings": dict(self.settings)}
        if self.age_probs is not None:
            out["age_probs"] = [round(float(v), 6) for v in self.age_probs]
        return out


def jsonl_record(track: TrackResult, model_sha256: str) -> dict:
    """One line of ``genderage video VIDEO --out TRACKS.jsonl``: ``track.to_dict()`` and the
    provenance the Parquet table also carries (docs/video.md)."""
    from .. import __version__

    return {**track.to_dict(), "model_sha256": model_sha256, "genderage_version": __version__}


TRACK_ROW_COLUMNS = ("track_id", "shot", "first_time_s", "last_time_s", "on_screen_s",
                     "first_frame", "last_frame", "n_frames", "n_frames_used", "gender",
                     "gender_probability", "female_probability", "age", "age_low", "age_high",
                     "best_frame", "best_bbox", "low_quality")
"""The keys of :func:`track_row`, in order."""


def track_row(track: TrackResult) -> dict:
    """The track columns of one row (full precision; the JSONL rounds for display): the
    Parquet table's (:mod:`genderage.video.table`) and ``--format csv``'s."""
    return {"track_id": track.track_id, "shot": track.shot,
            "first_time_s": track.first_time_s, "last_time_s": track.last_time_s,
            "on_screen_s": track.on_screen_s, "first_frame": track.first_frame,
            "last_frame": track.last_frame, "n_frames": track.n_frames,
            "n_frames_used": track.n_frames_used, "gender": track.gender,
            "gender_probability": track.gender_probability,
            "female_probability": track.female_probability, "age": track.age,
            "age_low": track.age_interval[0], "age_high": track.age_interval[1],
            "best_frame": track.best_frame, "best_bbox": list(track.best_bbox),
            "low_quality": track.low_quality}


def tracks_layout(model_sha256: str):
    """How ``genderage video`` prints one video's tracks in each ``--format``
    (:mod:`genderage.writers`): ``jsonl`` :func:`jsonl_record`; ``csv`` :func:`track_row`
    with the provenance columns; ``table`` the answer per track."""
    from .. import __version__
    from ..writers import Layout, TableColumn

    provenance = {"model_sha256": model_sha256, "genderage_version": __version__}

    def rows(track: TrackResult) -> list[dict]:
        return [{**track_row(track), **provenance}]

    return Layout(
        command="genderage video", to_json=lambda track: jsonl_record(track, model_sha256),
        columns=(*TRACK_ROW_COLUMNS, *provenance), rows=rows,
        table=(TableColumn("track", 5, lambda r: str(r["track_id"])),
               TableColumn("shot", 4, lambda r: str(r["shot"])),
               TableColumn("from_s", 8, lambda r: f"{r['first_time_s']:.1f}"),
               TableColumn("to_s", 8, lambda r: f"{r['last_time_s']:.1f}"),
               TableColumn("gender", -9, lambda r: r["gender"] or "unknown"),
               TableColumn("p", 4, lambda r: f"{r['gender_probability']:.2f}"),
               TableColumn("age", 5, lambda r: f"{r['age']:.1f}"),
               TableColumn("interval", 7, lambda r: f"{r['age_low']:.0f}-{r['age_high']:.0f}"),
               TableColumn("frames", 6, lambda r: str(r["n_frames_used"])),
               TableColumn("quality", -1, lambda r: "low" if r["low_quality"] else "ok")))
