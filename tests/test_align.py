"""Golden values for the 5-point similarity alignment into the UTKFace chip geometry."""

import math

import cv2
import numpy as np
import pytest

from genderage.align import (
    TEMPLATE,
    align_face,
    chip_transform,
    compose_affine,
    estimate_similarity,
    invert_affine,
    template_landmarks,
    transform_points,
    warp_chip,
)
from genderage.contract import CHIP_SIZE
from genderage.preprocess import resize_face


def similarity(angle_deg: float, scale: float, tx: float, ty: float) -> np.ndarray:
    a = math.radians(angle_deg)
    c, s = scale * math.cos(a), scale * math.sin(a)
    return np.array([[c, -s, tx], [s, c, ty]])


def smooth_chip(seed: int = 0) -> np.ndarray:
    """A 200x200 RGB image with only low frequencies, so warps can be compared pixelwise."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (8, 8, 3)).astype(np.float32)
    return np.clip(cv2.resize(coarse, (CHIP_SIZE, CHIP_SIZE), interpolation=cv2.INTER_CUBIC),
                   0, 255).astype(np.uint8)


def test_similarity_golden_matrix():
    m = similarity(30, 1.5, 12, -7)
    np.testing.assert_allclose(m, [[1.2990381, -0.75, 12], [0.75, 1.2990381, -7]], atol=1e-7)
    dst = transform_points(m, TEMPLATE)
    np.testing.assert_allclose(estimate_similarity(TEMPLATE, dst), m, atol=1e-9)


@pytest.mark.parametrize("angle,scale,tx,ty", [(0, 1, 0, 0), (-45, 0.2, 300, 10),
                                                (170, 3.7, -50, 400), (12.5, 1.05, 7.25, -3.5)])
def test_template_transform_is_recovered_exactly(angle, scale, tx, ty):
    m = similarity(angle, scale, tx, ty)
    face_in_image = transform_points(m, TEMPLATE)
    # chip_transform maps the image landmarks back onto the template: the inverse of m.
    np.testing.assert_allclose(chip_transform(face_in_image), invert_affine(m), atol=1e-9)
    np.testing.assert_allclose(transform_points(chip_transform(face_in_image), face_in_image),
                               TEMPLATE, atol=1e-4)


def test_two_point_golden():
    # (0,0)->(0,0) and (1,0)->(0,2): a 90 degree turn and a scale of 2.
    m = estimate_similarity([[0, 0], [1, 0]], [[0, 0], [0, 2]])
    np.testing.assert_allclose(m, [[0, -2, 0], [2, 0, 0]], atol=1e-12)


def test_least_squares_optimum_and_no_reflection():
    rng = np.random.default_rng(1)
    src = TEMPLATE.astype(np.float64)
    dst = transform_points(similarity(10, 0.8, 5, 5), src) + rng.normal(0, 2.0, src.shape)
    m = estimate_similarity(src, dst)
    best = ((transform_points(m, src) - dst) ** 2).sum()
    # Any perturbation of the four similarity parameters increases the squared error.
    a, b, tx, ty = m[0, 0], m[1, 0], m[0, 2], m[1, 2]
    for delta in np.eye(4) * 1e-3:
        for sign in (1, -1):
            pa, pb, ptx, pty = np.array([a, b, tx, ty]) + sign * delta
            mp = np.array([[pa, -pb, ptx], [pb, pa, pty]])
            assert ((transform_points(mp, src) - dst) ** 2).sum() > best
    mirrored = src * [-1, 1]
    assert np.linalg.det(estimate_similarity(src, mirrored)[:, :2]) > 0


def test_degenerate_points_raise():
    with pytest.raises(ValueError):
        estimate_similarity(np.ones((5, 2)), TEMPLATE)
    with pytest.raises(ValueError):
        estimate_similarity(TEMPLATE[:4], TEMPLATE)


@pytest.mark.parametrize("angle,scale", [(20, 1.3), (-8, 0.6), (35, 2.0)])
def test_warped_chip_is_recovered(angle, scale):
    chip = smooth_chip()
    m = similarity(angle, scale, 300, 90)  # chip -> canvas, fully inside it
    canvas = cv2.warpAffine(chip, m, (720, 720), flags=cv2.INTER_CUBIC)
    recovered = warp_chip(canvas, transform_points(m, TEMPLATE))
    assert recovered.shape == (CHIP_SIZE, CHIP_SIZE, 3) and recovered.dtype == np.uint8
    inner = np.s_[4:-4, 4:-4]
    mae = np.abs(recovered[inner].astype(float) - chip[inner]).mean()
    assert mae < 1.5, mae


def test_large_face_is_recovered_through_area_downscale():
    chip = smooth_chip(2)
    m = similarity(5, 5.0, 40, 30)  # the face is 5x larger than the chip: shrink path
    canvas = cv2.warpAffine(chip, m, (1100, 1100), flags=cv2.INTER_CUBIC)
    recovered = warp_chip(canvas, transform_points(m, TEMPLATE))
    inner = np.s_[4:-4, 4:-4]
    assert np.abs(recovered[inner].astype(float) - chip[inner]).mean() < 1.5


def test_large_face_is_not_aliased():
    # 1-pixel stripes seen at 1/4 scale must average to grey, not alias into bands.
    stripes = np.zeros((1000, 1000, 3), np.uint8)
    stripes[:, ::2] = 255
    landmarks = transform_points(similarity(0, 4.0, 100, 100), TEMPLATE)
    chip = warp_chip(stripes, landmarks)
    assert abs(chip.mean() - 127.5) < 3 and chip.std() < 6, (chip.mean(), chip.std())


def test_outside_the_image_is_black():
    image = np.full((300, 300, 3), 200, np.uint8)
    # The template placed at the image's top-left corner: the chip's left/top part is outside.
    landmarks = transform_points(similarity(0, 1.0, -100, -100), TEMPLATE)
    chip = warp_chip(image, landmarks)
    assert (chip[:95, :95] == 0).all()
    assert (chip[110:, 110:] == 200).all()


def test_identity_alignment_and_resize_contract():
    chip = smooth_chip(3)
    np.testing.assert_array_equal(warp_chip(chip, TEMPLATE), chip)
    face = align_face(chip, TEMPLATE)
    assert face.shape == (112, 112, 3) and face.dtype == np.uint8
    np.testing.assert_array_equal(face, resize_face(chip))


def test_template_landmarks_and_compose():
    np.testing.assert_allclose(template_landmarks(200, 200), TEMPLATE)
    np.testing.assert_allclose(template_landmarks(100, 400), TEMPLATE * [0.5, 2.0], rtol=1e-6)
    a, b = similarity(10, 2, 3, 4), similarity(-30, 0.5, -1, 7)
    pts = np.array([[1.0, 2.0], [30.0, -4.0]])
    np.testing.assert_allclose(transform_points(compose_affine(a, b), pts),
                               transform_points(a, transform_points(b, pts)), atol=1e-12)


def test_template_is_plausible():
    # Eyes level and symmetric about the nose; mouth below; all inside the chip.
    le, re, nose, lm, rm = TEMPLATE
    assert abs(le[1] - re[1]) < 2 and le[0] < nose[0] < re[0]
    assert abs((le[0] + re[0]) / 2 - nose[0]) < 3
    assert le[1] < nose[1] < lm[1] and abs(lm[1] - rm[1]) < 2
    assert ((TEMPLATE > 20) & (TEMPLATE < 180)).all()
