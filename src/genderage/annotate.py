"""Annotated copies of input images: a box, the landmarks and a label per face.

Only used for an explicit ``--annotate OUTDIR``; nothing else in genderage writes images.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import cv2
import numpy as np

from .results import Face

COLOURS = {"female": (230, 80, 160), "male": (40, 140, 240)}
"""Box colour per predicted gender, RGB."""
LOW_QUALITY_COLOUR = (150, 150, 150)


def face_label(face: Face) -> str:
    """Short text for one face, e.g. ``"F 0.93 | 31 (25-38)"`` (``"?"`` appended if flagged)."""
    lo, hi = face.age_interval
    flag = " ?" if face.quality.low_quality else ""
    return (f"{face.gender[0].upper()} {face.gender_probability:.2f} | "
            f"{face.age:.0f} ({lo:.0f}-{hi:.0f}){flag}")


def draw_faces(image_rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
    """A copy of the image with each face's box, landmarks and :func:`face_label` drawn.

    Args:
        image_rgb: uint8 ``[H, W, 3]`` RGB.
        faces: faces in that image's pixel coordinates.

    Returns:
        uint8 ``[H, W, 3]`` RGB, a new array.
    """
    out = np.ascontiguousarray(image_rgb).copy()
    h, w = out.shape[:2]
    thickness = max(1, round(max(h, w) / 400))
    font_scale = max(0.4, max(h, w) / 1200)
    for face in faces:
        colour = LOW_QUALITY_COLOUR if face.quality.low_quality else COLOURS[face.gender]
        x1, y1, x2, y2 = (int(round(v)) for v in face.bbox)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness, cv2.LINE_AA)
        for x, y in face.landmarks:
            cv2.circle(out, (int(round(x)), int(round(y))), thickness + 1, colour, -1,
                       cv2.LINE_AA)
        text = face_label(face)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        ty = y1 - 4 if y1 - th - base - 4 >= 0 else min(h - 1, y2 + th + 4)
        tx = min(max(0, x1), max(0, w - tw))
        cv2.rectangle(out, (tx, ty - th - base), (tx + tw, ty + base), colour, -1)
        cv2.putText(out, text, (tx, ty), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                    (255, 255, 255), thickness, cv2.LINE_AA)
    return out


def write_annotated(source: str, out_dir: Path, image_rgb: np.ndarray) -> Path:
    """Encode an annotated copy of ``source`` and write it as a NEW file in ``out_dir``.

    The name is ``<stem>.annotated.<jpg|png>`` (JPEG quality 92 for JPEG inputs, else PNG),
    or ``<stem>.annotated-N.<ext>`` with the first free ``N``. The file is created
    exclusively (``O_CREAT | O_EXCL``): an existing file (an input, an earlier output, a
    hard link to either) is never written over, and a symbolic link at that name is never
    followed, so nothing outside ``out_dir`` can be reached through one.

    Returns:
        The path written.

    Raises:
        OSError: the image could not be encoded or the file not created.
    """
    src = Path(source)
    ext = ".jpg" if src.suffix.lower() in (".jpg", ".jpeg") else ".png"
    params = [cv2.IMWRITE_JPEG_QUALITY, 92] if ext == ".jpg" else []
    ok, buf = cv2.imencode(ext, cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise OSError(f"{source}: could not encode the annotated image")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    for n in itertools.count():
        target = out_dir / f"{src.stem}.annotated{f'-{n}' if n else ''}{ext}"
        try:
            fd = os.open(target, flags, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as f:
            f.write(buf.tobytes())
        return target
    raise AssertionError("unreachable")  # itertools.count() never ends
