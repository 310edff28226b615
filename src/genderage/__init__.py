"""genderage: gender and age estimation from face photos, with ONNX Runtime on the CPU.

``import genderage`` is light: no torch, no model loading, and none of the names below is
imported before its first use. The analyzer is created by the caller:
``GenderAge().predict(image_or_path)`` gives an :class:`ImageResult` of :class:`Face` records;
``available_detectors()`` names the face detectors; a video goes frame by frame from a
:class:`VideoSource` through a :class:`VideoAnalysis` (docs/video.md).
"""

__version__ = "0.3.0"

__all__ = ["Face", "GenderAge", "ImageResult", "VideoAnalysis", "VideoSource",
           "__version__", "available_detectors"]


def __getattr__(name):
    if name == "GenderAge":
        from .pipeline import GenderAge as value
    elif name == "Face":
        from .results import Face as value
    elif name == "ImageResult":
        from .results import ImageResult as value
    elif name == "available_detectors":
        from .detect import available_detectors as value
    elif name == "VideoAnalysis":
        from .video.analysis import VideoAnalysis as value
    elif name == "VideoSource":
        from .video.io import VideoSource as value
    else:
        raise AttributeError(f"module 'genderage' has no attribute {name!r}")
    return value


def __dir__():
    return sorted({*globals(), *__all__})
