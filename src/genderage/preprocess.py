"""Pixel preprocessing shared by training, evaluation and serving.

Every face crop that reaches the model, in training or at inference, goes through
:func:`resize_face` and :func:`to_input`; nothing else converts pixels for the model.
"""

from __future__ import annotations

import cv2
import numpy as np

from .contract import INPUT_SIZE


def resize_face(face_rgb: np.ndarray) -> np.ndarray:
    """Resize an aligned face crop to the model's input size.

    Args:
        face_rgb: uint8 ``[H, W, 3]`` RGB, an aligned face (a UTKFace chip or a crop in
            the same geometry).

    Returns:
        uint8 ``[112, 112, 3]`` RGB. Downscaling uses area interpolation, upscaling bilinear.
    """
    if face_rgb.dtype != np.uint8 or face_rgb.ndim != 3 or face_rgb.shape[2] != 3:
        raise ValueError(f"expected uint8 [H,W,3] RGB, got {face_rgb.dtype} {face_rgb.shape}")
    h, w = face_rgb.shape[:2]
    if (h, w) == (INPUT_SIZE, INPUT_SIZE):
        return face_rgb
    interp = cv2.INTER_AREA if min(h, w) > INPUT_SIZE else cv2.INTER_LINEAR
    return cv2.resize(face_rgb, (INPUT_SIZE, INPUT_SIZE), interpolation=interp)


def to_input(faces: np.ndarray) -> np.ndarray:
    """Batch of 112x112 RGB uint8 faces -> the model's input tensor.

    Args:
        faces: uint8 ``[N, 112, 112, 3]`` (or a single ``[112, 112, 3]``) RGB.

    Returns:
        float32 ``[N, 3, 112, 112]``, RGB, values in [0, 1], C-contiguous.
    """
    if faces.ndim == 3:
        faces = faces[None]
    if faces.shape[1:] != (INPUT_SIZE, INPUT_SIZE, 3):
        raise ValueError(f"expected [N,{INPUT_SIZE},{INPUT_SIZE},3], got {faces.shape}")
    return np.ascontiguousarray(faces.transpose(0, 3, 1, 2), dtype=np.float32) / np.float32(255.0)
