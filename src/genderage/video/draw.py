"""Annotated video frames: each tracked face's box, track id and smoothed label."""

from __future__ import annotations

import numpy as np

from ..annotate import COLOURS, LOW_QUALITY_COLOUR, draw_labelled_boxes
from .records import FrameResult, TrackedFace


def track_label(face: TrackedFace) -> str:
    """Short text for one tracked face, e.g. ``"#3 F 0.93 | 31 (25-38)"`` (``"#3 unknown
    0.61 | ..."`` when the gender is left unknown)."""
    s = face.smoothed
    lo, hi = s.age_interval
    gender = s.gender[0].upper() if s.gender else "unknown"
    return (f"#{face.track_id} {gender} {s.gender_probability:.2f} | "
            f"{s.age:.0f} ({lo:.0f}-{hi:.0f})")


def draw_frame(rgb: np.ndarray, result: FrameResult) -> np.ndarray:
    """A copy of the frame with a box and :func:`track_label` per face, labels placed as
    in annotated photos (box colour: the smoothed label's; grey for tracks made only of
    low-quality faces).

    Args:
        rgb: uint8 ``[H, W, 3]`` RGB.
        result: that frame's faces.

    Returns:
        uint8 ``[H, W, 3]`` RGB, a new array.
    """
    colours = [LOW_QUALITY_COLOUR if face.smoothed.low_quality
               else COLOURS[face.smoothed.gender or "unknown"] for face in result.faces]
    return draw_labelled_boxes(rgb, [face.bbox for face in result.faces],
                               [track_label(face) for face in result.faces], colours)
