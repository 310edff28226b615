"""Five-point face alignment into the UTKFace chip geometry.

The model was trained on UTKFace's 200x200 chips, resized by :func:`preprocess.resize_face`.
At inference a detected face is warped into the same chip geometry by the similarity
transform that best maps its five landmarks onto the model's template (its
:class:`~genderage.contract.Preprocessing`; by default :data:`TEMPLATE`), then goes through
the very same :func:`preprocess.resize_face`: ``warp_chip -> resize_face -> to_input``.

Landmark order everywhere: left eye, right eye, nose tip, left mouth corner, right mouth
corner, where "left" is the image's left (the subject's right eye).
"""

from __future__ import annotations

import cv2
import numpy as np

from .contract import CHIP_SIZE, CHIP_TEMPLATE, DEFAULT_PREPROCESSING, Preprocessing
from .preprocess import resize_face

TEMPLATE = np.array(CHIP_TEMPLATE, dtype=np.float32)
"""The default :class:`~genderage.contract.Preprocessing`'s template as float32 ``[5, 2]``:
the five landmarks of an average UTKFace chip in 200x200 chip pixels (see
:data:`~genderage.contract.CHIP_TEMPLATE` for how it was measured)."""

DOWNSCALE_LIMIT = 0.5
"""Below this warp scale the source is first shrunk with area interpolation (anti-aliasing),
as dlib's chip extraction does with its image pyramid."""


def estimate_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (rotation, uniform scale, translation) src -> dst.

    Umeyama's closed form (1991), reflections excluded. Minimises
    ``sum_i |s R src_i + t - dst_i|^2``.

    Args:
        src: ``[K, 2]`` points, K >= 2, x/y in pixels.
        dst: ``[K, 2]`` corresponding points.

    Returns:
        float64 ``[2, 3]`` matrix ``M`` with ``dst ~= src @ M[:, :2].T + M[:, 2]``, usable as
        the forward matrix of ``cv2.warpAffine``.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"expected two [K,2] point sets with K>=2, got {src.shape}, {dst.shape}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s_c, d_c = src - mu_s, dst - mu_d
    var_s = (s_c ** 2).sum() / len(src)
    if var_s <= 1e-12:
        raise ValueError("source points are all identical")
    u, sig, vt = np.linalg.svd(d_c.T @ s_c / len(src))
    d = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rot = u @ d @ vt
    scale = np.trace(np.diag(sig) @ d) / var_s
    t = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, t[:, None]])


def transform_points(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a ``[2, 3]`` affine matrix to ``[K, 2]`` points; returns float64 ``[K, 2]``."""
    points, m = np.asarray(points, np.float64), np.asarray(m, np.float64)
    return points @ m[:, :2].T + m[:, 2]


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of a ``[2, 3]`` affine matrix (float64 ``[2, 3]``)."""
    return cv2.invertAffineTransform(np.asarray(m, np.float64))


def chip_transform(landmarks: np.ndarray, template: np.ndarray = TEMPLATE,
                   chip_size: int = CHIP_SIZE) -> np.ndarray:
    """Matrix taking image pixels into the chip for a face with these landmarks.

    Args:
        landmarks: ``[5, 2]`` landmarks in image pixels (order in the module docstring).
        template: ``[5, 2]`` landmark positions in a ``CHIP_SIZE`` chip.
        chip_size: side of the output chip; the template is scaled by
            ``chip_size / CHIP_SIZE``.

    Returns:
        float64 ``[2, 3]`` image -> chip matrix.
    """
    dst = np.asarray(template, np.float64) * (chip_size / CHIP_SIZE)
    return estimate_similarity(landmarks, dst)


def warp_chip(image_rgb: np.ndarray, landmarks: np.ndarray, chip_size: int = CHIP_SIZE,
              template: np.ndarray = TEMPLATE) -> np.ndarray:
    """Cut the aligned chip of one face out of an image.

    Pixels outside the image are black (as in dlib's chips). When the face is much larger
    than the chip (warp scale < :data:`DOWNSCALE_LIMIT`) the covered region is first shrunk
    with area interpolation so the result is not aliased.

    Args:
        image_rgb: uint8 ``[H, W, 3]`` RGB.
        landmarks: ``[5, 2]`` float landmarks in image pixels.
        chip_size: side of the output.

    Returns:
        uint8 ``[chip_size, chip_size, 3]`` RGB, the face in UTKFace chip geometry.
    """
    m = chip_transform(landmarks, template, chip_size)
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    if scale < DOWNSCALE_LIMIT:
        image_rgb, m = _shrink_region(image_rgb, m, scale, chip_size)
    return cv2.warpAffine(image_rgb, m, (chip_size, chip_size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def _shrink_region(image: np.ndarray, m: np.ndarray, scale: float, chip_size: int):
    """Crop the image region the chip covers and shrink it by ``scale`` (INTER_AREA).

    Returns the shrunk crop and the matrix taking its pixels into the chip.
    """
    h, w = image.shape[:2]
    corners = np.array([[0, 0], [chip_size, 0], [0, chip_size], [chip_size, chip_size]], float)
    src = transform_points(invert_affine(m), corners)
    x0, y0 = np.clip(np.floor(src.min(0)) - 1, 0, [w, h]).astype(int)
    x1, y1 = np.clip(np.ceil(src.max(0)) + 2, 0, [w, h]).astype(int)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return image, m
    crop = image[y0:y1, x0:x1]
    new_w = max(1, round((x1 - x0) * scale))
    new_h = max(1, round((y1 - y0) * scale))
    small = cv2.resize(crop, (new_w, new_h), interpolation=cv2.INTER_AREA)
    fx, fy = new_w / (x1 - x0), new_h / (y1 - y0)
    # cv2.resize samples small pixel u at (u + 0.5) / f - 0.5 in the crop.
    small_to_image = np.array([[1 / fx, 0, 0.5 / fx - 0.5 + x0],
                               [0, 1 / fy, 0.5 / fy - 0.5 + y0]])
    return small, compose_affine(m, small_to_image)


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """``[2, 3]`` matrix of ``outer(inner(p))`` for two ``[2, 3]`` affine matrices."""
    outer, inner = np.asarray(outer, np.float64), np.asarray(inner, np.float64)
    linear = outer[:, :2] @ inner[:, :2]
    offset = outer[:, :2] @ inner[:, 2] + outer[:, 2]
    return np.hstack([linear, offset[:, None]])


def align_face(image_rgb: np.ndarray, landmarks: np.ndarray,
               spec: Preprocessing = DEFAULT_PREPROCESSING) -> np.ndarray:
    """The model-ready crop of one face: :func:`warp_chip` then :func:`resize_face`, in the
    geometry of ``spec`` (the model's preprocessing: template, chip and input size).

    Args:
        image_rgb: uint8 ``[H, W, 3]`` RGB.
        landmarks: ``[5, 2]`` landmarks in image pixels.

    Returns:
        uint8 ``[S, S, 3]`` RGB, ``S = spec.input_size`` (112 by default).
    """
    template = np.asarray(spec.template, np.float32) * (CHIP_SIZE / spec.chip_size)
    return resize_face(warp_chip(image_rgb, landmarks, spec.chip_size, template), spec)


def template_landmarks(width: int, height: int,
                       spec: Preprocessing = DEFAULT_PREPROCESSING) -> np.ndarray:
    """``spec``'s template landmarks scaled to a ``width x height`` image already in chip
    geometry.

    Returns:
        float32 ``[5, 2]``.
    """
    scale = np.array([width / spec.chip_size, height / spec.chip_size], np.float32)
    return (np.asarray(spec.template, np.float32) * scale).astype(np.float32)
