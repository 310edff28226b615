"""Opening detector models with onnxruntime, with errors that name the file."""

from __future__ import annotations

from pathlib import Path

from .base import DetectorError


def open_session(model: str | Path | bytes, threads: int = 0, name: str | None = None):
    """An onnxruntime CPU session for a detector model (a path or the model's bytes).

    Args:
        model: ``.onnx`` path, or the serialized model.
        threads: intra-op threads; 0 leaves onnxruntime's default (one per core).
        name: how to call the model in error messages (default: the path).

    Raises:
        DetectorError: the file is missing or is not a loadable ONNX model.
    """
    from ..onnx_runtime import ModelLoadError, create_session

    try:
        return create_session(model, threads, name=name, log_errors_only=True)
    except ModelLoadError as exc:
        raise DetectorError(str(exc)) from None
