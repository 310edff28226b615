"""GenderAge: alignment into the chip geometry, one model call per batch, typed results."""

import io
import json
import math
from dataclasses import replace

import cv2
import numpy as np
import pytest
from PIL import Image

from genderage.align import TEMPLATE, align_face, chip_transform, transform_points
from genderage.attribute import AttributeModel
from genderage.contract import GENDER_LABELS
from genderage.detect import Detection, DetectorError
from genderage.pipeline import GenderAge
from genderage.preprocess import resize_face
from genderage.quality import (
    NOSE_DEPTH_RATIO,
    QualityThresholds,
    assess,
    blur_score,
    head_pose,
)
from genderage.results import ImageResult


def similarity(angle_deg, scale, tx, ty):
    a = math.radians(angle_deg)
    c, s = scale * math.cos(a), scale * math.sin(a)
    return np.array([[c, -s, tx], [s, c, ty]])


def textured_chip(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (12, 12, 3)).astype(np.float32)
    return np.clip(cv2.resize(coarse, (200, 200), interpolation=cv2.INTER_CUBIC), 0, 255
                   ).astype(np.uint8)


class PlantedDetector:
    """Returns the faces planted in each canvas (looked up by its shape), largest first."""

    name = "planted"

    def __init__(self):
        self.faces: dict[tuple[int, int], list[Detection]] = {}

    def plant(self, canvas: np.ndarray, chip: np.ndarray, m: np.ndarray, score=0.99):
        h, w = canvas.shape[:2]
        warped = cv2.warpAffine(chip, m, (w, h), flags=cv2.INTER_CUBIC)
        mask = cv2.warpAffine(np.ones(chip.shape[:2], np.uint8), m, (w, h)) > 0
        canvas[mask] = warped[mask]
        corners = transform_points(m, np.array([[0, 0], [200, 200]], float))
        det = Detection(bbox=np.array([*corners.min(0), *corners.max(0)], np.float32),
                        landmarks=transform_points(m, TEMPLATE).astype(np.float32),
                        score=score)
        faces = self.faces.setdefault((h, w), [])
        faces.append(det)
        faces.sort(key=lambda d: -d.area)

    def detect(self, image_rgb):
        return list(self.faces.get(image_rgb.shape[:2], []))


@pytest.fixture(scope="module")
def scene():
    """Three canvases: two faces, no face, one rotated face; plus the chips planted."""
    det = PlantedDetector()
    chips = [textured_chip(i) for i in range(3)]
    a = np.full((480, 640, 3), 90, np.uint8)
    det.plant(a, chips[0], similarity(0, 1.2, 40, 60))
    det.plant(a, chips[1], similarity(-10, 0.7, 400, 150))
    b = np.full((300, 400, 3), 30, np.uint8)
    c = np.full((500, 520, 3), 160, np.uint8)
    det.plant(c, chips[2], similarity(25, 1.0, 250, 60))
    return det, [a, b, c], chips


def test_aligned_prediction_is_the_model_on_the_resized_image(model_path):
    chip = textured_chip(7)
    analyzer = GenderAge(model_path, detector="no-such-backend")  # aligned needs no detector
    result = analyzer.predict(chip, aligned=True)
    assert result.error is None and len(result.faces) == 1
    face = result.faces[0]
    assert face.bbox == (0.0, 0.0, 200.0, 200.0) and face.det_score == 1.0
    np.testing.assert_allclose(face.landmarks, TEMPLATE, atol=1e-4)
    direct = AttributeModel(model_path).predict(resize_face(chip)[None])
    k = GENDER_LABELS.index(face.gender)
    assert face.gender_probability == pytest.approx(float(direct.gender_probs[0, k]), abs=1e-6)
    assert face.gender_probability >= 0.5
    assert face.age == pytest.approx(float(direct.age[0]), abs=1e-5)
    assert face.age_interval == pytest.approx(tuple(direct.age_interval[0]), abs=1e-5)
    with pytest.raises(DetectorError):
        analyzer.detector  # noqa: B018


def p_female(face) -> float:
    return face.gender_probability if face.gender == "female" else 1 - face.gender_probability


