"""The int8 attribute model: the quantisation tool's output, and how the pipeline picks a
precision (a stale int8 file, made from another fp32 file, is never used silently)."""

from __future__ import annotations

import hashlib
import json
import numpy as np
import pytest

import genderage.models as models
from genderage.attribute import AttributeModel
from genderage.pipeline import resolve_model_path

def smooth_faces(n: int, seed: int = 0) -> np.ndarray:
    """Face-like calibration/test inputs: smooth random images, float32 [n, 3, 112, 112] in [0, 1]."""
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, 7, 7, 3), np.uint8)
    faces = np.stack([cv2.resize(s, (112, 112), interpolation=cv2.INTER_CUBIC) for s in small])
    return np.ascontiguousarray(faces.transpose(0, 3, 1, 2), np.float32) / 255


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory):
    """A tiny fp32 model carrying calibration metadata, and its int8 quantisation."""
    pytest.importorskip("torch")
    onnx = pytest.importorskip("onnx")
    from tiny_model import build_tiny_model

    folder = tmp_path_factory.mktemp("quant")
    fp32 = build_tiny_model(folder / "tiny.onnx")
    proto = onnx.load(str(fp32))
    interval = {"coverage": 0.8, "space": "log1p", "low": -0.3, "high": 0.2}
    for key, value in (("genderage.gender_temperature", "1.5"),
                       ("genderage.age_interval", json.dumps(interval))):
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(fp32))
    int8 = folder / "tiny.int8.onnx"
    from genderage.training.quantize import quantize

    report = quantize(fp32, int8, smooth_faces(64))
    return fp32, int8, report


def test_quantized_model_keeps_contract_metadata_and_records_its_source(tiny_pair):
    fp32, int8, report = tiny_pair
    a, b = AttributeModel(fp32), AttributeModel(int8)
    assert b.input_name == "input" and b.output_names == ["output", "age_probs"]
    assert b.temperature == a.temperature == 1.5
    assert b.age_interval == a.age_interval
    assert b.metadata["genderage.precision"] == "int8"
    assert b.metadata["genderage.quantized_from_sha256"] == \
        hashlib.sha256(fp32.read_bytes()).hexdigest()
    assert report["calibration_faces"] == 64 and report["bytes_int8"] > 0


def test_convolutions_but_the_first_are_quantized_heads_stay_float(tiny_pair):
    import onnx

    _, int8, _ = tiny_pair
    graph = onnx.load(str(int8)).graph
    producers = {o: n for n in graph.node for o in n.output}

    def weight_is_int8(node) -> bool:
        weight = producers.get(node.input[1])
        return weight is not None and weight.op_type == "DequantizeLinear"

    convs = [n for n in graph.node if n.op_type == "Conv"]
    assert [weight_is_int8(c) for c in convs] == [False, True]   # the tiny model has two
    assert producers[convs[1].input[0]].op_type == "DequantizeLinear"
    gemms = [n for n in graph.node if n.op_type == "Gemm"]
    assert gemms and not any(weight_is_int8(g) for g in gemms)


def test_int8_outputs_stay_close_to_fp32(tiny_pair):
    fp32, int8, _ = tiny_pair
    x = smooth_faces(32, seed=1)
    a = AttributeModel(fp32).run(x)
    b = AttributeModel(int8).run(x)
    # Logits of the tiny model span about +-4; int8 activations move them by a few percent.
    assert np.abs(a["output"] - b["output"]).max() < 0.1
    assert np.abs(a["age_probs"] - b["age_probs"]).sum(1).max() < 0.1
    assert not np.array_equal(a["output"], b["output"])   # it really is another graph


def test_stale_int8_file_is_not_used(tiny_pair, monkeypatch):
    if models.default_model_path("fp32") is None:
        pytest.skip("this checkout ships no fp32 model")
    _, int8, _ = tiny_pair   # made from the tiny model, not from the shipped one
    monkeypatch.setattr(models, "INT8_MODEL", int8)
    assert not models.int8_matches_fp32()
    assert resolve_model_path(None) == models.DEFAULT_MODEL
    with pytest.raises(ValueError, match="re-run tools/quantize_model.py"):
        resolve_model_path(None, "int8")


def test_precision_selects_the_shipped_file(tmp_path):
    with pytest.raises(ValueError, match="precision"):
        resolve_model_path(None, "fp16")
    with pytest.raises(ValueError, match="cannot be combined"):
        resolve_model_path(tmp_path / "m.onnx", "int8")
    if models.default_model_path("fp32") is None:
        pytest.skip("this checkout ships no fp32 model")
    assert resolve_model_path(None, "fp32") == models.DEFAULT_MODEL
    if models.default_model_path("int8") is not None:
        assert resolve_model_path(None, "int8") == models.INT8_MODEL


def test_shipped_int8_model_was_made_from_the_shipped_fp32_model():
    """Fails when a new fp32 model ships without re-running
    ``tools/quantize_model.py quantize`` (the pipeline would fall back to fp32)."""
    if models.default_model_path("int8") is None:
        pytest.skip("this checkout ships no int8 model")
    assert models.int8_matches_fp32()
    assert resolve_model_path(None) == models.INT8_MODEL


def test_shipped_int8_metrics_bundle_describes_the_shipped_int8_file():
    """``genderage report`` finds a model's error rates by its hash; the int8 model's come
    from ``tools/quantize_model.py check --bundle``."""
    if models.default_model_path("int8") is None:
        pytest.skip("this checkout ships no int8 model")
    bundle = json.loads(models.INT8_MODEL.with_suffix(".metrics.json").read_text())
    assert bundle["model"]["sha256"] == hashlib.sha256(models.INT8_MODEL.read_bytes()).hexdigest()
    assert bundle["model"]["quantized_from_sha256"] == \
        hashlib.sha256(models.DEFAULT_MODEL.read_bytes()).hexdigest()
    cm = bundle["utkface_val"]["gender"]["confusion_matrix"]
    assert sum(map(sum, cm["rows_true"])) == bundle["utkface_val"]["n"] > 3000
