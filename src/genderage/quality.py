"""Per-face quality signals: detector score, size, blur, exposure, head pose, and a
low-quality flag.

The model saw roughly frontal, sharp UTKFace chips; a tiny, blurred or strongly turned face
gets a prediction anyway, but flagged, so callers can drop it (``skip_low_quality``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .align import TEMPLATE

NOSE_DEPTH_RATIO = 0.4
"""Nose-tip protrusion in front of the eye/mouth plane, as a fraction of the inter-ocular
distance (and of the eye-to-mouth distance): about 0.4 on a generic 3D mean face. It turns
the 2D nose offset into an angle: ``tan(angle) = offset / (NOSE_DEPTH_RATIO * length)``."""


@dataclass(frozen=True)
class QualityThresholds:
    """When a face is flagged ``low_quality``; each failed test adds its reason.

    Attributes:
        min_det_score: detector confidence below this -> ``"low_det_score"`` (clear faces
            score above 0.95 with the default MTCNN, whose own cut-off is 0.7).
        min_inter_ocular_px: eye distance in source pixels below this -> ``"small_face"``.
            A UTKFace chip has ~79 px between the eyes (44 px at the 112 input); below 16 px
            the chip is upsampled about 5x and carries little detail.
        min_blur: :func:`blur_score` below this -> ``"blurry"``. 25 is about the 2nd
            percentile of UTKFace validation chips (1st: 21.7, median: 150).
        max_abs_yaw: ``|yaw|`` degrees above this -> ``"large_yaw"``. 98% of UTKFace
            validation chips lie within +-37 degrees.
        max_abs_pitch: ``|pitch|`` degrees above this -> ``"large_pitch"`` (98% of the
            chips lie within +-29 degrees).
        min_brightness: :func:`brightness_score` below this -> ``"dark"`` (under-exposed).
            The 1st percentile of UTKFace validation chips is 107 (dark skin in good light
            still has highlights); darkening the chips (gain 0.35, gamma 1.3) puts 95% of
            them below 80 and costs v1 3 points of gender accuracy, gain 0.25 costs 8
            (docs/pipeline.md, "Dark faces").

    The percentiles come from ``research/check_alignment.py``
    (docs/experiments/2026-11-28-alignment.md).
    """

    min_det_score: float = 0.8
    min_inter_ocular_px: float = 16.0
    min_blur: float = 25.0
    max_abs_yaw: float = 45.0
    max_abs_pitch: float = 40.0
    min_brightness: float = 80.0


DEFAULT_THRESHOLDS = QualityThresholds()


@dataclass(frozen=True)
class Quality:
    """Quality signals of one face.

    Attributes:
        det_score: detector confidence in [0, 1].
        inter_ocular_px: distance between the eye landmarks, source-image pixels.
        face_size_px: shorter side of the detector box, source-image pixels.
        blur: :func:`blur_score` of the aligned 112x112 crop (higher = sharper).
        yaw: degrees, positive when the face turns toward the image's right.
        pitch: degrees, positive when the chin is raised.
        roll: degrees, angle of the eye line; positive when the right-hand eye is lower.
        brightness: :func:`brightness_score` of the aligned crop (0-255; low = under-exposed).
        low_quality: any threshold failed.
        reasons: the failed tests, in the order of :class:`QualityThresholds`.
    """

    det_score: float
    inter_ocular_px: float
    face_size_px: float
    blur: float
    yaw: float
    pitch: float
    roll: float
    low_quality: bool
    reasons: tuple[str, ...]
    brightness: float = 255.0

    def to_dict(self) -> dict:
        return {
            "det_score": round(float(self.det_score), 4),
            "inter_ocular_px": round(float(self.inter_ocular_px), 2),
            "face_size_px": round(float(self.face_size_px), 2),
            "blur": round(float(self.blur), 1),
            "yaw": round(float(self.yaw), 1),
            "pitch": round(float(self.pitch), 1),
            "roll": round(float(self.roll), 1),
            "brightness": round(float(self.brightness), 1),
            "low_quality": bool(self.low_quality),
            "reasons": list(self.reasons),
        }


BLUR_MARGIN = 16
"""Pixels left out on each side of the 112x112 crop for :func:`blur_score`: the centre holds
the face, while the edges may hold black out-of-image fill whose edge looks "sharp"."""


def blur_score(face_rgb: np.ndarray, margin: int = BLUR_MARGIN) -> float:
    """Variance of the Laplacian (3x3 aperture) of the grey centre of a face crop.

    Args:
        face_rgb: uint8 ``[H, W, 3]`` RGB, normally the aligned 112x112 crop (the score
            depends on the crop size, so thresholds assume 112x112).
        margin: pixels ignored on each side (the centre 80x80 of a 112 crop by default).

    Returns:
        A non-negative float; 0 for a flat image, around 100-200 for a sharp face.
    """
    grey = cv2.cvtColor(face_rgb, cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    if min(h, w) > 2 * margin + 2:
        grey = grey[margin:h - margin, margin:w - margin]
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def brightness_score(face_rgb: np.ndarray, margin: int = BLUR_MARGIN) -> float:
    """95th percentile of the grey level (0-255) of the centre of a face crop.

    A high percentile rather than the mean: a dark-skinned face in good light still has
    bright highlights, an under-exposed face has none. Same centre as :func:`blur_score`.
    """
    grey = cv2.cvtColor(face_rgb, cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    if min(h, w) > 2 * margin + 2:
        grey = grey[margin:h - margin, margin:w - margin]
    return float(np.percentile(grey, 95))


def _axis_fraction(points: np.ndarray) -> tuple[float, float, float]:
    """De-rolled nose position relative to the eye-midpoint -> mouth-midpoint axis.

    Returns ``(roll_deg, lateral, along)``: the eye-line angle; the nose's offset from the
    axis divided by the inter-ocular distance; and the nose's position along the axis as a
    fraction of the eye-to-mouth distance (0 at the eyes, 1 at the mouth).
    """
    p = np.asarray(points, np.float64)
    left_eye, right_eye, nose = p[0], p[1], p[2]
    eye_mid, mouth_mid = (p[0] + p[1]) / 2, (p[3] + p[4]) / 2
    dx, dy = right_eye - left_eye
    roll = math.atan2(dy, dx)
    c, s = math.cos(-roll), math.sin(-roll)
    rot = np.array([[c, -s], [s, c]])
    nose_r, mouth_r = rot @ (nose - eye_mid), rot @ (mouth_mid - eye_mid)
    iod = max(math.hypot(dx, dy), 1e-6)
    height = max(mouth_r[1], 1e-6)
    along = nose_r[1] / height
    lateral = (nose_r[0] - mouth_r[0] * along) / iod
    return math.degrees(roll), lateral, along


_, _TEMPLATE_LATERAL, _TEMPLATE_ALONG = _axis_fraction(TEMPLATE)


def head_pose(landmarks: np.ndarray) -> tuple[float, float, float]:
    """Rough yaw, pitch and roll (degrees) from five landmarks.

    Proxies, not a 3D fit: roll is the eye line's angle; yaw comes from the nose tip's
    sideways offset from the eyes-to-mouth axis, pitch from its position along that axis,
    both relative to :data:`align.TEMPLATE` (a frontal average face) and turned into angles
    with :data:`NOSE_DEPTH_RATIO`. Good to ~10 degrees for moderate poses; a face that
    is near profile saturates around 60-70 degrees.

    Args:
        landmarks: ``[5, 2]`` landmarks in any pixel frame.

    Returns:
        ``(yaw, pitch, roll)`` floats, degrees; all 0 for the template itself.
    """
    roll, lateral, along = _axis_fraction(landmarks)
    yaw = math.degrees(math.atan((lateral - _TEMPLATE_LATERAL) / NOSE_DEPTH_RATIO))
    pitch = math.degrees(math.atan((_TEMPLATE_ALONG - along) / NOSE_DEPTH_RATIO))
    return yaw, pitch, roll


def assess(bbox: np.ndarray, landmarks: np.ndarray, det_score: float, aligned_rgb: np.ndarray,
           thresholds: QualityThresholds = DEFAULT_THRESHOLDS) -> Quality:
    """Quality of one detected face.

    Args:
        bbox: ``[4]`` x1, y1, x2, y2 in source pixels.
        landmarks: ``[5, 2]`` in source pixels.
        det_score: detector confidence.
        aligned_rgb: uint8 ``[112, 112, 3]`` aligned crop (see :func:`align.align_face`).
        thresholds: what counts as low quality.
    """
    lm = np.asarray(landmarks, np.float64)
    x1, y1, x2, y2 = (float(v) for v in bbox)
    iod = float(np.hypot(*(lm[1] - lm[0])))
    size = min(x2 - x1, y2 - y1)
    blur = blur_score(aligned_rgb)
    brightness = brightness_score(aligned_rgb)
    yaw, pitch, roll = head_pose(lm)
    checks = (
        ("low_det_score", det_score < thresholds.min_det_score),
        ("small_face", iod < thresholds.min_inter_ocular_px),
        ("blurry", blur < thresholds.min_blur),
        ("large_yaw", abs(yaw) > thresholds.max_abs_yaw),
        ("large_pitch", abs(pitch) > thresholds.max_abs_pitch),
        ("dark", brightness < thresholds.min_brightness),
    )
    reasons = tuple(name for name, failed in checks if failed)
    return Quality(float(det_score), iod, float(size), blur, yaw, pitch, roll,
                   bool(reasons), reasons, brightness)