def test_detected_faces_are_aligned_back_to_their_chips(model_path, scene):
    det, images, chips = scene
    analyzer = GenderAge(model_path, detector=det)
    result = analyzer.predict(images[0])
    assert [round(f.bbox[2] - f.bbox[0]) for f in result.faces] == [240, 162]  # largest first
    # Each face's prediction matches the prediction on its own chip, up to resampling noise.
    for face, chip in zip(result.faces, chips[:2]):
        ref = analyzer.predict(chip, aligned=True).faces[0]
        # P(female), not the label: on these textured (face-less) chips it can sit at 0.5,
        # where a label compares a rounding, not the alignment.
        assert abs(p_female(face) - p_female(ref)) < 0.03
        assert abs(face.age - ref.age) < 1.0


def test_batch_equals_single_predictions_and_calls_the_model_once(model_path, scene):
    det, images, _ = scene
    analyzer = GenderAge(model_path, detector=det)
    singles = [analyzer.predict(img) for img in images]
    calls = []
    predict = analyzer.model.predict

    def counting(faces):
        calls.append(len(faces))
        return predict(faces)

    analyzer.model.predict = counting
    batch = analyzer.predict_batch(images + [b"not an image"])
    assert calls == [3]  # 2 + 0 + 1 faces, one model call
    assert [len(r.faces) for r in batch] == [2, 0, 1, 0]
    assert batch[3].error is not None and batch[3].error.startswith("<bytes>:")
    for one, many in zip(singles, batch):
        assert one.error is None and many.error is None
        for f1, f2 in zip(one.faces, many.faces):
            assert f1.gender == f2.gender
            np.testing.assert_allclose(
                [f1.gender_probability, f1.age, *f1.age_interval, *f1.bbox],
                [f2.gender_probability, f2.age, *f2.age_interval, *f2.bbox], atol=1e-5)


def test_aligned_batch_equals_single_predictions(model_path):
    chips = [textured_chip(i) for i in (10, 11, 12)]
    analyzer = GenderAge(model_path)
    batch = analyzer.predict_batch(chips, aligned=True)
    for chip, many in zip(chips, batch):
        one = analyzer.predict(chip, aligned=True).faces[0]
        np.testing.assert_allclose([one.gender_probability, one.age, *one.age_interval],
                                   [many.faces[0].gender_probability, many.faces[0].age,
                                    *many.faces[0].age_interval], atol=1e-5)


def test_bad_inputs_become_errors_not_exceptions(model_path, tmp_path):
    analyzer = GenderAge(model_path, detector=PlantedDetector())
    missing = tmp_path / "gone.jpg"
    results = analyzer.predict_batch([missing, b"", np.zeros((4, 4), np.float32),
                                      np.zeros((50, 60, 3), np.uint8)])
    assert results[0].path == str(missing) and "gone.jpg" in results[0].error
    assert "empty" in results[1].error
    assert results[2].error.startswith("<array>:")
    assert results[3] == ImageResult(None, [], None)  # no face: empty, not an error


def test_skip_low_quality(model_path):
    det = PlantedDetector()
    canvas = np.full((400, 400, 3), 128, np.uint8)
    det.plant(canvas, textured_chip(3), similarity(0, 1.0, 20, 20), score=0.99)
    det.plant(canvas, textured_chip(4), similarity(0, 0.5, 250, 250), score=0.3)
    thresholds = QualityThresholds(min_blur=0.0)  # the synthetic texture is smooth
    kept = GenderAge(model_path, detector=det, quality_thresholds=thresholds).predict(canvas)
    assert [f.quality.low_quality for f in kept.faces] == [False, True]
    assert kept.faces[1].quality.reasons == ("low_det_score",)
    skipped = GenderAge(model_path, detector=det, skip_low_quality=True,
                        quality_thresholds=thresholds).predict(canvas)
    assert len(skipped.faces) == 1 and skipped.faces[0].det_score == pytest.approx(0.99)


def test_missing_model_is_a_clear_error(monkeypatch, tmp_path):
    import genderage.pipeline as pipeline

    monkeypatch.setattr(pipeline, "default_model_path", lambda precision="fp32": None)
    monkeypatch.setattr(pipeline, "int8_matches_fp32", lambda: False)
    with pytest.raises(FileNotFoundError, match="--model PATH"):
        GenderAge()
    with pytest.raises(FileNotFoundError, match="nope.onnx"):
        GenderAge(tmp_path / "nope.onnx")


