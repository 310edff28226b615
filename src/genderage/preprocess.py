"""Pixel preprocessing shared by training, evaluation and serving.

Every face crop that reaches the model, in training or at inference, goes through
:func:`resize_face` and :func:`to_input` (training's torch tensors through its twin
:func:`to_input_tensor`); nothing else converts pixels for the model, and
``tests/test_pixel_conversion.py`` fails if something does. All follow a
:class:`~genderage.contract.Preprocessing` (the model's, read from its file or checkpoint).
"""

from __future__ import annotations

import cv2
import numpy as np

from .contract import DEFAULT_PREPROCESSING, Preprocessing


def resize_face(face_rgb: np.ndarray, spec: Preprocessing = DEFAULT_PREPROCESSING) -> np.ndarray:
    """Resize an aligned face crop to the model's input size.

    Args:
        face_rgb: uint8 ``[H, W, 3]`` RGB, an aligned face (a UTKFace chip or a crop in
            the same geometry).
        spec: the model's preprocessing (``input_size``, ``interpolation``).

    Returns:
        uint8 ``[S, S, 3]`` RGB, ``S = spec.input_size`` (112 by default). ``"area"``
        interpolation: area when downscaling, bilinear when upscaling.
    """
    if face_rgb.dtype != np.uint8 or face_rgb.ndim != 3 or face_rgb.shape[2] != 3:
        raise ValueError(f"expected uint8 [H,W,3] RGB, got {face_rgb.dtype} {face_rgb.shape}")
    size = spec.input_size
    h, w = face_rgb.shape[:2]
    if (h, w) == (size, size):
        return face_rgb
    shrink = spec.interpolation == "area" and min(h, w) > size
    return cv2.resize(face_rgb, (size, size),
                      interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def to_input(faces: np.ndarray, spec: Preprocessing = DEFAULT_PREPROCESSING) -> np.ndarray:
    """Batch of RGB uint8 faces at the input size -> the model's input tensor.

    Args:
        faces: uint8 ``[N, S, S, 3]`` (or a single ``[S, S, 3]``) RGB, ``S = spec.input_size``.
        spec: the model's preprocessing (``input_size``, ``color``, ``value_range``).

    Returns:
        float32 ``[N, 3, S, S]`` in ``spec.color`` order, 0..255 mapped linearly onto
        ``spec.value_range`` (by default RGB in [0, 1]), C-contiguous.
    """
    if faces.ndim == 3:
        faces = faces[None]
    size = spec.input_size
    if faces.shape[1:] != (size, size, 3):
        raise ValueError(f"expected [N,{size},{size},3], got {faces.shape}")
    if spec.color == "BGR":
        faces = faces[..., ::-1]
    x = np.ascontiguousarray(faces.transpose(0, 3, 1, 2), dtype=np.float32) / np.float32(255.0)
    lo, hi = spec.value_range
    if (lo, hi) != (0.0, 1.0):
        x = x * np.float32(hi - lo) + np.float32(lo)
    return x


def to_input_tensor(faces, spec: Preprocessing = DEFAULT_PREPROCESSING):
    """:func:`to_input` for a torch tensor, for training: the same arithmetic, bit for bit.

    Args:
        faces: uint8 torch tensor ``[N, S, S, 3]`` RGB, on any device.
        spec: the model's preprocessing (``input_size``, ``color``, ``value_range``).

    Returns:
        float32 ``[N, 3, S, S]`` on the same device, as :func:`to_input` computes it, in
        the strides the permutation leaves (make it contiguous in the memory format you need).
    """
    # Tensor methods only, so this module never imports torch (``import genderage`` stays light).
    size = spec.input_size
    if faces.ndim != 4 or tuple(faces.shape[1:]) != (size, size, 3):
        raise ValueError(f"expected [N,{size},{size},3], got {tuple(faces.shape)}")
    if spec.color == "BGR":
        faces = faces.flip(-1)
    x = faces.permute(0, 3, 1, 2).float().div_(255.0)
    lo, hi = spec.value_range
    if (lo, hi) != (0.0, 1.0):
        x = x * (hi - lo) + lo
    return x
