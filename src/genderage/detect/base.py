"""The names ``genderage.detect.base`` held before the interface and the registry were split:
kept for code written against 0.3; new code imports :mod:`.types` and :mod:`.registry`."""

from .registry import (  # noqa: F401
    DEFAULT_DETECTOR,
    MODEL_DIR_ENV,
    available_detectors,
    create_detector,
    detector_fingerprint,
)
from .types import (  # noqa: F401
    MIN_FACE_FLOOR,
    Detection,
    Detector,
    DetectorError,
    box_side,
    check_image,
    drop_small,
    make_detections,
)
