"""A face cut from its original image with a margin, encoded as JPEG in memory (nothing is
written to disk)."""

from __future__ import annotations

from math import ceil

import cv2
import numpy as np
from PIL import Image

from ..imageio import REDUCED_MIN_SIDE, load_image_reduced

MARGIN = 0.5
"""Context around the face box on each side, as a fraction of the box's longer side: enough
to see hair, neck and clothes, which people use to judge gender and age."""
SIZE = 320
"""Longest side of the crop shown, in pixels."""


def crop_box(bbox, width: int, height: int, margin: float = MARGIN) -> tuple[int, int, int, int]:
    """The square ``(x1, y1, x2, y2)`` (integer pixels, end-exclusive) centred on ``bbox``
    (``x1, y1, x2, y2`` in pixels), of side ``(1 + 2 margin)`` times the box's longer side,
    clipped to the ``width`` x ``height`` image (so a face at an edge gets a smaller crop)."""
    x1, y1, x2, y2 = (float(v) for v in bbox)
    half = max(x2 - x1, y2 - y1) * (0.5 + margin)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left, top = max(0, int(np.floor(cx - half))), max(0, int(np.floor(cy - half)))
    right, bottom = min(width, int(np.ceil(cx + half))), min(height, int(np.ceil(cy + half)))
    return left, top, max(right, left + 1), max(bottom, top + 1)


FRAME_RGB = (255, 200, 0)
"""Colour of the thin frame drawn around the face, so that in a crowd the labeller knows
which face is meant."""


def _frame(face: np.ndarray, box) -> None:
    """Draw the frame, a little outside ``box`` (crop pixels), onto ``face`` in place."""
    x1, y1, x2, y2 = box
    pad = 0.08 * max(x2 - x1, y2 - y1)
    cv2.rectangle(face, (round(x1 - pad), round(y1 - pad)), (round(x2 + pad), round(y2 + pad)),
                  FRAME_RGB, max(1, round(face.shape[1] / 160)))


def face_jpeg(path: str, bbox, margin: float = MARGIN, size: int = SIZE,
              quality: int = 90) -> bytes:
    """The face at ``bbox`` (source-image pixels, as ``genderage batch`` records it) in the
    image at ``path``, with ``margin``, at most ``size`` pixels on its longer side, framed
    (:data:`FRAME_RGB`), as JPEG bytes.

    Large images are decoded reduced (:func:`~genderage.imageio.load_image_reduced`: JPEG
    DCT scaling by 2, 4 or 8) as far as the crop keeps ``size`` pixels: a small face in a
    large photo decodes at an eighth of its size.

    Raises:
        ImageDecodeError: the image can no longer be read.
    """
    x1, y1, x2, y2 = (float(v) for v in bbox)
    side = max(x2 - x1, y2 - y1, 1.0) * (1 + 2 * margin)
    try:
        with Image.open(path) as img:
            longer = max(img.size)
    except (OSError, ValueError):  # unreadable: let the decoder say why, in its words
        longer = REDUCED_MIN_SIDE * side / size
    decoded = load_image_reduced(path, min_side=min(REDUCED_MIN_SIDE,
                                                    max(size, ceil(longer * size / side))))
    rgb, f = decoded.rgb, decoded.factor
    box = [v / f for v in bbox]
    left, top, right, bottom = crop_box(box, rgb.shape[1], rgb.shape[0], margin)
    face = np.ascontiguousarray(rgb[top:bottom, left:right])
    scale = size / max(face.shape[:2])
    if scale < 1:
        face = cv2.resize(face, (max(1, round(face.shape[1] * scale)),
                                 max(1, round(face.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)
    _frame(face, [(v - o) * face.shape[1] / (right - left) for v, o in
                  zip(box, (left, top, left, top))])
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(face[:, :, ::-1]),
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()
