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
    from ..onnx_runtime import load_onnxruntime

    ort = load_onnxruntime()

    label = name or (str(model) if not isinstance(model, bytes) else "<model bytes>")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the exported detectors trigger harmless initializer warnings
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    # Detector graphs are small: spinning worker threads waste more CPU than they save.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    source = model if isinstance(model, bytes) else str(model)
    try:
        return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises several unrelated exception types
        raise DetectorError(f"{label}: cannot load as an ONNX model ({exc})") from None
