"""Model files shipped inside the package.

``genderage.onnx`` is the fp32 attribute model; ``genderage.int8.onnx``, when present, is the
same model quantised to int8 by ``tools/quantize_model.py`` (it records the SHA-256 of the fp32
file it was made from, so a stale int8 file is recognised and not used).
"""

import hashlib
from pathlib import Path

DEFAULT_MODEL = Path(__file__).with_name("genderage.onnx")
INT8_MODEL = Path(__file__).with_name("genderage.int8.onnx")
PRECISIONS = ("int8", "fp32")


def default_model_path(precision: str = "fp32") -> Path | None:
    """The shipped attribute model of that precision, or ``None`` if this build ships none."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    path = INT8_MODEL if precision == "int8" else DEFAULT_MODEL
    return path if path.is_file() else None


def int8_matches_fp32() -> bool:
    """Whether the shipped int8 model exists and was quantised from the shipped fp32 file."""
    if not (INT8_MODEL.is_file() and DEFAULT_MODEL.is_file()):
        return False
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(INT8_MODEL), options, providers=["CPUExecutionProvider"])
    source = session.get_modelmeta().custom_metadata_map.get("genderage.quantized_from_sha256")
    return source == hashlib.sha256(DEFAULT_MODEL.read_bytes()).hexdigest()