def test_result_dict_is_plain_json(model_path, scene):
    det, images, _ = scene
    d = GenderAge(model_path, detector=det).predict(images[2]).to_dict()
    assert list(d) == ["path", "faces", "error"]
    face = d["faces"][0]
    assert list(face) == ["bbox", "landmarks", "det_score", "gender", "gender_probability",
                          "female_probability", "age", "age_interval", "quality"]
    assert json.loads(json.dumps(d)) == d
    assert all(type(v) is float for v in face["bbox"] + face["age_interval"])
    assert len(face["landmarks"]) == 5 and all(len(p) == 2 for p in face["landmarks"])
    assert set(face["quality"]) == {"det_score", "inter_ocular_px", "face_size_px", "blur",
                                    "yaw", "pitch", "roll", "low_quality", "reasons",
                                    "brightness"}
    assert face["quality"]["roll"] == pytest.approx(25.0, abs=0.25)  # + the template's 0.18


def test_head_pose_golden_values():
    (lx, ly), (rx, ry) = TEMPLATE[0], TEMPLATE[1]
    template_roll = math.degrees(math.atan2(ry - ly, rx - lx))  # the template's eyes are level
    assert abs(template_roll) < 0.5
    assert head_pose(TEMPLATE) == pytest.approx((0.0, 0.0, template_roll), abs=1e-6)
    # Rotation and scale change roll only.
    rotated = transform_points(similarity(15, 2.5, 30, -10), TEMPLATE)
    assert head_pose(rotated) == pytest.approx((0.0, 0.0, 15.0 + template_roll), abs=1e-6)
    # Moving the nose sideways by 0.4 * inter-ocular distance is a 45 degree yaw.
    iod = TEMPLATE[1, 0] - TEMPLATE[0, 0]
    turned = TEMPLATE.astype(np.float64).copy()
    turned[2, 0] += NOSE_DEPTH_RATIO * iod
    yaw, pitch, roll = head_pose(turned)
    assert yaw == pytest.approx(45.0, abs=0.5) and abs(pitch) < 0.5
    # Moving it toward the eyes (chin up) by 0.4 * eye-to-mouth distance: +45 degree pitch.
    height = (TEMPLATE[3, 1] + TEMPLATE[4, 1] - TEMPLATE[0, 1] - TEMPLATE[1, 1]) / 2
    raised = TEMPLATE.astype(np.float64).copy()
    raised[2, 1] -= NOSE_DEPTH_RATIO * height
    assert head_pose(raised)[1] == pytest.approx(45.0, abs=0.5)


def test_blur_and_quality_flags():
    flat = np.full((112, 112, 3), 120, np.uint8)
    assert blur_score(flat) == 0.0
    checker = (np.indices((112, 112)).sum(0) % 2 * 255).astype(np.uint8)
    sharp = np.repeat(checker[..., None], 3, axis=2)
    assert blur_score(sharp) > 1e4
    small = TEMPLATE * 0.1  # inter-ocular distance ~8 px
    q = assess([0, 0, 20, 20], small, 0.95, flat, QualityThresholds())
    assert q.low_quality and q.reasons == ("small_face", "blurry")
    iod = float(np.hypot(*(TEMPLATE[1] - TEMPLATE[0])))
    assert q.face_size_px == 20.0 and q.inter_ocular_px == pytest.approx(0.1 * iod, rel=1e-5)
    ok = assess([0, 0, 200, 200], TEMPLATE, 0.95, sharp)
    assert not ok.low_quality and ok.reasons == ()


def test_dark_faces_are_flagged_by_their_highlights():
    from genderage.quality import brightness_score

    checker = (np.indices((112, 112)).sum(0) % 2).astype(np.float64)
    face = np.repeat((40 + 150 * checker)[..., None], 3, axis=2).astype(np.uint8)
    assert brightness_score(face) == 190.0  # the highlights, not the mean (115)
    ok = assess([0, 0, 200, 200], TEMPLATE, 0.95, face)
    assert "dark" not in ok.reasons and ok.brightness == 190.0
    dim = (face * 0.35).astype(np.uint8)  # under-exposed: highlights at 66
    q = assess([0, 0, 200, 200], TEMPLATE, 0.95, dim)
    assert q.low_quality and q.reasons == ("dark",) and q.brightness == 66.0
    assert q.to_dict()["brightness"] == 66.0
    assert "dark" not in assess([0, 0, 200, 200], TEMPLATE, 0.95, dim,
                                QualityThresholds(min_brightness=60)).reasons


# --- the real detector backends, on real faces (skip without ../shared) ---

