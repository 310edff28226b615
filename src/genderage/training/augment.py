"""Batched augmentation for aligned faces, on tensors (no per-image Python loop).

Aligned chips already put the eyes in a fixed place, so geometric changes stay small:
horizontal flip, rotation, scale and shift of a few percent; photometric changes cover
exposure, contrast, saturation and the occasional grayscale photo.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    flip: float = 0.5           # probability of a horizontal flip
    rotate_deg: float = 10.0    # uniform in [-rotate_deg, rotate_deg]
    scale: float = 0.08         # zoom factor uniform in [1 - scale, 1 + scale]
    shift: float = 0.05         # translation, fraction of the side, uniform in [-shift, shift]
    brightness: float = 0.25    # multiplicative, uniform in [1 - b, 1 + b]
    contrast: float = 0.25
    saturation: float = 0.25
    grayscale: float = 0.05     # probability

    def to_dict(self) -> dict:
        return asdict(self)


NO_AUGMENT = AugmentConfig(0, 0, 0, 0, 0, 0, 0, 0)
PRESETS = {"none": NO_AUGMENT, "standard": AugmentConfig(),
           "strong": AugmentConfig(rotate_deg=15, scale=0.12, shift=0.08, brightness=0.35,
                                   contrast=0.35, saturation=0.4, grayscale=0.1)}


def _uniform(n: int, half: float, g: torch.Generator) -> torch.Tensor:
    return (torch.rand(n, generator=g) * 2 - 1) * half


def augment(x: torch.Tensor, cfg: AugmentConfig, g: torch.Generator) -> torch.Tensor:
    """Augment a float batch ``[N,3,H,W]`` in [0,1]; returns a new tensor in [0,1].

    Every random draw comes from ``g``, so a seeded generator reproduces the batch exactly.
    """
    n = x.shape[0]
    if cfg.flip > 0:
        flip = torch.rand(n, generator=g) < cfg.flip
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if cfg.rotate_deg > 0 or cfg.scale > 0 or cfg.shift > 0:
        angle = _uniform(n, math.radians(cfg.rotate_deg), g)
        zoom = 1 + _uniform(n, cfg.scale, g)
        tx, ty = _uniform(n, 2 * cfg.shift, g), _uniform(n, 2 * cfg.shift, g)
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if cfg.brightness > 0:
        x = x * (1 + _uniform(n, cfg.brightness, g))[:, None, None, None]
    gray = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])[:, None]
    if cfg.contrast > 0:
        mean = gray.mean(dim=(2, 3), keepdim=True)
        c = (1 + _uniform(n, cfg.contrast, g))[:, None, None, None]
        x = (x - mean) * c + mean
    if cfg.saturation > 0:
        s = (1 + _uniform(n, cfg.saturation, g))[:, None, None, None]
        x = (x - gray) * s + gray
    if cfg.grayscale > 0:
        to_gray = (torch.rand(n, generator=g) < cfg.grayscale)[:, None, None, None]
        x = torch.where(to_gray, gray.expand_as(x), x)
    return x.clamp_(0, 1)
