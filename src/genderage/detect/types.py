"""What every detector backend shares: the :class:`Detection` record, the :class:`Detector`
protocol, :class:`DetectorError` and the helpers that pack and filter detections.

The registry that turns a name or an ``.onnx`` path into a backend is
:mod:`genderage.detect.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


class DetectorError(RuntimeError):
    """A detector could not be created (unknown name, unreadable or unrecognised model file)."""


@dataclass(frozen=True)
class Detection:
    """One detected face.

    Attributes:
        bbox: float32 ``[4]`` = ``x1, y1, x2, y2`` in pixels of the image given to ``detect``.
        landmarks: float32 ``[5, 2]`` ``(x, y)`` in the same pixels, in the order left eye,
            right eye, nose tip, left mouth corner, right mouth corner, where "left" is the
            image's left (insightface order).
        score: detector confidence in [0, 1].
    """

    bbox: np.ndarray
    landmarks: np.ndarray
    score: float

    @property
    def area(self) -> float:
        """Box area in square pixels (0 for a degenerate box)."""
        w = max(0.0, float(self.bbox[2] - self.bbox[0]))
        h = max(0.0, float(self.bbox[3] - self.bbox[1]))
        return w * h

    def to_dict(self) -> dict:
        """JSON-ready form: ``{"bbox": [4 floats], "landmarks": [[x, y] * 5], "score": float}``."""
        return {
            "bbox": [round(float(v), 2) for v in self.bbox],
            "landmarks": [[round(float(x), 2), round(float(y), 2)] for x, y in self.landmarks],
            "score": round(float(self.score), 4),
        }


@runtime_checkable
class Detector(Protocol):
    """A face detector backend.

    Attributes:
        name: the backend's registered name.

    A backend also says whether ``detect`` may run in several threads at once on one
    instance: ``thread_safe = True`` on its class (the service then shares it without a
    lock). A detector without that attribute is taken to be unsafe (:func:`is_thread_safe`).
    """

    name: str

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        """Find all faces in a uint8 ``[H, W, 3]`` RGB image.

        Returns every face above the backend's score threshold, sorted by bbox area,
        largest first; an empty list when there is none.
        """
        ...


def is_thread_safe(detector: Detector) -> bool:
    """Whether ``detector.detect`` may run in several threads at once (its backend says so
    with ``thread_safe = True``; anything else, a detector of the caller's own included,
    is run under a lock)."""
    return getattr(detector, "thread_safe", False) is True


def make_detections(boxes: np.ndarray, landmarks: np.ndarray,
                    scores: np.ndarray) -> list[Detection]:
    """Pack decoded arrays into :class:`Detection` records sorted by bbox area, largest first.

    Args:
        boxes: ``[N, 4]`` x1, y1, x2, y2 in image pixels.
        landmarks: ``[N, 5, 2]`` (or ``[N, 10]``) x, y in image pixels.
        scores: ``[N]`` in [0, 1].
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    landmarks = np.asarray(landmarks, np.float32).reshape(-1, 5, 2)
    scores = np.asarray(scores, np.float32).reshape(-1)
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    order = np.argsort(-areas, kind="stable")
    return [Detection(bbox=boxes[i].copy(), landmarks=landmarks[i].copy(),
                      score=float(np.clip(scores[i], 0.0, 1.0))) for i in order]


def drop_small(detections: list[Detection], min_face_px: float | None) -> list[Detection]:
    """``detections`` without the faces whose box's shorter side is below ``min_face_px``
    pixels (all of them when it is ``None``); order kept."""
    if min_face_px is None:
        return detections
    return [d for d in detections if box_side(d.bbox) >= min_face_px]


def box_side(bbox) -> float:
    """The shorter side of an ``x1, y1, x2, y2`` box, pixels (0 for a degenerate box)."""
    return max(0.0, min(float(bbox[2] - bbox[0]), float(bbox[3] - bbox[1])))


def check_image(image_rgb: np.ndarray) -> np.ndarray:
    """Validate a detector input: uint8 ``[H, W, 3]`` with H, W >= 1; returns it unchanged."""
    if not isinstance(image_rgb, np.ndarray) or image_rgb.dtype != np.uint8 \
            or image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or min(image_rgb.shape[:2]) < 1:
        shape = getattr(image_rgb, "shape", None)
        dtype = getattr(image_rgb, "dtype", type(image_rgb).__name__)
        raise ValueError(f"detector input must be uint8 [H,W,3] RGB, got {dtype} {shape}")
    return image_rgb


MIN_FACE_FLOOR = 8.0
"""The smallest ``min_face`` a detector accepts, pixels: no backend finds a face smaller."""
