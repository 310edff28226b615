"""Warm start from an exported ONNX attribute model (its .pt checkpoint may be gone).

The export folds each BatchNorm into the convolution before it, so the ONNX file holds
``W' = W * gamma / sigma`` and ``b'`` per convolution. Loading them back into a
:class:`GenderAgeNet` of the same layout keeps the convolution as ``W', b'`` and turns the
BatchNorm after it into one that gives back its input: its running statistics are the
measured mean and variance of the convolution's output on real faces, and its affine
parameters undo them (``gamma = sqrt(var + eps)``, ``beta = mean``). In eval mode the network
then equals the ONNX model exactly; in training mode the batch statistics stay close to the
stored ones, so training continues from the same function instead of from scratch.
"""

from __future__ import annotations

import json

import numpy as np
import torch
from torch import nn

from ..contract import DEFAULT_PREPROCESSING, META_PREPROCESSING, Preprocessing
from ..preprocess import to_input_tensor
from .arch import GenderAgeNet, ModelConfig


def onnx_model_config(path: str) -> ModelConfig:
    """The model config recorded in the ONNX file's ``genderage.contract`` metadata."""
    import onnx

    meta = {p.key: p.value for p in onnx.load(path, load_external_data=False).metadata_props}
    if "genderage.contract" not in meta:
        raise ValueError(f"{path}: no genderage.contract metadata; not a genderage export")
    return ModelConfig.from_dict(json.loads(meta["genderage.contract"])["arch"])


def load_onnx_weights(model: GenderAgeNet, path: str, faces: np.ndarray,
                      spec: Preprocessing = DEFAULT_PREPROCESSING) -> None:
    """Load an exported model's weights into ``model`` (same layout), in place.

    Args:
        faces: uint8 ``[N, S, S, 3]`` real faces (a few hundred) for the BatchNorm
            statistics.
        spec: the preprocessing the training feeds ``model`` with; the file's must be the same.

    Raises:
        ValueError: the ONNX file's convolutions or heads do not fit ``model``, or it was
            made for another preprocessing.
    """
    import onnx
    from onnx import numpy_helper

    onnx_model = onnx.load(path)
    meta = {p.key: p.value for p in onnx_model.metadata_props}
    if Preprocessing.from_json(meta.get(META_PREPROCESSING)) != spec:
        raise ValueError(f"{path}: made for the preprocessing {meta.get(META_PREPROCESSING)}, "
                         f"training uses {spec.to_json()}")
    graph = onnx_model.graph
    init = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    conv_inputs = [n.input for n in graph.node if n.op_type == "Conv"]
    convs = [m for m in model.features.modules() if isinstance(m, nn.Conv2d)]
    bns = [m for m in model.features.modules() if isinstance(m, nn.BatchNorm2d)]
    if len(conv_inputs) != len(convs) or len(bns) != len(convs):
        raise ValueError(f"{path}: {len(conv_inputs)} convolutions, the model has {len(convs)}")
    with torch.no_grad():
        for conv, bn, inputs in zip(convs, bns, conv_inputs):
            w = torch.from_numpy(init[inputs[1]].copy())
            if w.shape != conv.weight.shape:
                raise ValueError(f"{path}: convolution {inputs[1]} is {tuple(w.shape)}, the "
                                 f"model's is {tuple(conv.weight.shape)}")
            conv.weight.copy_(w)
            conv.bias.copy_(torch.from_numpy(init[inputs[2]].copy()))
            bn.running_mean.zero_()
            bn.running_var.fill_(1 - bn.eps)
            bn.weight.fill_(1.0)
            bn.bias.zero_()
        state = model.state_dict()
        for name, arr in init.items():
            key = name.removeprefix("net.")
            if key in state:
                if tuple(state[key].shape) != arr.shape:
                    raise ValueError(f"{path}: {name} is {arr.shape}, the model's "
                                     f"{tuple(state[key].shape)}")
                state[key].copy_(torch.from_numpy(arr.copy()))
        _calibrate_identity_bn(model, convs, bns, to_input_tensor(torch.from_numpy(faces), spec))


def _calibrate_identity_bn(model, convs, bns, x: torch.Tensor) -> None:
    """Set each BatchNorm to identity with the statistics of its input on the model input ``x``.

    Layer by layer: with the BatchNorms before it already identities, a convolution's
    output is the ONNX model's pre-activation, whose statistics the BatchNorm stores.
    """
    model.eval()
    for conv, bn in zip(convs, bns):
        seen = []
        hook = conv.register_forward_hook(lambda m, i, o: seen.append(o.detach()))
        model(x)
        hook.remove()
        z = seen[0].transpose(0, 1).reshape(conv.out_channels, -1)
        mean, var = z.mean(1), z.var(1, unbiased=False)
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        bn.weight.copy_(torch.sqrt(var + bn.eps))
        bn.bias.copy_(mean)
