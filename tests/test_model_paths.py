"""Every path to the attribute model asks :class:`~genderage.attribute.AttributeModel`.

A model file that declares a non-default contract (BGR input, its own temperature and a
per-age gender calibration) gives its own answer (golden values), the same to the last bit
for the same face through ``GenderAge.predict``, the video analysis, the local batch engine
and the HTTP service; and the shipped model's answers on fixed inputs stay what they were.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from genderage.attribute import META_GENDER_BY_AGE, META_TEMPERATURE, AttributeModel
from genderage.contract import META_PREPROCESSING, Preprocessing
from genderage.models import default_model_path
from genderage.pipeline import GenderAge
from genderage.preprocess import to_input
from genderage.video.analysis import VideoAnalysis
from genderage.video.io import Frame

ROOT = Path(__file__).resolve().parents[1]
ASTRONAUT = ROOT / "examples" / "astronaut.jpg"
BY_AGE = {"lows": [0], "scale": [0.8], "bias": [0.4]}
"""One band of estimated age, so a track's average (whose age is read from the age
distribution) falls in the same band as its single face."""


@pytest.fixture(scope="module")
def bgr_model(model_path, tmp_path_factory) -> Path:
    """The test model with a stored contract: BGR input, temperature 1.7, per-age gender
    calibration."""
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(model_path))
    meta = {p.key: p.value for p in model.metadata_props}
    meta.update({META_PREPROCESSING: Preprocessing(color="BGR").to_json(),
                 META_TEMPERATURE: "1.7", META_GENDER_BY_AGE: json.dumps(BY_AGE)})
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    path = tmp_path_factory.mktemp("bgr") / "bgr.onnx"
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def astronaut_rgb() -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(ASTRONAUT)), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def astronaut_png(astronaut_rgb, tmp_path_factory) -> Path:
    """The same pixels as a lossless file, for the paths that read files (batch, service)."""
    path = tmp_path_factory.mktemp("png") / "astronaut.png"
    assert cv2.imwrite(str(path), cv2.cvtColor(astronaut_rgb, cv2.COLOR_RGB2BGR))
    return path


@pytest.fixture(scope="module")
def photo_face(bgr_model, astronaut_rgb):
    faces = GenderAge(bgr_model).predict(astronaut_rgb).faces
    assert len(faces) == 1
    return faces[0]


BGR_ANSWER = {"female_probability": 0.8335158824920654, "age": 27.85141372680664,
              "age_interval": (19.54498291015625, 34.134464263916016)}
"""The astronaut's face through the BGR test model made from the shipped fp32 model (v3,
genderage 0.3.0); the shipped model itself says 0.861 / 29.2 years (:data:`SHIPPED`). Every path
below gives these numbers, to the last bit."""


def test_the_bgr_model_gives_its_own_answer(model_path, photo_face):
    if model_path != default_model_path():
        pytest.skip("the golden values are the shipped model's")
    assert photo_face.gender == "female"
    assert photo_face.female_probability == pytest.approx(BGR_ANSWER["female_probability"],
                                                          rel=1e-6)
    assert photo_face.age == pytest.approx(BGR_ANSWER["age"], rel=1e-6)
    assert photo_face.age_interval == pytest.approx(BGR_ANSWER["age_interval"], rel=1e-6)


def test_the_contract_is_read_from_the_file_and_changes_the_answer(bgr_model, model_path,
                                                                    photo_face, astronaut_rgb):
    model = AttributeModel(bgr_model)
    assert model.preprocessing.color == "BGR"
    assert (model.calibration.temperature, model.calibration.gender_by_age) == (1.7, BY_AGE)
    plain = GenderAge(model_path).predict(astronaut_rgb).faces[0]
    assert plain.bbox == photo_face.bbox  # the same face, read by another contract
    assert abs(plain.female_probability - photo_face.female_probability) > 1e-3


def test_the_bgr_model_sees_what_the_plain_model_sees_in_swapped_channels(bgr_model,
                                                                          model_path,
                                                                          astronaut_rgb):
    crops = np.stack([c.crop for c in GenderAge(bgr_model).locate(astronaut_rgb)] +
                     [np.full((112, 112, 3), (200, 120, 40), np.uint8)])
    bgr, plain = AttributeModel(bgr_model), AttributeModel(model_path)
    logits = bgr.predict(crops).logits
    swapped = np.ascontiguousarray(crops[..., ::-1])
    np.testing.assert_array_equal(logits, plain.predict(swapped).logits)
    assert np.abs(logits - plain.predict(crops).logits).max() > 1e-3
    # ``logits`` are the session's first output for the model's own input, untouched, and
    # the model's calibration decodes raw outputs as predict does: what the callers that
    # read raw outputs rely on (evaluation, calibration fitting, the video's track average)
    raw = bgr.run(to_input(crops, bgr.preprocessing))
    np.testing.assert_array_equal(raw[bgr.output_names[0]], logits)
    np.testing.assert_array_equal(bgr.decode(raw).gender_probs, bgr.predict(crops).gender_probs)


def test_predict_from_a_file_gives_the_photo_answer(bgr_model, photo_face, astronaut_png):
    assert GenderAge(bgr_model).predict(astronaut_png).faces == [photo_face]


def test_the_video_path_gives_the_photo_answer(bgr_model, photo_face, astronaut_rgb):
    analysis = VideoAnalysis(GenderAge(bgr_model), fps=25.0)
    frame = analysis.step(Frame(0, 0.0, astronaut_rgb))
    assert frame.detected and len(frame.faces) == 1
    assert frame.faces[0].raw == photo_face  # every float, to the last bit
    # A track of that one face: its average decodes the same logits with the same
    # calibration (temperature and per-age gender calibration), so the same P(female).
    (track,) = analysis.finish()
    assert track.n_frames_used == 1
    assert track.female_probability == pytest.approx(photo_face.female_probability, abs=1e-6)


@pytest.mark.slow  # local loop: over 2 s (CI runs it): a worker process starts
def test_the_local_batch_engine_gives_the_photo_answer(bgr_model, photo_face, astronaut_png,
                                                       tmp_path):
    pytest.importorskip("pyarrow")
    import pyarrow.dataset as ds

    from genderage.cli import main

    out = tmp_path / "results.parquet"
    assert main(["batch", str(astronaut_png), "--out", str(out), "--model", str(bgr_model),
                 "--engine", "local", "--workers", "1", "--no-progress"]) == 0
    rows = ds.dataset(str(out), format="parquet").to_table().to_pylist()
    assert len(rows) == 1
    row = rows[0]
    assert (row["female_probability"], row["age"], (row["age_low"], row["age_high"])) == \
        (photo_face.female_probability, photo_face.age, photo_face.age_interval)
    assert tuple(row["bbox"]) == photo_face.bbox


def test_a_batch_chunk_gives_the_photo_answer(bgr_model, photo_face, astronaut_png):
    pytest.importorskip("pyarrow")
    from genderage.batch.worker import BatchOptions, ChunkAnalyzer

    rows = ChunkAnalyzer(BatchOptions(model=str(bgr_model)))([str(astronaut_png)]).to_pylist()
    assert len(rows) == 1
    assert (rows[0]["female_probability"], rows[0]["age"]) == \
        (photo_face.female_probability, photo_face.age)


def test_the_service_gives_the_photo_answer(bgr_model, photo_face, astronaut_png):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from genderage.serve.app import create_app

    # the service opens the model file itself, as `genderage serve --model` does
    with TestClient(create_app(model=bgr_model)) as client:
        response = client.post("/v1/predict", content=astronaut_png.read_bytes(),
                               headers={"Content-Type": "image/png"})
    assert response.status_code == 200, response.text
    assert response.json()["faces"] == [photo_face.to_dict()]


def test_evaluation_on_chips_resizes_as_the_model_says(model_path, astronaut_rgb, tmp_path):
    onnx = pytest.importorskip("onnx")
    from genderage.evaluation.evaluate import evaluate
    from genderage.imageio import read_image
    from genderage.preprocess import resize_face

    spec = Preprocessing(interpolation="linear")
    model = onnx.load(str(model_path))
    model.metadata_props.add(key=META_PREPROCESSING, value=spec.to_json())
    linear = tmp_path / "linear.onnx"
    onnx.save(model, str(linear))
    chips = tmp_path / "UTKFace"
    chips.mkdir()
    for i, (x, y) in enumerate([(150, 40), (170, 60), (130, 30)]):  # around her face
        crop = astronaut_rgb[y:y + 200, x:x + 200]
        cv2.imwrite(str(chips / f"{30 + i}_1_0_2017010{i:010d}.jpg.chip.jpg"), crop[..., ::-1])
    names = sorted(p.name for p in chips.iterdir())
    truth = np.array([int(n.split("_")[0]) for n in names], float)

    def mae(spec_used) -> float:
        faces = np.stack([resize_face(read_image(chips / n), spec_used) for n in names])
        return float(np.abs(AttributeModel(linear).predict(faces).age - truth).mean())

    report = evaluate(linear, chips, plots=False)
    assert report["n"] == 3
    assert report["age"]["mae"] == pytest.approx(mae(spec), rel=1e-9)
    assert abs(mae(spec) - mae(Preprocessing())) > 1e-4  # the resize changes the answer


# --- the shipped model's answers on fixed inputs ------------------------------------------

SHIPPED = {
    "fp32": {"female_probability": 0.8607990145683289, "age": 29.150936126708984,
             "age_interval": (20.470367431640625, 35.71698760986328),
             "track": (0.8798554539680481, 28.548337936401367,
                       (20.041259765625, 34.98316192626953))},
    "int8": {"female_probability": 0.8541114926338196, "age": 28.99024772644043,
             "age_interval": (20.355941772460938, 35.521305084228516),
             "track": (0.8771722912788391, 28.30040168762207,
                       (19.86470603942871, 34.68123245239258))},
}
"""The astronaut's face, and the track of a 12-frame clip of her, as the shipped models (v3,
genderage 0.3.0) give them through the paths of this test. The tolerance below only allows
for another CPU's float kernels."""


