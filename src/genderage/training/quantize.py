"""Static int8 quantisation of an attribute model (onnxruntime, QDQ), calibrated on faces.

The int8 file keeps the fp32 file's contract and calibration metadata and records the SHA-256
of the fp32 file it was made from (``genderage.quantized_from_sha256``), so the runtime can
tell a stale int8 file from a matching one (:func:`genderage.models.int8_matches_fp32`).
Only the convolutions, their ReLUs and the pooling between them are quantised: the small fully
connected heads stay float, so the age output and the gender logits are not rounded to 256
levels. ``tools/quantize_model.py`` is the command line.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from ..contract import DEFAULT_PREPROCESSING, Preprocessing
from ..models import file_sha256

QUANTIZED_OPS = ["Conv", "Relu", "MaxPool"]
"""Op types turned into int8; everything else (heads, softmax, normalisation) stays float."""

def calibration_faces(data_dir: Path, split_csv: Path, n: int,
                      spec: Preprocessing = DEFAULT_PREPROCESSING) -> np.ndarray:
    """``n`` training chips, evenly spaced in the split manifest, as the input tensor of a
    model of preprocessing ``spec``: float32 ``[n, 3, S, S]`` (:func:`preprocess.to_input`)."""
    from genderage.data.split import read_manifest
    from genderage.imageio import read_image
    from genderage.preprocess import resize_face, to_input

    rows = read_manifest(split_csv, "train")
    picked = [rows[i] for i in np.linspace(0, len(rows) - 1, min(n, len(rows))).round().astype(int)]
    return to_input(np.stack([resize_face(read_image(data_dir / r.file), spec) for r in picked]),
                    spec)


CALIBRATION_METHODS = ("minmax", "percentile", "entropy")


def first_conv(model: Path) -> str | None:
    """Name of the first convolution in graph order (the one that reads the image)."""
    import onnx

    graph = onnx.load(str(model), load_external_data=False).graph
    return next((n.name for n in graph.node if n.op_type == "Conv" and n.name), None)


def quantize(model: Path, out: Path, faces: np.ndarray, method: str = "minmax",
             keep_float: tuple[str, ...] | None = None, batch_size: int = 32) -> dict:
    """Write the int8 QDQ model (activations uint8, weights int8 per channel) to ``out``,
    with the fp32 model's metadata plus where it came from.

    Args:
        faces: calibration inputs, float32 ``[n, 3, 112, 112]`` (see :func:`calibration_faces`).
        method: how activation ranges are set from the calibration faces: ``minmax`` (full
            observed range), ``percentile`` (99.999th percentile) or ``entropy``.
        keep_float: names of nodes to leave in float; ``None``: the first convolution, which
            reads the image and costs ~1% of the model (on the shipped model, with Conv and
            MaxPool quantised, quantising it too added 0.017 years to the validation MAE;
            docs/experiments/2026-11-30-speed.md).
    """
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from genderage.attribute import AttributeModel

    input_name = AttributeModel(model).input_name
    if keep_float is None:
        keep_float = tuple(name for name in [first_conv(model)] if name)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._batches = iter(faces[i:i + batch_size] for i in range(0, len(faces), batch_size))

        def get_next(self):
            batch = next(self._batches, None)
            return None if batch is None else {input_name: batch}

    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(model), str(prepared), skip_symbolic_shape=True)
        quantized = Path(tmp) / "int8.onnx"
        # U8S8 (uint8 activations, int8 weights) is the x86 VNNI fast path; reduce_range is
        # only needed on CPUs without VNNI, where it avoids overflow at the cost of accuracy.
        quantize_static(str(prepared), str(quantized), Reader(), quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=QUANTIZED_OPS, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=list(keep_float),
                        calibrate_method={"minmax": CalibrationMethod.MinMax,
                                          "percentile": CalibrationMethod.Percentile,
                                          "entropy": CalibrationMethod.Entropy}[method])
        result = onnx.load(str(quantized))
    source = onnx.load(str(model), load_external_data=False)
    meta = {p.key: p.value for p in source.metadata_props}
    meta.update({"genderage.precision": "int8", "genderage.quantized_from": model.name,
                 "genderage.quantized_from_sha256": file_sha256(model),
                 "genderage.quantization": json.dumps(
                     {"format": "QDQ", "ops": QUANTIZED_OPS, "activations": "uint8",
                      "weights": "int8 per channel", "calibration": method,
                      "float_nodes": list(keep_float),
                      "calibration_faces": len(faces)})})
    del result.metadata_props[:]
    for key, value in meta.items():
        result.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(result)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(result, str(out))
    return {"model": str(model), "out": str(out), "bytes_fp32": model.stat().st_size,
            "bytes_int8": out.stat().st_size, "calibration_faces": len(faces)}
