"""Annotated copies of input images: a box, the landmarks and a label per face.

Only used for an explicit ``--annotate OUTDIR``; nothing else in genderage writes images.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np

from .outputs import OutputExistsError, write_new
from .results import Face

COLOURS = {"female": (230, 80, 160), "male": (40, 140, 240), "unknown": (220, 170, 30)}
"""Box colour per predicted gender (``"unknown"``: below ``min_gender_probability``), RGB."""
LOW_QUALITY_COLOUR = (150, 150, 150)
"""Box colour of a face flagged low quality, RGB (the web page uses the same grey)."""
MAX_SHRINKS = 8


def face_label(face: Face) -> str:
    """Short text for one face, e.g. ``"F 0.93 | 31 (25-38)"`` (``"?"`` appended if flagged;
    ``"unknown 0.61 | ..."`` when the gender is left unknown)."""
    lo, hi = face.age_interval
    flag = " ?" if face.quality.low_quality else ""
    gender = face.gender[0].upper() if face.gender else face.gender_shown
    return (f"{gender} {face.gender_probability:.2f} | "
            f"{face.age:.0f} ({lo:.0f}-{hi:.0f}){flag}")


Rect = tuple[int, int, int, int]
"""``(x, y, width, height)`` in pixels, ``(x, y)`` the top-left corner."""


def place_labels(boxes: list[tuple[float, float, float, float]], sizes: list[tuple[int, int]],
                 width: int, height: int) -> list[Rect]:
    """Where each face's label goes: inside the image and, when there is room, over no
    other label. The web page (``web/app.js``, ``placeLabels``) does the same.

    Labels are placed in order (largest face first): each takes the first free spot of
    above its box, below it, inside its top edge (left-aligned with the box, or
    right-aligned when that is free and the left is not), moved left as needed to stay
    inside the image; when none is free, the nearest free row below or above the box; when
    the image is full, above the box, overlapping.

    Args:
        boxes: ``(x1, y1, x2, y2)`` per face.
        sizes: ``(w, h)`` of each label, pixels.
        width, height: the image's size.
    """
    placed: list[Rect] = []
    for (x1, y1, x2, y2), (w, h) in zip(boxes, sizes):
        def clamp_x(x: float) -> int:
            return int(min(max(0, round(x)), max(0, width - w)))

        def clamp_y(y: float) -> int:
            return int(min(max(0, round(y)), max(0, height - h)))

        xs = [clamp_x(x1), clamp_x(x2 - w)]
        ys = [y1 - h, y2, y1]
        ys = [round(y) for y in ys if 0 <= y and y + h <= height]
        rows = sorted(range(0, max(1, height - h + 1), max(1, h // 2)),
                      key=lambda y: abs(y - (y1 - h)))
        spot = next((r for r in ((x, y, w, h) for y in ys + rows for x in xs)
                     if not any(_overlap(r, q) for q in placed)), None)
        placed.append(spot or (xs[0], clamp_y(y1 - h), w, h))
    return placed


def _overlap(a: Rect, b: Rect) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def draw_faces(image_rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
    """A copy of the image with each face's box, landmarks and :func:`face_label` drawn.

    Labels are placed by :func:`place_labels` (inside the image, not over each other); the
    font shrinks when the image is too narrow for the widest label.

    Args:
        image_rgb: uint8 ``[H, W, 3]`` RGB.
        faces: faces in that image's pixel coordinates.

    Returns:
        uint8 ``[H, W, 3]`` RGB, a new array.
    """
    colours = [LOW_QUALITY_COLOUR if face.quality.low_quality else COLOURS[face.gender_shown]
               for face in faces]
    return draw_labelled_boxes(image_rgb, [f.bbox for f in faces],
                               [face_label(face) for face in faces], colours,
                               [f.landmarks for f in faces])


def draw_labelled_boxes(image_rgb: np.ndarray, boxes: list, texts: list[str],
                        colours: list[tuple[int, int, int]], landmarks: list | None = None
                        ) -> np.ndarray:
    """A copy of the image with each box, its label (placed by :func:`layout_labels`) and,
    when given, its landmark points drawn in its colour. Shared by photos and video frames.

    Args:
        image_rgb: uint8 ``[H, W, 3]`` RGB.
        boxes: ``(x1, y1, x2, y2)`` per face, in the image's pixels.
        texts: one label per box.
        colours: one RGB colour per box.
        landmarks: optional ``[(x, y), ...]`` per box.

    Returns:
        uint8 ``[H, W, 3]`` RGB, a new array.
    """
    out = np.ascontiguousarray(image_rgb).copy()
    h, w = out.shape[:2]
    font_scale, thickness, rects = layout_labels(texts, boxes, w, h)
    pad = thickness + 1
    for i, (box, text, colour, (lx, ly, lw, lh)) in enumerate(zip(boxes, texts, colours, rects)):
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness, cv2.LINE_AA)
        for x, y in (landmarks[i] if landmarks is not None else ()):
            cv2.circle(out, (int(round(x)), int(round(y))), thickness + 1, colour, -1,
                       cv2.LINE_AA)
        cv2.rectangle(out, (lx, ly), (lx + lw - 1, ly + lh - 1), colour, -1)
        (_, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        cv2.putText(out, text, (lx + pad, ly + pad + th), cv2.FONT_HERSHEY_SIMPLEX,
                    font_scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return out


def layout_labels(texts: list[str], boxes: list, width: int, height: int
                  ) -> tuple[float, int, list[Rect]]:
    """Font scale, line thickness and label rectangles for an image of ``width x height``.

    The font grows with the image; it shrinks when the widest label would not fit across
    the image. Rectangles come from :func:`place_labels`.
    """
    thickness = max(1, round(max(height, width) / 400))
    font_scale = max(0.4, max(height, width) / 1200)
    sizes = [_label_size(text, font_scale, thickness) for text in texts]
    # Text width does not scale exactly with the font (glyph rounding, a fixed margin):
    # shrink until the widest label really fits.
    for _ in range(MAX_SHRINKS):
        widest = max((s[0] for s in sizes), default=0)
        if widest <= width:
            break
        font_scale *= 0.95 * width / widest
        sizes = [_label_size(text, font_scale, thickness) for text in texts]
    return font_scale, thickness, place_labels(boxes, sizes, width, height)


def _label_size(text: str, font_scale: float, thickness: int) -> tuple[int, int]:
    """``(w, h)`` of a label's background: the text plus a margin of ``thickness + 1``."""
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
    pad = thickness + 1
    return tw + 2 * pad, th + base + 2 * pad


def write_annotated(source: str, out_dir: Path, image_rgb: np.ndarray) -> Path:
    """Encode an annotated copy of ``source`` and write it as a NEW file in ``out_dir``.

    The name is ``<stem>.annotated.<jpg|png>`` (JPEG quality 92 for JPEG inputs, else PNG),
    or ``<stem>.annotated-N.<ext>`` with the first free ``N``. The file is created
    exclusively (:func:`~genderage.outputs.write_new`): an existing file (an input, an
    earlier output, a hard link to either) is never written over, and a symbolic link at
    that name is never followed (the next ``N`` is taken), so nothing outside ``out_dir``
    can be reached through one.

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
    for n in itertools.count():
        target = out_dir / f"{src.stem}.annotated{f'-{n}' if n else ''}{ext}"
        try:
            write_new(target, buf.tobytes())
        except OutputExistsError:
            continue
        return target
    raise AssertionError("unreachable")  # itertools.count() never ends
