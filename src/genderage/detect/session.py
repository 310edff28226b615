"""Opening detector models with onnxruntime, with errors that name the file."""

from __future__ import annotations

from pathlib import Path

from ..onnx_runtime import RuntimeOptions
from .types import DetectorError


def open_session(model: str | Path | bytes, runtime: RuntimeOptions | None = None, *,
                 threads: int | None = None, name: str | None = None):
    """An onnxruntime session for a detector model (a path or the model's bytes).

    Args:
        model: ``.onnx`` path, or the serialized model.
        runtime: the analyzer's threads budget and providers (default: no budget, CPU).
        threads: the intra-op threads this network is tuned for, kept when within the
            budget (``None`` or 0: onnxruntime's default, one per core, or the budget).
        name: how to call the model in error messages (default: the path).

    Raises:
        DetectorError: the file is missing or is not a loadable ONNX model.
    """
    from ..onnx_runtime import ModelLoadError

    try:
        return (runtime or RuntimeOptions()).session(model, threads, name=name,
                                                     log_errors_only=True)
    except ModelLoadError as exc:
        raise DetectorError(str(exc)) from None
