"""Annotated video frames: each tracked face's box, track id and smoothed label."""

from __future__ import annotations

import cv2
import numpy as np

from ..annotate import COLOURS, LOW_QUALITY_COLOUR
from .records import FrameResult, TrackedFace


def track_label(face: TrackedFace) -> str:
    """Short text for one tracked face, e.g. ``"#3 F 0.93 | 31 (25-38)"``."""
    s = face.smoothed
    lo, hi = s.age_interval
    return (f"#{face.track_id} {s.gender[0].upper()} {s.gender_probability:.2f} | "
            f"{s.age:.0f} ({lo:.0f}-{hi:.0f})")


def draw_frame(rgb: np.ndarray, result: FrameResult) -> np.ndarray:
    """A copy of the frame with a box and :func:`track_label` per face (box colour: the
    smoothed label's; grey for tracks made only of low-quality faces).

    Args:
        rgb: uint8 ``[H, W, 3]`` RGB.
        result: that frame's faces.

    Returns:
        uint8 ``[H, W, 3]`` RGB, a new array.
    """
    out = np.ascontiguousarray(rgb).copy()
    h, w = out.shape[:2]
    thickness = max(1, round(max(h, w) / 400))
    font_scale = max(0.4, max(h, w) / 1200)
    for face in result.faces:
        colour = LOW_QUALITY_COLOUR if face.smoothed.low_quality \
            else COLOURS[face.smoothed.gender]
        x1, y1, x2, y2 = (int(round(v)) for v in face.bbox)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness, cv2.LINE_AA)
        text = track_label(face)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        ty = y1 - 4 if y1 - th - base - 4 >= 0 else min(h - 1, y2 + th + 4)
        tx = min(max(0, x1), max(0, w - tw))
        cv2.rectangle(out, (tx, ty - th - base), (tx + tw, ty + base), colour, -1)
        cv2.putText(out, text, (tx, ty), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                    (255, 255, 255), thickness, cv2.LINE_AA)
    return out
