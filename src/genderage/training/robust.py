"""Real-photo degradations for training: exposure, blur, JPEG quality, partial occlusion.

Applied to uint8 crops before the tensor augmentation of :mod:`training.augment`. With
probability ``p`` a face gets ONE degradation, drawn uniformly from :data:`KINDS`:

* ``exposure``: under-exposure (``255 * k * (v/255) ** gamma``, k in [0.25, 0.7], gamma in
  [1.2, 2.2], plus sensor noise sigma 2-8 levels) in 3 of 4 cases, over-exposure (x1.3-1.8,
  clipped) in the rest;
* ``blur``: Gaussian, sigma 0.8-2.5 px at 112x112 (a face of 30-90 px in the photo);
* ``jpeg``: re-encoded at quality 10-50;
* ``occlusion``: a rectangle of 20-45% of the side (mid grey to black, or a random colour)
  somewhere on the face, like a hand, a phone or a microphone.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

KINDS = ("exposure", "blur", "jpeg", "occlusion")


def _exposure(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    v = face.astype(np.float32) / 255.0
    if rng.random() < 0.75:
        v = rng.uniform(0.25, 0.7) * v ** rng.uniform(1.2, 2.2)
        v = v + rng.normal(0, rng.uniform(2, 8) / 255.0, v.shape)
    else:
        v = v * rng.uniform(1.3, 1.8)
    return (np.clip(v, 0, 1) * 255 + 0.5).astype(np.uint8)


def _blur(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return cv2.GaussianBlur(face, (0, 0), rng.uniform(0.8, 2.5))


def _jpeg(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(10, 51))])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if ok else face


def _occlusion(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = face.shape[:2]
    rh, rw = (int(rng.uniform(0.2, 0.45) * s) for s in (h, w))
    y, x = int(rng.integers(0, h - rh + 1)), int(rng.integers(0, w - rw + 1))
    out = face.copy()
    colour = rng.integers(0, 256, 3) if rng.random() < 0.5 else np.full(3, rng.integers(0, 128))
    out[y:y + rh, x:x + rw] = colour.astype(np.uint8)
    return out


_APPLY = {"exposure": _exposure, "blur": _blur, "jpeg": _jpeg, "occlusion": _occlusion}


def degrade(faces: np.ndarray, p: float, g: torch.Generator) -> np.ndarray:
    """uint8 ``[N, H, W, 3]`` faces, each degraded with probability ``p`` (one kind each).

    The draws come from ``g`` (through one seed), so a seeded generator reproduces the batch.
    """
    if p <= 0:
        return faces
    rng = np.random.default_rng(int(torch.randint(2 ** 31, (1,), generator=g)))
    chosen = rng.random(len(faces)) < p
    if not chosen.any():
        return faces
    out = faces.copy()
    for i in np.flatnonzero(chosen):
        out[i] = _APPLY[KINDS[rng.integers(len(KINDS))]](faces[i], rng)
    return out