@pytest.mark.parametrize("precision", sorted(SHIPPED))
def test_shipped_model_golden_values(precision):
    if default_model_path(precision) is None:
        pytest.skip(f"this build ships no {precision} model")
    from video_synth import animate, astronaut_portrait

    want = SHIPPED[precision]
    analyzer = GenderAge(precision=precision)
    face = analyzer.predict(ASTRONAUT).faces[0]
    assert face.gender == "female"
    assert face.female_probability == pytest.approx(want["female_probability"], rel=1e-6)
    assert face.age == pytest.approx(want["age"], rel=1e-6)
    assert face.age_interval == pytest.approx(want["age_interval"], rel=1e-6)

    frames = animate([astronaut_portrait()], size=(240, 180), n_frames=12, width=110)
    analysis = VideoAnalysis(analyzer, fps=25.0, every=3)
    for i, rgb in enumerate(frames):
        analysis.step(Frame(i, i / 25.0, rgb))
    (track,) = analysis.finish()
    p_female, age, interval = want["track"]
    assert (track.n_frames, track.n_frames_used) == (10, 2)
    assert track.female_probability == pytest.approx(p_female, rel=1e-6)
    assert track.age == pytest.approx(age, rel=1e-6)
    assert track.age_interval == pytest.approx(interval, rel=1e-6)
    assert math.isclose(track.gender_probability, track.female_probability)
