"""``genderage export``: checkpoint -> ONNX file that follows the model contract.

Every export checks itself: the onnx checker, then torch-vs-onnxruntime parity on real-ish
inputs (max abs diff <= ``PARITY_TOL``); a failure raises and leaves no file behind.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from ..attribute import META_AGE_INTERVAL, META_CONTRACT, META_TEMPERATURE
from ..contract import (
    AGE_SCALE,
    DEFAULT_PREPROCESSING,
    GENDER_LABELS,
    META_PREPROCESSING,
    Preprocessing,
)
from ..outputs import replacing
from .arch import ContractModule, with_age_output
from .checkpoint import checkpoint_preprocessing, load_checkpoint, model_from_checkpoint
from .config import ModelConfig

log = logging.getLogger(__name__)

PARITY_TOL = 1e-4


class ExportError(RuntimeError):
    """The exported file failed the checker or the parity test."""


def contract_metadata(cfg: ModelConfig, flip_tta: bool,
                      spec: Preprocessing = DEFAULT_PREPROCESSING) -> dict:
    """The input/output contract, as stored in the ONNX ``metadata_props`` (a summary for
    readers; the exact preprocessing is stored beside it under ``META_PREPROCESSING``)."""
    s, chip = spec.input_size, spec.chip_size
    return {
        "input": {"name": "input", "shape": ["N", 3, s, s], "dtype": "float32",
                  "color": spec.color, "range": list(spec.value_range), "layout": "NCHW",
                  "crop": f"five landmarks aligned onto the template of a {chip}x{chip} chip "
                          f"(UTKFace chip geometry), resized to {s}x{s} with "
                          f"{spec.interpolation} interpolation"},
        "output": {"name": "output", "shape": ["N", 3],
                   "columns": [f"logit_{GENDER_LABELS[0]}", f"logit_{GENDER_LABELS[1]}",
                               f"age/{AGE_SCALE:g}"]},
        "extra_outputs": ["age_probs"] if cfg.age_distribution else [],
        "age_output": cfg.age_output,
        "flip_tta": flip_tta,
        "arch": cfg.to_dict(),
    }


def export_onnx(checkpoint: str | Path, out: str | Path, opset: int = 17, weights: str = "auto",
                flip_tta: bool = False, age_output: str | None = None,
                calibration: dict | None = None, parity_inputs: np.ndarray | None = None) -> dict:
    """Export a checkpoint to ONNX; returns a report (parity, sizes, metadata).

    Args:
        age_output: override which age estimate the contract output carries.
        calibration: ``{"gender_temperature": T, "age_interval": {...}}`` to embed.
        parity_inputs: float32 ``[N,3,S,S]`` inputs for the parity check (random if None).
    """
    state = load_checkpoint(checkpoint)
    spec = checkpoint_preprocessing(state)
    net = model_from_checkpoint(state, weights)
    if age_output is not None:
        net = with_age_output(net, age_output)
    module = ContractModule(net, flip_tta).eval()
    output_names = ["output"] + (["age_probs"] if net.age_dist_head is not None else [])
    out = Path(out)
    dummy = torch.rand(2, 3, spec.input_size, spec.input_size)
    with replacing(out) as tmp:
        # The TorchScript exporter: the dynamo one starts at opset 18, the card specifies 11.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                module, (dummy,), str(tmp), dynamo=False, opset_version=opset,
                input_names=["input"], output_names=output_names,
                dynamic_axes={name: {0: "N"} for name in ["input", *output_names]})
        meta = {META_CONTRACT: json.dumps(contract_metadata(net.cfg, flip_tta, spec)),
                META_PREPROCESSING: spec.to_json(),
                "genderage.weights": weights, "genderage.epoch": str(state.get("epoch")),
                "genderage.manifest_sha256": state.get("manifest_sha256", "")}
        if calibration:
            meta[META_TEMPERATURE] = repr(float(calibration["gender_temperature"]))
            meta[META_AGE_INTERVAL] = json.dumps(calibration["age_interval"])
        _add_metadata(tmp, meta)
        max_diff = _check(module, tmp, output_names, spec.input_size, parity_inputs)
    report = {"path": str(out), "opset": opset, "flip_tta": flip_tta, "weights": weights,
              "outputs": output_names, "parity_max_abs_diff": max_diff,
              "bytes": out.stat().st_size}
    log.info("exported %s", report)
    return report


def set_metadata(path: str | Path, entries: dict[str, str]) -> None:
    """Add or replace ``metadata_props`` entries of an ONNX file in place (the others kept)."""
    import onnx

    model = onnx.load(str(path))
    meta = {p.key: p.value for p in model.metadata_props}
    meta.update(entries)
    del model.metadata_props[:]
    for k, v in meta.items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, str(path))


def _add_metadata(path: Path, meta: dict) -> None:
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    for k, v in meta.items():
        model.metadata_props.add(key=k, value=v)
    model.producer_name = "genderage"
    onnx.save(model, str(path))


def _check(module: ContractModule, path: Path, output_names: list[str], size: int,
           inputs: np.ndarray | None) -> float:
    import onnx
    from ..onnx_runtime import load_onnxruntime

    ort = load_onnxruntime()

    onnx.checker.check_model(str(path), full_check=True)
    if inputs is None:
        inputs = np.random.default_rng(0).random((8, 3, size, size), np.float32)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": inputs})
    with torch.no_grad():
        want = [t.numpy() for t in module(torch.from_numpy(inputs))]
    names = [o.name for o in sess.get_outputs()]
    if names != output_names or sess.get_inputs()[0].name != "input":
        raise ExportError(f"{path}: unexpected graph names {names}")
    diff = max(float(np.abs(g - w).max()) for g, w in zip(got, want))
    if not diff <= PARITY_TOL:
        raise ExportError(f"torch vs onnxruntime max abs diff {diff:.2e} > {PARITY_TOL:g}")
    return diff
