"""A face cut from its original image, or from a video's frame, with a margin, encoded as
JPEG in memory (nothing is written to disk)."""

from __future__ import annotations

from math import ceil
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..imageio import REDUCED_MIN_SIDE, ImageDecodeError, load_image_reduced

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
    return crop_jpeg(decoded.rgb, [v / decoded.factor for v in bbox], margin, size, quality)


def frame_face_jpeg(path: str, frame: int, bbox, margin: float = MARGIN, size: int = SIZE,
                    quality: int = 90) -> bytes:
    """The face at ``bbox`` (frame pixels) in frame ``frame`` (0-based, counting every frame
    of the file, as ``genderage video`` records ``best_frame``) of the video at ``path``,
    cut, framed and encoded as :func:`face_jpeg` cuts a photo's face.

    Raises:
        ImageDecodeError: the video cannot be opened or that frame cannot be decoded.
    """
    return crop_jpeg(video_frame(path, frame), bbox, margin, size, quality)


def video_frame(path: str, index: int) -> np.ndarray:
    """Frame ``index`` of the video at ``path`` as uint8 ``[H, W, 3]`` RGB, read by seeking
    (OpenCV's FFmpeg backend seeks to the keyframe before it and decodes forward).

    Raises:
        ImageDecodeError: no such file, not a video OpenCV can read, or the frame cannot be
            decoded (the file was cut short or changed since the tracks were made).
    """
    if not Path(path).is_file():
        raise ImageDecodeError(f"{path}: no such video file", "unreadable")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise ImageDecodeError(f"{path}: not a video file OpenCV can read", "not_image")
        if index > 0:
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, bgr = capture.read()
    finally:
        capture.release()
    if not ok or bgr is None:
        raise ImageDecodeError(f"{path}: frame {index} cannot be decoded (the video is "
                               "shorter or damaged)", "corrupt")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def crop_jpeg(rgb: np.ndarray, bbox, margin: float = MARGIN, size: int = SIZE,
              quality: int = 90) -> bytes:
    """The face at ``bbox`` (``x1, y1, x2, y2`` in pixels of ``rgb``, uint8 ``[H, W, 3]``
    RGB), cut by :func:`crop_box` with ``margin``, shrunk to at most ``size`` pixels on its
    longer side, framed (:data:`FRAME_RGB`), as JPEG bytes."""
    left, top, right, bottom = crop_box(bbox, rgb.shape[1], rgb.shape[0], margin)
    face = np.ascontiguousarray(rgb[top:bottom, left:right])
    scale = size / max(face.shape[:2])
    if scale < 1:
        face = cv2.resize(face, (max(1, round(face.shape[1] * scale)),
                                 max(1, round(face.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)
    _frame(face, [(float(v) - o) * face.shape[1] / (right - left) for v, o in
                  zip(bbox, (left, top, left, top))])
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(face[:, :, ::-1]),
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()
