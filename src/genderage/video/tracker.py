"""Linking face detections across video frames: greedy IoU matching with a motion model.

A track remembers its last detected box and a smoothed velocity (box change per frame).
To match new detections, every live track is moved to the current frame with that velocity;
a pair's overlap is the larger IoU of the detection with the moved box and with the last
seen box (a face that stopped moving is still found), and pairs are taken greedily by
decreasing overlap. A track that finds no
detection keeps its id while it has been unseen for at most ``max_gap`` frames, so a face
that the detector misses for a few frames, or that passes behind something, comes back under
the same id. No tracker library fits the core install (the maintained ones pull scipy,
filterpy or torch); with a handful of faces per frame, greedy matching is as good as an
optimal assignment and needs no solver.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

VELOCITY_MOMENTUM = 0.5
"""Weight of the old velocity when a new detection updates it (1 = never update)."""


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` with every box in ``b``.

    Args:
        a: ``[N, 4]`` boxes ``x1, y1, x2, y2``.
        b: ``[M, 4]`` boxes.

    Returns:
        float64 ``[N, M]`` in [0, 1]; 0 for degenerate (empty) boxes.
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def greedy_match(iou: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Pairs ``(row, col)`` taken by decreasing IoU, each row and column at most once, only
    pairs with IoU >= ``threshold``. Ties go to the lower row, then the lower column."""
    pairs = []
    if iou.size == 0:
        return pairs
    rows, cols = np.nonzero(iou >= threshold)
    order = np.lexsort((cols, rows, -iou[rows, cols]))
    used_rows, used_cols = set(), set()
    for r, c in zip(rows[order], cols[order]):
        if r not in used_rows and c not in used_cols:
            pairs.append((int(r), int(c)))
            used_rows.add(r)
            used_cols.add(c)
    return pairs


@dataclass
class Track:
    """One face followed through the video.

    Attributes:
        track_id: stable id, counting from 1 in order of first appearance.
        box: float64 ``[4]`` last detected box.
        frame: frame index of ``box``.
        velocity: float64 ``[4]`` smoothed box change per frame.
        first_frame: frame index of the first detection.
        hits: number of detections matched to this track.
    """

    track_id: int
    box: np.ndarray
    frame: int
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4))
    first_frame: int = 0
    hits: int = 1

    def predict(self, frame: int) -> np.ndarray:
        """The box extrapolated to ``frame`` with the track's velocity."""
        return self.box + self.velocity * (frame - self.frame)


class Tracker:
    """Assigns track ids to the detections of successive frames.

    Args:
        iou_threshold: smallest IoU between a detection and a track's predicted box that
            links them.
        max_gap: frames a track may go without a detection before it ends.
    """

    def __init__(self, iou_threshold: float = 0.3, max_gap: int = 25):
        self.iou_threshold = iou_threshold
        self.max_gap = max_gap
        self.tracks: list[Track] = []
        self._next_id = 1

    def predict(self, frame: int) -> list[tuple[int, np.ndarray]]:
        """``(track_id, box)`` of every live track, moved to ``frame`` by its velocity."""
        return [(t.track_id, t.predict(frame)) for t in self.tracks]

    def update(self, frame: int, boxes: np.ndarray) -> tuple[list[int], list[Track]]:
        """Link the detections of ``frame`` to tracks; start tracks for the rest.

        Args:
            frame: the frame index (increasing from call to call; frames may be skipped).
            boxes: ``[M, 4]`` detected boxes in this frame.

        Returns:
            ``(ids, ended)``: the track id of each box, in box order, and the tracks that
            ended because they went unseen for more than ``max_gap`` frames.
        """
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        ended = [t for t in self.tracks if frame - t.frame > self.max_gap]
        self.tracks = [t for t in self.tracks if frame - t.frame <= self.max_gap]
        predicted = np.array([t.predict(frame) for t in self.tracks]).reshape(-1, 4)
        last = np.array([t.box for t in self.tracks]).reshape(-1, 4)
        overlap = np.maximum(iou_matrix(predicted, boxes), iou_matrix(last, boxes))
        ids = [0] * len(boxes)
        for r, c in greedy_match(overlap, self.iou_threshold):
            self._observe(self.tracks[r], frame, boxes[c])
            ids[c] = self.tracks[r].track_id
        for c, box in enumerate(boxes):
            if ids[c] == 0:
                track = Track(self._next_id, box.copy(), frame, first_frame=frame)
                self._next_id += 1
                self.tracks.append(track)
                ids[c] = track.track_id
        return ids, ended

    def finish(self) -> list[Track]:
        """End every live track (the video is over) and return them."""
        ended, self.tracks = self.tracks, []
        return ended

    @staticmethod
    def _observe(track: Track, frame: int, box: np.ndarray) -> None:
        step = (box - track.box) / max(1, frame - track.frame)
        # The second detection gives the first velocity; later ones blend into it.
        track.velocity = step if track.hits == 1 else \
            VELOCITY_MOMENTUM * track.velocity + (1 - VELOCITY_MOMENTUM) * step
        track.box = box.copy()
        track.frame = frame
        track.hits += 1
