"""genderage: gender and age estimation from face photos, with ONNX Runtime on the CPU.

``import genderage`` is light: no torch, no model loading. The analyzer is created by the
caller: ``GenderAge().predict(image_or_path)``.
"""

__version__ = "0.2.0"

__all__ = ["GenderAge", "__version__"]


def __getattr__(name):
    if name == "GenderAge":
        from .pipeline import GenderAge
        return GenderAge
    raise AttributeError(f"module 'genderage' has no attribute {name!r}")
