"""The names ``genderage.detect.base`` held before the interface and the registry were split:
kept for code written against 0.3; new code imports :mod:`.types` and :mod:`.registry`."""

from .registry import (
    DEFAULT_DETECTOR,
    MODEL_DIR_ENV,
    available_detectors,
    create_detector,
    detector_fingerprint,
)
from .types import (
    MIN_FACE_FLOOR,
    Detection,
    Detector,
    DetectorError,
    box_side,
    check_image,
    drop_small,
    make_detections,
)

__all__ = ["DEFAULT_DETECTOR", "MODEL_DIR_ENV", "MIN_FACE_FLOOR", "Detection", "Detector",
           "DetectorError", "available_detectors", "box_side", "check_image", "create_detector",
           "detector_fingerprint", "drop_small", "make_detections"]
