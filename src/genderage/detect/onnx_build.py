"""Serialising a small ONNX graph without the ``onnx`` package.

The default detector's weights ship as plain numpy arrays; to run them with onnxruntime we
write the ``ModelProto`` protobuf ourselves. Only what a feed-forward CNN needs is covered:
float32 initializers, nodes with int / ints / float / string attributes, and float32 graph
inputs and outputs with fixed or named dimensions. Field numbers follow ``onnx/onnx.proto``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

IR_VERSION = 8
OPSET = 13
_FLOAT, _INT64 = 1, 7  # TensorProto.DataType
_ATTR_FLOAT, _ATTR_INT, _ATTR_STRING, _ATTR_INTS = 1, 2, 3, 7  # AttributeProto.AttributeType


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 fields encode negatives as 10-byte two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _int(field: int, value: int) -> bytes:
    return _key(field, 0) + _varint(int(value))


def _bytes(field: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else bytes(value)
    return _key(field, 2) + _varint(len(data)) + data


def _float(field: int, value: float) -> bytes:
    return _key(field, 5) + struct.pack("<f", value)


def tensor(name: str, array: np.ndarray) -> bytes:
    """``TensorProto`` for a float32 or int64 array, stored as little-endian ``raw_data``."""
    array = np.asarray(array)
    if array.dtype == np.int64:
        dtype = _INT64
    else:
        array, dtype = array.astype(np.float32), _FLOAT
    dims = b"".join(_int(1, d) for d in array.shape)
    raw = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
    return dims + _int(2, dtype) + _bytes(8, name) + _bytes(9, raw)


def _attribute(name: str, value) -> bytes:
    if isinstance(value, bool) or isinstance(value, int):
        return _bytes(1, name) + _int(3, int(value)) + _int(20, _ATTR_INT)
    if isinstance(value, float):
        return _bytes(1, name) + _float(2, value) + _int(20, _ATTR_FLOAT)
    if isinstance(value, str):
        return _bytes(1, name) + _bytes(4, value) + _int(20, _ATTR_STRING)
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value):
        return _bytes(1, name) + b"".join(_int(8, v) for v in value) + _int(20, _ATTR_INTS)
    raise TypeError(f"unsupported attribute {name}={value!r}")


def _value_info(name: str, dims: Sequence[int | str]) -> bytes:
    shape = b"".join(_bytes(1, _int(1, d) if isinstance(d, int) else _bytes(2, d)) for d in dims)
    tensor_type = _int(1, _FLOAT) + _bytes(2, shape)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


class GraphBuilder:
    """Collects nodes and initializers, then serialises them as an ONNX model.

    Example::

        g = GraphBuilder()
        y = g.node("Relu", ["x"])
        model_bytes = g.model([("x", ["N", 3])], [(y, ["N", 3])])
    """

    def __init__(self) -> None:
        self._nodes: list[bytes] = []
        self._initializers: list[bytes] = []
        self._count = 0

    def constant(self, array: np.ndarray, hint: str = "w") -> str:
        """Add an initializer; returns its name."""
        self._count += 1
        name = f"{hint}_{self._count}"
        self._initializers.append(tensor(name, array))
        return name

    def node(self, op_type: str, inputs: Sequence[str], outputs: int | Sequence[str] = 1,
             **attributes) -> str | list[str]:
        """Add a node; returns its output name (or names, when ``outputs`` is a count > 1 or
        a list of names)."""
        self._count += 1
        if isinstance(outputs, int):
            names = [f"{op_type.lower()}_{self._count}_{i}" for i in range(outputs)]
        else:
            names = list(outputs)
        proto = (b"".join(_bytes(1, i) for i in inputs) + b"".join(_bytes(2, o) for o in names)
                 + _bytes(3, f"n{self._count}") + _bytes(4, op_type)
                 + b"".join(_bytes(5, _attribute(k, v)) for k, v in attributes.items()))
        self._nodes.append(proto)
        return names[0] if len(names) == 1 and isinstance(outputs, int) else names

    def model(self, inputs: Sequence[tuple[str, Sequence[int | str]]],
              outputs: Sequence[tuple[str, Sequence[int | str]]], name: str = "graph") -> bytes:
        """Serialise as a ``ModelProto`` (IR version 8, default-domain opset 13)."""
        graph = (b"".join(_bytes(1, n) for n in self._nodes) + _bytes(2, name)
                 + b"".join(_bytes(5, t) for t in self._initializers)
                 + b"".join(_bytes(11, _value_info(n, d)) for n, d in inputs)
                 + b"".join(_bytes(12, _value_info(n, d)) for n, d in outputs))
        opset = _bytes(1, "") + _int(2, OPSET)
        return _int(1, IR_VERSION) + _bytes(2, "genderage") + _bytes(7, graph) + _bytes(8, opset)
