"""A video, frame by frame: detect every Nth frame, track faces, one answer per track.

On a detection frame every face is detected, aligned and assessed, all faces go through the
attribute model in one call (:meth:`GenderAge.analyze`, as a photo's faces do), and the
:class:`~genderage.video.tracker.Tracker` links them to tracks; each track's
:class:`~genderage.video.smoothing.TrackSmoother` takes the new prediction's raw outputs and
decodes its averages with the model's calibration. On the frames in between, the tracks
seen at the last detection are moved by their velocity and shown with their running
estimate; neither the detector nor the model runs.

Every frame also goes through the :class:`~genderage.video.shots.ShotDetector`. At a cut all
live tracks end, and the detector runs on the cut frame itself (the count to the next
detection starts again there): a track never spans two shots, and a face that appears with a
new shot is found on its first frame.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from ..options import FaceOptions
from ..pipeline import Candidate, GenderAge, LocatedImage
from . import DEFAULT_EVERY
from .io import Frame
from .records import FrameResult, TrackedFace, TrackResult
from .shots import ShotDetector
from .smoothing import Estimate, TrackSmoother, quality_weight
from .tracker import Tracker

log = logging.getLogger(__name__)

MAX_GAP_S = 1.0
"""Seconds a track survives without a detection (occlusion, missed detections), and never
less than :data:`MIN_DETECTIONS_MISSED` + 1 detection intervals (see :func:`max_gap_frames`)."""

MIN_DETECTIONS_MISSED = 1
"""Detections in a row a track may miss, however low the frame rate."""


def max_gap_frames(fps: float, every: int, frame_step: int = 1,
                   max_gap_s: float = MAX_GAP_S) -> int:
    """Source frames a track may go undetected: ``max_gap_s`` of video, but at least
    ``MIN_DETECTIONS_MISSED + 1`` detection intervals (``every * frame_step`` source frames
    each). At 25 fps, every 5th frame, that is 25 frames (1 s); at 4 fps it would be 4
    frames, less than one interval of 5, so every detection would start a new track: it is
    10 (2.5 s)."""
    interval = every * frame_step
    return max(1, round(max_gap_s * fps), (MIN_DETECTIONS_MISSED + 1) * interval)


@dataclass
class _TrackState:
    smoother: TrackSmoother
    first_frame: int
    first_time_s: float
    shot: int = 0
    last_frame: int = 0
    last_time_s: float = 0.0
    n_frames: int = 0
    pending_frames: int = 0
    shown_s: float = 0.0
    pending_s: float = 0.0
    best_weight: float = -1.0
    best_low_quality: bool = True
    best_frame: int = 0
    best_bbox: tuple = (0.0, 0.0, 0.0, 0.0)
    smoothed: Estimate | None = None

    def add_detection(self, frame: Frame, frame_s: float, candidate: Candidate,
                      main: np.ndarray, age_probs: np.ndarray | None) -> Estimate:
        self.smoothed = self.smoother.add(main, age_probs, candidate.quality)
        self.last_frame, self.last_time_s = frame.index, frame.time_s
        self.n_frames += self.pending_frames + 1
        self.shown_s += self.pending_s + frame_s
        self.pending_frames, self.pending_s = 0, 0.0
        weight = quality_weight(candidate.quality)
        low = candidate.quality.low_quality
        # A good face beats any flagged one; among equals, the higher weight wins.
        if (self.best_low_quality, -self.best_weight) > (low, -weight):
            self.best_weight, self.best_low_quality = weight, low
            self.best_frame = frame.index
            self.best_bbox = tuple(float(v) for v in candidate.bbox)
        return self.smoothed

    def result(self, track_id: int, options: FaceOptions, settings: dict,
               age_probs: bool = False) -> TrackResult:
        answer = self.smoother.average()
        p_female = answer.gender_probability if answer.gender == "female" \
            else 1.0 - answer.gender_probability
        probs = self.smoother.age_distribution() if age_probs else None
        return TrackResult(
            track_id=track_id, first_frame=self.first_frame, last_frame=self.last_frame,
            first_time_s=self.first_time_s, last_time_s=self.last_time_s,
            n_frames=self.n_frames, n_frames_used=answer.n_used,
            gender=options.label(answer.gender, answer.gender_probability),
            gender_probability=answer.gender_probability, age=answer.age,
            age_interval=answer.age_interval, best_frame=self.best_frame,
            best_bbox=self.best_bbox, low_quality=answer.low_quality,
            female_probability=p_female, settings=settings, shot=self.shot,
            # The frames shown after the last detection count: on average they make up
            # for the frames before the first one (see TrackResult.on_screen_s).
            on_screen_s=self.shown_s + self.pending_s,
            age_probs=None if probs is None else tuple(float(v) for v in probs))


class VideoAnalysis:
    """The running analysis of one video; feed it frames in order, then :meth:`finish`.

    Args:
        analyzer: the detector and attribute model to use.
        fps: frames per second of the source (frame indices count source frames).
        every: run the detector on every ``every``-th frame given to :meth:`step`.
        max_gap_s: seconds a track may go undetected before it ends (at least two
            detection intervals: :func:`max_gap_frames`).
        age_probs: keep each track's age distribution (``TrackResult.age_probs``).
        frame_step: the frames given are every ``frame_step``-th of the source
            (``VideoSource.step`` under ``--max-fps``): each stands for that many.
    """

    def __init__(self, analyzer: GenderAge, fps: float, every: int = DEFAULT_EVERY,
                 max_gap_s: float = MAX_GAP_S, age_probs: bool = False, frame_step: int = 1):
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.analyzer = analyzer
        self.settings = {**analyzer.detector_settings(),
                         "min_gender_probability": analyzer.options.min_gender_probability}
        self.every = every
        self.age_probs = age_probs
        self.tracker = Tracker(max_gap=max_gap_frames(fps, every, frame_step, max_gap_s))
        self.shots = ShotDetector()
        self._states: dict[int, _TrackState] = {}
        self._shown: list[int] = []
        self._steps = 0
        self._frame_s = frame_step / fps
        self.finished: list[TrackResult] = []

    def step(self, frame: Frame) -> FrameResult:
        """Process one frame; returns its faces. Tracks that ended are added to ``finished``."""
        if self.shots.update(frame.rgb).cut:
            self._end_all()
            self._steps = 0
        detect = self._steps % self.every == 0
        self._steps += 1
        if detect:
            return self._detect(frame)
        faces = []
        for track_id, box in self.tracker.predict(frame.index):
            if track_id in self._shown:
                state = self._states[track_id]
                state.pending_frames += 1
                state.pending_s += self._frame_s
                faces.append(TrackedFace(track_id, tuple(float(v) for v in box), None,
                                         state.smoothed))
        return FrameResult(frame.index, frame.time_s, False, faces)

    def _detect(self, frame: Frame) -> FrameResult:
        candidates = self.analyzer.locate(frame.rgb)
        ids, ended = self.tracker.update(frame.index, [c.bbox for c in candidates])
        self._end(ended)
        faces = []
        if candidates:
            options = self.analyzer.options
            results, batch = self.analyzer.analyze([LocatedImage(None, tuple(candidates))])
            for k, (c, face, track_id) in enumerate(zip(candidates, results[0].faces, ids)):
                state = self._states.get(track_id)
                if state is None:
                    state = _TrackState(TrackSmoother(self.analyzer.model.calibration),
                                        frame.index, frame.time_s, self.shots.shot)
                    self._states[track_id] = state
                smoothed = state.add_detection(
                    frame, self._frame_s, c, batch.logits[k],
                    None if batch.age_probs is None else batch.age_probs[k])
                # The smoother's hysteresis keeps its own label; only what is shown changes.
                state.smoothed = smoothed = replace(smoothed, gender=options.label(
                    smoothed.gender, smoothed.gender_probability))
                faces.append(TrackedFace(track_id, tuple(float(v) for v in c.bbox), face,
                                         smoothed))
        self._shown = list(ids)
        return FrameResult(frame.index, frame.time_s, True, faces)

    def finish(self) -> list[TrackResult]:
        """End all tracks; returns every track of the video, by id."""
        self._end_all()
        return sorted(self.finished, key=lambda t: t.track_id)

    def _end_all(self) -> None:
        self._end(self.tracker.finish())
        self._shown = []

    def _end(self, tracks) -> None:
        for track in tracks:
            state = self._states.pop(track.track_id)
            self.finished.append(state.result(track.track_id, self.analyzer.options,
                                              self.settings, self.age_probs))
