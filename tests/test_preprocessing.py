"""The preprocessing contract travels with the model: stored, read back, and obeyed."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from genderage.align import TEMPLATE, align_face, template_landmarks, transform_points
from genderage.attribute import AttributeModel
from genderage.contract import DEFAULT_PREPROCESSING, META_PREPROCESSING, Preprocessing
from genderage.detect import Detection
from genderage.pipeline import GenderAge
from genderage.preprocess import resize_face, to_input, to_input_tensor


def test_defaults_are_the_values_every_model_file_so_far_was_made_with(model_path):
    d = DEFAULT_PREPROCESSING
    assert (d.chip_size, d.input_size, d.interpolation, d.color, d.value_range) == \
        (200, 112, "area", "RGB", (0.0, 1.0))
    np.testing.assert_array_equal(np.array(d.template, np.float32), TEMPLATE)
    model = AttributeModel(model_path)
    # v1 was written before the contract was stored in the file, v2 after: either way the
    # shipped file's preprocessing is the default one.
    if META_PREPROCESSING in model.metadata:
        assert Preprocessing.from_json(model.metadata[META_PREPROCESSING]) == DEFAULT_PREPROCESSING
    assert model.preprocessing == DEFAULT_PREPROCESSING


def test_json_round_trip_and_validation():
    spec = Preprocessing(chip_size=160, template=tuple((x * 0.8, y * 0.8) for x, y in TEMPLATE),
                         input_size=96, interpolation="linear", color="BGR",
                         value_range=(-1.0, 1.0))
    assert Preprocessing.from_json(spec.to_json()) == spec
    assert Preprocessing.from_json(None) == DEFAULT_PREPROCESSING
    with pytest.raises(ValueError, match="color 'YUV'"):
        Preprocessing(color="YUV")
    with pytest.raises(ValueError, match="five"):
        Preprocessing(template=TEMPLATE[:4].tolist())


def test_input_follows_colour_order_range_and_size():
    faces = np.zeros((1, 4, 4, 3), np.uint8)
    faces[..., 0], faces[..., 2] = 255, 51          # R = 255, B = 51
    spec = Preprocessing(input_size=4, color="BGR", value_range=(-1.0, 1.0))
    x = to_input(faces, spec)
    assert x.shape == (1, 3, 4, 4) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, :, 0, 0], [-0.6, -1.0, 1.0], atol=1e-6)   # B, G, R
    default = np.broadcast_to(faces[:, :1, :1], (1, 112, 112, 3))
    np.testing.assert_array_equal(to_input(default)[0, :, 0, 0],
                                  np.array([255, 0, 51], np.float32) / np.float32(255))
    big = np.zeros((200, 200, 3), np.uint8)
    assert resize_face(big, spec).shape == (4, 4, 3)
    with pytest.raises(ValueError, match=r"\[N,112,112,3\]"):
        to_input(faces)


@pytest.mark.parametrize("spec", [DEFAULT_PREPROCESSING,
                                  Preprocessing(input_size=16, color="BGR"),
                                  Preprocessing(input_size=16, value_range=(-0.5, 1.7))],
                         ids=["default", "bgr", "range"])
def test_the_tensor_twin_gives_the_same_input_to_the_last_bit(spec):
    torch = pytest.importorskip("torch")
    size = spec.input_size
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (3, size, size, 3), dtype=np.uint8)
    faces.reshape(-1)[:256] = np.arange(256)  # every uint8 value
    want = to_input(faces, spec)
    got = to_input_tensor(torch.from_numpy(faces), spec)
    assert got.dtype == torch.float32 and tuple(got.shape) == want.shape
    np.testing.assert_array_equal(got.numpy(), want)
    with pytest.raises(ValueError, match=rf"\[N,{size},{size},3\]"):
        to_input_tensor(torch.from_numpy(faces[:, :8]), spec)


def test_training_feeds_its_network_what_the_exported_model_is_fed():
    pytest.importorskip("torch")
    from genderage.training.loop import to_float

    faces = np.random.default_rng(1).integers(0, 256, (4, 112, 112, 3), dtype=np.uint8)
    for channels_last in (False, True):
        np.testing.assert_array_equal(to_float(faces, "cpu", channels_last).numpy(),
                                      to_input(faces, DEFAULT_PREPROCESSING))


@pytest.fixture(scope="module")
def shrunk_template_model(model_path, tmp_path_factory):
    """The same model file with a stored contract whose template puts the face 20% smaller
    in the chip than the default."""
    onnx = pytest.importorskip("onnx")
    centre = TEMPLATE.mean(0)
    spec = Preprocessing(template=tuple(tuple(map(float, centre + 0.8 * (p - centre)))
                                        for p in TEMPLATE))
    model = onnx.load(str(model_path))
    model.metadata_props.add(key=META_PREPROCESSING, value=spec.to_json())
    path = tmp_path_factory.mktemp("spec") / "model.onnx"
    onnx.save(model, str(path))
    return path, spec


class OneFace:
    name = "one-face"

    def __init__(self, landmarks):
        self.det = Detection(bbox=np.array([100, 80, 340, 320], np.float32),
                             landmarks=landmarks, score=0.99)

    def detect(self, image_rgb):
        return [self.det]


def test_pipeline_aligns_with_the_models_template(shrunk_template_model, model_path):
    path, spec = shrunk_template_model
    model = AttributeModel(path)
    assert model.preprocessing == spec
    rng = np.random.default_rng(3)
    image = cv2.resize(rng.integers(0, 256, (30, 40, 3)).astype(np.uint8), (640, 480),
                       interpolation=cv2.INTER_CUBIC)
    a = math.radians(12)
    m = np.array([[1.2 * math.cos(a), -1.2 * math.sin(a), 150],
                  [1.2 * math.sin(a), 1.2 * math.cos(a), 90]])
    landmarks = transform_points(m, TEMPLATE).astype(np.float32)  # as detectors give them
    face = GenderAge(path, detector=OneFace(landmarks)).predict(image).faces[0]
    ours, default = align_face(image, landmarks, spec), align_face(image, landmarks)
    assert np.abs(ours.astype(float) - default).mean() > 10   # the templates differ
    want = model.predict(ours[None])
    assert face.age == pytest.approx(float(want.age[0]), abs=1e-5)
    assert face.gender_probability == pytest.approx(float(want.gender_probs[0].max()), abs=1e-6)
    # A face given as an aligned crop carries the model's template landmarks.
    aligned = GenderAge(path, detector="no-such-backend").predict(ours, aligned=True).faces[0]
    np.testing.assert_allclose(aligned.landmarks, template_landmarks(112, 112, spec), atol=1e-4)