def detector_specs(shared):
    models = shared / "models"
    return [None, str(models / "yunet_s_dynamic.onnx"), str(models / "scrfd_500m_bnkps.onnx")]


@pytest.mark.parametrize("which", [0, 1, 2], ids=["default", "yunet", "scrfd"])
def test_real_detectors_realign_utkface_chips(shared_dir, which, model_path):
    import os

    from genderage.detect import create_detector

    spec = detector_specs(shared_dir)[which]
    if spec is not None and not os.path.exists(spec):
        pytest.skip(f"{spec} is absent")
    try:
        detector = create_detector(spec)
    except DetectorError as exc:
        pytest.skip(f"detector unavailable: {exc}")
    utk = shared_dir / "data" / "UTKFace"
    names = sorted(n for n in os.listdir(utk) if n.endswith(".chip.jpg"))[::2500][:8]
    analyzer = GenderAge(model_path, detector=detector)
    deviations = []
    for name in names:
        chip = cv2.cvtColor(cv2.imread(str(utk / name)), cv2.COLOR_BGR2RGB)
        padded = cv2.copyMakeBorder(chip, 100, 100, 100, 100, cv2.BORDER_CONSTANT, value=0)
        faces = analyzer.predict(padded).faces
        assert faces, name
        lm = np.array(faces[0].landmarks) - 100
        deviations.append(np.linalg.norm(lm - TEMPLATE, axis=1).mean())
        # The re-crop is the original chip up to a small similarity: same landmark order and
        # scale convention in every backend (a swapped eye pair would turn it by 180 degrees).
        m = chip_transform(lm)
        scale = math.sqrt(np.linalg.det(m[:, :2]))
        angle = math.degrees(math.atan2(m[1, 0], m[0, 0]))
        shift = np.linalg.norm(transform_points(m, [[100.0, 100.0]])[0] - 100)
        assert 0.9 < scale < 1.1 and abs(angle) < 6 and shift < 15, (name, scale, angle, shift)
    # px in the 200 chip; faces differ from the average face by ~5 px
    # (docs/experiments/2026-11-28-alignment.md).
    assert np.median(deviations) < 10, deviations


def test_real_photo_end_to_end(shared_dir, model_path):
    path = shared_dir / "data" / "AAF" / "images" / "00000A02.jpg"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    try:
        analyzer = GenderAge(model_path)
        analyzer.detector  # noqa: B018
    except DetectorError as exc:
        pytest.skip(f"default detector unavailable: {exc}")
    result = analyzer.predict(path)
    assert result.error is None and result.path == str(path)
    assert len(result.faces) == 1
    x1, y1, x2, y2 = result.faces[0].bbox
    assert 0 <= x1 < x2 <= 306 and 0 <= y1 < y2 <= 345 and (x2 - x1) > 80


class ScaledPlantedDetector:
    """Returns faces known in source pixels, scaled to whatever size it is shown."""

    name = "planted-scaled"
    input_size = 320

    def __init__(self, source_width: int, detections: list[Detection]):
        self.source_width = source_width
        self.detections = detections
        self.seen: list[tuple[int, int]] = []

    def detect(self, image_rgb):
        self.seen.append(image_rgb.shape[:2])
        s = image_rgb.shape[1] / self.source_width
        return [Detection(d.bbox * s, d.landmarks * s, d.score) for d in self.detections]


def test_large_image_is_decoded_reduced_without_losing_the_chip(model_path):
    """The smallest face the default detector can find (9% of the longer side, see
    imageio.REDUCED_MIN_SIDE) in a 4800-pixel photo: decoded at half size, its chip, boxes and
    prediction match the full-resolution ones."""
    size = 4800
    canvas = np.full((size, size, 3), 120, np.uint8)
    scale = 0.09 * size / 200  # the chip's 200-pixel frame becomes a 432-pixel box
    planting = PlantedDetector()
    planting.plant(canvas, textured_chip(3), similarity(8, scale, 1700, 2100))
    detector = ScaledPlantedDetector(size, planting.faces[(size, size)])
    analyzer = GenderAge(model_path, detector=detector)
    buf = io.BytesIO()
    Image.fromarray(canvas).save(buf, format="PNG")

    reduced = analyzer.predict(buf.getvalue())
    full = analyzer.predict(canvas)
    assert detector.seen == [(2400, 2400), (4800, 4800)]
    (a,), (b,) = reduced.faces, full.faces
    np.testing.assert_allclose(a.bbox, b.bbox, atol=1.0)
    np.testing.assert_allclose(a.landmarks, b.landmarks, atol=1.0)
    assert a.quality.inter_ocular_px == pytest.approx(b.quality.inter_ocular_px, abs=0.5)
    assert a.gender == b.gender
    # The same tolerance as full-resolution faces against their own chips (above): the random
    # texture is far from a face, so the model is more sensitive to resampling than on faces.
    assert abs(a.gender_probability - b.gender_probability) < 0.03
    assert abs(a.age - b.age) < 1.0
    # The chips themselves: from the half-size image they differ from the full-size chip by
    # resampling noise only (mean absolute difference under 2 grey levels of 255).
    lm = np.asarray(b.landmarks, np.float32)
    half = cv2.resize(canvas, (2400, 2400), interpolation=cv2.INTER_AREA)
    chip_full, chip_half = align_face(canvas, lm), align_face(half, lm / 2)
    assert np.abs(chip_full.astype(float) - chip_half).mean() < 2.0


def test_detector_with_a_larger_canvas_keeps_more_pixels(model_path):
    detector = ScaledPlantedDetector(100, [])
    detector.input_size = 640
    analyzer = GenderAge(model_path, detector=detector)
    assert analyzer.decode_min_side(aligned=False) == 4096
    assert analyzer.decode_min_side(aligned=True) == 2048


def test_face_repr_is_short_and_readable(model_path, scene):
    det, images, _ = scene
    face = GenderAge(model_path, detector=det).predict(images[0]).faces[0]
    text = repr(face)
    assert len(text) <= 110, text
    x1, y1, x2, y2 = face.bbox
    lo, hi = face.age_interval
    assert text == (f"Face({face.gender} {face.gender_probability:.2f}, age {face.age:.1f} "
                    f"[{lo:.0f}-{hi:.0f}], bbox ({x1:.0f}, {y1:.0f}, {x2:.0f}, {y2:.0f}), "
                    f"det 0.99, ok)")
    flagged = replace(face, quality=replace(face.quality, low_quality=True,
                                            reasons=("small_face", "blurry")))
    assert repr(flagged).endswith("det 0.99, low quality: small_face,blurry)")


# --- strict mode, PIL images, BGR arrays (#28 item 17) ----------------------------------------

ASTRONAUT = __import__("pathlib").Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg"


@pytest.fixture(scope="module")
def astronaut_analyzer(model_path):
    return GenderAge(model_path)


def test_strict_mode_raises_where_the_default_reports(model_path, tmp_path):
    from genderage.imageio import ImageDecodeError

    strict = GenderAge(model_path, strict=True)
    for bad, kind in ((tmp_path / "missing.jpg", "unreadable"), (None, "not_image"),
                      ([str(ASTRONAUT)], "not_image"), (b"\xff\xd8\xff junk", "corrupt")):
        with pytest.raises(ImageDecodeError) as info:
            strict.predict(bad)
        assert info.value.kind == kind
        lenient = GenderAge(model_path).predict(bad)
        assert lenient.faces == [] and lenient.error is not None
    with pytest.raises(TypeError, match="use predict"):
        strict.predict_batch(str(ASTRONAUT))
    assert len(strict.predict(ASTRONAUT).faces) == 1


def test_pil_images_and_bgr_arrays_give_the_file_answer(astronaut_analyzer):
    want = astronaut_analyzer.predict(ASTRONAUT).faces
    assert len(want) == 1
    with Image.open(ASTRONAUT) as pil:
        from_pil = astronaut_analyzer.predict(pil).faces
        grey = astronaut_analyzer.predict(pil.convert("L")).faces
    bgr = cv2.imread(str(ASTRONAUT))
    from_bgr = astronaut_analyzer.predict(bgr, color="bgr").faces
    for got in (from_pil, from_bgr):
        assert len(got) == 1
        assert got[0].age == pytest.approx(want[0].age, abs=0.05)
        assert got[0].gender_probability == pytest.approx(want[0].gender_probability, abs=0.01)
    assert len(grey) == 1
    swapped = astronaut_analyzer.predict(bgr).faces  # BGR read as RGB: answers move
    assert abs(swapped[0].age - want[0].age) > 0.05 or \
        abs(swapped[0].gender_probability - want[0].gender_probability) > 0.01
    with pytest.raises(ValueError, match="color"):
        astronaut_analyzer.predict(bgr, color="BGRA")
