"""The user's knobs: --min-face, --det-threshold, --max-faces and --min-gender-probability,
in the library, the CLI (predict, batch, video, info), the service, and the report that must
ignore the "unknown" labels. Real detector and model on photos made from the astronaut."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from genderage.attribute import AttributeBatch
from genderage.cli import main
from genderage.detect import create_detector
from genderage.detect.types import Detection, DetectorError, box_side, drop_small
from genderage.options import FaceOptions, OptionError
from genderage.pipeline import Candidate, GenderAge, make_face
from genderage.quality import Quality

ASTRONAUT = Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg"
ASTRONAUT_BOX_SIDE = 86.4
"""Shorter side of the default detector's box on the astronaut's face (512x512 photo):
``(178.5, 62.6, 264.8, 171.9)`` with the detector of 2026-12-06."""


# --- the record: golden behaviour of "unknown" ----------------------------------------------

def one_face(p_female: float):
    batch = AttributeBatch(np.array([[p_female, 1 - p_female]], np.float32),
                           np.array([30.0], np.float32), np.array([[25.0, 36.0]], np.float32),
                           0.8)
    q = Quality(0.99, 40.0, 90.0, 100.0, 0.0, 0.0, 0.0, False, ())
    c = Candidate(np.array([0, 0, 90, 90], np.float32), np.zeros((5, 2), np.float32), 0.99,
                  np.zeros((112, 112, 3), np.uint8), q)
    return c, batch


@pytest.mark.parametrize("p_female, threshold, gender", [
    (0.6, 0.7, None),        # the model says 0.6: below 0.7 it cannot tell
    (0.6, 0.6, "female"),    # "below P" is unknown; exactly P is answered
    (0.3, 0.7, "male"),      # P(male) = 0.7
    (0.35, 0.7, None),       # P(male) = 0.65
    (0.6, None, "female"),   # default: off
])
def test_a_face_below_the_threshold_is_unknown_with_its_probability(p_female, threshold, gender):
    c, batch = one_face(p_female)
    face = make_face(c, batch, 0, FaceOptions(min_gender_probability=threshold))
    assert face.gender == gender
    assert face.gender_probability == pytest.approx(max(p_female, 1 - p_female), abs=1e-6)
    assert face.female_probability == pytest.approx(p_female, abs=1e-6)
    d = face.to_dict()
    assert d["gender"] == gender and d["female_probability"] == round(p_female, 4)
    assert json.loads(json.dumps(d))["gender"] == gender  # null in JSON
    assert face.gender_shown == (gender or "unknown")
    assert repr(face).startswith(f"Face({gender or 'unknown'} ")


def test_unknown_faces_are_labelled_unknown_in_annotations():
    from genderage.annotate import COLOURS, draw_faces, face_label

    c, batch = one_face(0.6)
    face = make_face(c, batch, 0, FaceOptions(min_gender_probability=0.7))
    assert face_label(face) == "unknown 0.60 | 30 (25-36)"
    drawn = draw_faces(np.zeros((200, 200, 3), np.uint8), [face])
    assert (drawn.reshape(-1, 3) == COLOURS["unknown"]).all(axis=1).sum() > 100


@pytest.mark.parametrize("kwargs, option", [
    ({"min_face": 7.9}, "min_face"), ({"min_face": float("nan")}, "min_face"),
    ({"det_threshold": 0.0}, "det_threshold"), ({"det_threshold": 1.0}, "det_threshold"),
    ({"max_faces": 0}, "max_faces"), ({"max_faces": 2.5}, "max_faces"),
    ({"min_gender_probability": 0.49}, "min_gender_probability"),
    ({"min_gender_probability": 1.0}, "min_gender_probability"),
])
def test_options_out_of_range_name_the_option(kwargs, option):
    with pytest.raises(OptionError) as info:
        FaceOptions(**kwargs)
    assert info.value.option == option and option in str(info.value)


def test_options_at_their_limits_are_accepted():
    o = FaceOptions(min_face=8, det_threshold=0.01, max_faces=1, min_gender_probability=0.5)
    assert o.to_dict() == {"min_face": 8, "det_threshold": 0.01, "max_faces": 1,
                           "min_gender_probability": 0.5}


# --- detection: min_face, det_threshold, max_faces ------------------------------------------

def det(x1, y1, x2, y2, score=0.99) -> Detection:
    return Detection(np.array([x1, y1, x2, y2], np.float32), np.zeros((5, 2), np.float32), score)


def test_drop_small_uses_the_shorter_side():
    faces = [det(0, 0, 40, 20), det(0, 0, 20, 20), det(0, 0, 19.9, 100)]
    assert [box_side(d.bbox) for d in faces] == pytest.approx([20, 20, 19.9])
    assert drop_small(faces, 20) == faces[:2]
    assert drop_small(faces, None) == faces


class Fixed:
    """A detector returning the same boxes for every image, in a shuffled order."""

    name = "fixed"

    def __init__(self, detections):
        self.detections = detections

    def detect(self, image_rgb):
        return list(self.detections)


GROUP = [det(10, 10, 40, 40, 0.95), det(100, 10, 200, 110, 0.75), det(300, 10, 360, 70, 0.99),
         det(10, 200, 22, 212, 0.9), det(400, 300, 480, 380, 0.8)]
"""Five faces of sides 30, 100, 60, 12 and 80 px with various scores."""


@pytest.mark.parametrize("kwargs, factor, sides", [
    ({}, 1, [100, 80, 60, 30, 12]),
    ({"max_faces": 2}, 1, [100, 80]),
    ({"min_face": 30}, 1, [100, 80, 60, 30]),
    ({"min_face": 60}, 2, [100, 80, 60, 30]),    # 60 source px = 30 px of a half-size decode
    ({"det_threshold": 0.85}, 1, [60, 30, 12]),
    ({"det_threshold": 0.85, "min_face": 20, "max_faces": 1}, 1, [60]),
])
def test_the_pipeline_keeps_the_faces_asked_for(model_path, kwargs, factor, sides):
    analyzer = GenderAge(model_path, Fixed(GROUP), **kwargs)
    kept = analyzer.select(GROUP, factor)
    assert [box_side(d.bbox) for d in kept] == pytest.approx(sides)


def test_max_faces_bounds_the_model_inputs_of_a_crowd(model_path):
    """A 'stadium': 300 detections; the model sees max_faces crops, the largest ones."""
    rng = np.random.default_rng(0)
    crowd = []
    for i in range(300):
        x, y, s = rng.uniform(0, 900), rng.uniform(0, 600), rng.uniform(10, 60)
        crowd.append(Detection(np.array([x, y, x + s, y + s], np.float32),
                               np.array([[x + .3 * s, y + .4 * s], [x + .7 * s, y + .4 * s],
                                         [x + .5 * s, y + .6 * s], [x + .35 * s, y + .8 * s],
                                         [x + .65 * s, y + .8 * s]], np.float32), 0.9))
    analyzer = GenderAge(model_path, Fixed(crowd), max_faces=7)
    seen = []
    predict = analyzer.model.predict
    analyzer.model.predict = lambda faces: seen.append(len(faces)) or predict(faces)
    image = rng.integers(0, 256, (700, 1000, 3), dtype=np.uint8)
    faces = analyzer.predict(image).faces
    assert seen == [7] and len(faces) == 7
    largest = sorted((box_side(d.bbox) for d in crowd), reverse=True)[:7]
    assert [f.bbox[2] - f.bbox[0] for f in faces] == pytest.approx(largest, abs=1e-3)


def test_the_default_detector_honours_min_face_and_threshold():
    rgb = np.asarray(Image.open(ASTRONAUT).convert("RGB"))
    found = create_detector().detect(rgb)
    side = box_side(found[0].bbox)
    assert len(found) == 1 and side == pytest.approx(ASTRONAUT_BOX_SIDE, abs=10)
    keeps = create_detector(min_face=side - 2)
    assert keeps.min_face_px == side - 2 and len(keeps.detect(rgb)) == 1
    assert create_detector(min_face=side + 2).detect(rgb) == []
    assert create_detector(score_threshold=0.9).detect(rgb) != []
    with pytest.raises(DetectorError, match="min_face"):
        create_detector(min_face=4)


def test_optional_backends_honour_min_face(shared_dir):
    from genderage.detect.registry import model_files

    rgb = np.asarray(Image.open(ASTRONAUT).convert("RGB"))
    assert model_files() == {"yunet": "yunet_s_dynamic.onnx", "scrfd": "scrfd_500m_bnkps.onnx"}
    for name, file in model_files().items():
        path = shared_dir / "models" / file
        if not path.is_file():
            pytest.skip(f"{path} is absent")
        (face,) = create_detector(str(path)).detect(rgb)
        side = box_side(face.bbox)
        assert len(create_detector(str(path), min_face=side - 1).detect(rgb)) == 1, name
        assert create_detector(str(path), min_face=side + 1).detect(rgb) == [], name


def test_a_detector_fingerprint_without_min_face_is_unchanged():
    """Detection caches made before min_face existed keep their keys."""
    from genderage.detect.registry import detector_fingerprint

    assert detector_fingerprint("mtcnn-v1") == (  # the key of genderage 0.2's caches
        "MtcnnDetector|{'border': 0.1, 'fast_resize': False, 'input_size': 320, 'min_face': 24.0, "
        "'refine_nms': 0.7, 'retry_border': 0.25, 'score_threshold': 0.7, 'small_face_retry': "
        "None, 'stage_thresholds': (0.6, 0.7)}")


# --- the CLI --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("knobs")
    base = Image.open(ASTRONAUT).convert("RGB")
    small = base.resize((410, 410), Image.BILINEAR)   # the face at 0.8 of its size, ~70 px
    pair = Image.new("RGB", (922, 512))
    pair.paste(base, (0, 0))
    pair.paste(ImageOps.mirror(small), (512, 102))
    paths = {"plain": folder / "plain.jpg", "pair": folder / "pair.png",
             "tiny": folder / "tiny.png"}
    base.save(paths["plain"], quality=95)
    pair.save(paths["pair"])
    base.resize((40, 40)).save(paths["tiny"])
    return paths


def predict_json(capsys, *args) -> tuple[int, list[dict], str]:
    rc = main(["predict", "--json", "--no-progress", *map(str, args)])
    out = capsys.readouterr()
    return rc, [json.loads(line) for line in out.out.splitlines()], out.err


def test_predict_min_gender_probability_golden(photos, capsys, model_path):
    rc, (plain,), _ = predict_json(capsys, "--model", model_path, photos["plain"])
    p = plain["faces"][0]["gender_probability"]
    assert rc == 0 and plain["faces"][0]["gender"] == "female" and 0.5 < p < 0.99
    rc, (strict,), _ = predict_json(capsys, "--model", model_path,
                                    "--min-gender-probability", str(round(p + 0.005, 3)),
                                    photos["plain"])
    face = strict["faces"][0]
    assert face["gender"] is None and face["gender_probability"] == p
    assert face["female_probability"] == plain["faces"][0]["female_probability"]
    rc, (same,), _ = predict_json(capsys, "--model", model_path,
                                  "--min-gender-probability", str(round(p - 0.005, 3)),
                                  photos["plain"])
    assert same["faces"][0]["gender"] == "female"
    assert main(["predict", "--no-progress", "--model", str(model_path),
                 "--min-gender-probability", "0.999", str(photos["plain"])]) == 0
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[2] == "unknown" and float(row[3]) == pytest.approx(p, abs=0.006)


def test_predict_max_faces_and_min_face_on_two_faces(photos, capsys, model_path):
    rc, (both,), _ = predict_json(capsys, "--model", model_path, photos["pair"])
    sides = [box_side(f["bbox"]) for f in both["faces"]]
    assert rc == 0 and len(sides) == 2 and sides[0] > sides[1] + 8
    _, (one,), _ = predict_json(capsys, "--model", model_path, "--max-faces", "1", photos["pair"])
    assert one["faces"] == both["faces"][:1]
    # Between the two faces' sizes: the search starts there, and the smaller face's box
    # (whatever P-Net's tolerance finds of it) is dropped.
    _, (big,), _ = predict_json(capsys, "--model", model_path, "--min-face",
                                str(round((sides[0] + sides[1]) / 2)), photos["pair"])
    assert len(big["faces"]) == 1
    assert big["faces"][0]["bbox"] == pytest.approx(both["faces"][0]["bbox"], abs=6)
    _, (low,), _ = predict_json(capsys, "--model", model_path, "--det-threshold", "0.95",
                                photos["pair"])
    assert all(f["det_score"] >= 0.95 for f in low["faces"])


def test_min_face_above_an_image_is_an_error_for_that_file_only(photos, capsys, model_path):
    rc, results, err = predict_json(capsys, "--model", model_path, "--min-face", "60",
                                    photos["tiny"], photos["plain"])
    tiny, plain = sorted(results, key=lambda r: r["path"] != str(photos["tiny"]))
    assert rc == 1 and tiny["faces"] == [] and str(photos["tiny"]) in tiny["error"]
    assert "min_face 60 px is larger than the image (40x40 px)" in tiny["error"]
    assert plain["error"] is None and len(plain["faces"]) == 1
    assert "1 of 2 input(s) failed" in err


@pytest.mark.parametrize("command", ["predict", "batch", "video", "info", "serve"])
@pytest.mark.parametrize("flag, value", [
    ("--min-face", "7"), ("--min-face", "abc"), ("--det-threshold", "0"),
    ("--det-threshold", "1"), ("--max-faces", "0"), ("--max-faces", "1.5"),
    ("--min-gender-probability", "0.4"), ("--min-gender-probability", "1"),
])
def test_bad_values_are_one_line_usage_errors_naming_the_flag(command, flag, value, photos,
                                                              tmp_path, capsys):
    args = {"predict": [str(photos["plain"])], "info": [],
            "batch": [str(photos["plain"]), "--out", str(tmp_path / "out")],
            "video": [str(tmp_path / "absent.mp4")], "serve": []}[command]
    assert main([command, *args, flag, value]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith(f"genderage {command}: error: {flag} ")
    assert not (tmp_path / "out").exists()


def test_aligned_input_refuses_detector_options(photos, capsys, model_path):
    assert main(["predict", "--aligned", "--max-faces", "1", str(photos["plain"])]) == 2
    assert "--aligned runs no detector" in capsys.readouterr().err


def test_info_names_the_detector_and_its_settings(capsys):
    assert main(["info", "--json", "--min-face", "24", "--max-faces", "5",
                 "--min-gender-probability", "0.8"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["detector"] == {"detector": "mtcnn", "score_threshold": 0.85, "min_face": 24.0,
                                "max_faces": 5}
    assert info["min_gender_probability"] == 0.8
    assert main(["info", "--det-threshold", "0.9"]) == 0
    assert "'score_threshold': 0.9" in capsys.readouterr().out


def test_info_answers_without_a_usable_default_detector(monkeypatch, capsys):
    import genderage.detect.mtcnn as mtcnn

    def missing():
        raise DetectorError("the default face detector needs the 'mtcnn' package")

    monkeypatch.setattr(mtcnn, "weights_dir", missing)
    assert main(["info", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["detector"] == {
        "detector": "mtcnn", "error": "the default face detector needs the 'mtcnn' package"}
    assert main(["info", "--detector", "mtcnn"]) == 2   # asked for by name: a usage error
    assert "needs the 'mtcnn' package" in capsys.readouterr().err


# --- batch, and the report on its "unknown" rows --------------------------------------------

@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_batch_records_the_options_and_the_report_ignores_unknown(photos, tmp_path, capsys,
                                                                  model_path):
    """The same faces with and without "unknown" labels give the same population report:
    it classifies by probability, never by the thresholded label."""
    pq = pytest.importorskip("pyarrow.parquet")
    pytest.importorskip("matplotlib")
    inputs = [str(photos["plain"]), str(photos["pair"])]
    plain, strict = tmp_path / "plain", tmp_path / "strict"
    assert main(["batch", *inputs, "--out", str(plain), "--model", str(model_path),
                 "--no-progress", "--workers", "1"]) == 0
    assert main(["batch", *inputs, "--out", str(strict), "--model", str(model_path),
                 "--no-progress", "--workers", "1", "--min-gender-probability", "0.999",
                 "--min-face", "64"]) == 0  # the default search: the same faces
    a, b = pq.read_table(plain).to_pylist(), pq.read_table(strict).to_pylist()
    assert len(a) == len(b) == 3
    assert all(r["gender"] in ("female", "male") for r in a)
    assert all(r["gender"] is None and 0.5 <= r["gender_probability"] < 0.999 for r in b)
    for x, y in zip(sorted(a, key=str), sorted(b, key=str)):
        assert x["female_probability"] == y["female_probability"]
        assert (x["female_probability"] >= 0.5) == (x["gender"] == "female")
    meta = pq.read_schema(next(strict.glob("part-*.parquet"))).metadata
    options = json.loads(meta[b"genderage.batch.options"])
    assert {k: options[k] for k in ("min_face", "det_threshold", "max_faces",
                                    "min_gender_probability")} == {
        "min_face": 64.0, "det_threshold": None, "max_faces": None,
        "min_gender_probability": 0.999}
    reports = []
    for results in (plain, strict):
        assert main(["report", str(results), "--out", str(tmp_path / results.name / "r"),
                     "--bootstrap", "50"]) == 0
        report = json.loads((tmp_path / results.name / "r" / "report.json").read_text())
        reports.append({k: v for k, v in report.items() if k not in ("input", "command")})
    capsys.readouterr()
    assert reports[0]["n_faces"] == 3 and reports[0] == reports[1]


def test_batch_min_face_above_an_image_names_it_and_goes_on(photos, tmp_path, capsys,
                                                            model_path):
    pq = pytest.importorskip("pyarrow.parquet")
    pytest.importorskip("fsspec")
    uri = "file://" + str(photos["tiny"])
    listing = tmp_path / "paths.txt"
    listing.write_text(f"{uri}\n{photos['tiny']}\n{photos['plain']}\n")
    out = tmp_path / "out"
    assert main(["batch", str(listing), "--out", str(out), "--model", str(model_path),
                 "--no-progress", "--workers", "1", "--min-face", "60"]) == 1
    rows = {r["path"]: r for r in pq.read_table(out).to_pylist()}
    for name in (uri, str(photos["tiny"])):
        assert rows[name]["error_kind"] == "min_face_too_large"
        assert rows[name]["error"] == (f"{name}: min_face 60 px is larger than the image "
                                       f"(40x40 px)")
    assert rows[str(photos["plain"])]["error"] is None
    assert rows[str(photos["plain"])]["face_index"] == 0
    assert "min_face_too_large: 2" in capsys.readouterr().err


# --- video ----------------------------------------------------------------------------------

def test_video_tracks_record_the_settings_and_unknown(tmp_path, capsys, model_path):
    from video_synth import animate, astronaut_portrait, write_video

    frames = animate([astronaut_portrait()], size=(200, 160), n_frames=12, width=100)
    video = write_video(tmp_path / "one.mp4", frames, 25.0)
    out = tmp_path / "tracks.jsonl"
    assert main(["video", str(video), "--out", str(out), "--no-progress", "--model",
                 str(model_path), "--min-gender-probability", "0.999", "--max-faces", "3",
                 "--det-threshold", "0.8"]) == 0
    tracks = [json.loads(line) for line in out.read_text().splitlines()]
    assert tracks and all(t["gender"] is None for t in tracks)
    assert all(0.5 <= t["gender_probability"] < 0.999 for t in tracks)
    assert tracks[0]["settings"] == {"detector": "mtcnn", "score_threshold": 0.8,
                                     "min_face": 64.0, "max_faces": 3,
                                     "min_gender_probability": 0.999}


# --- the service ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def service(model_path):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from genderage.serve import create_app

    def client(**options):
        return TestClient(create_app(GenderAge(model_path, **options)))
    return client


def post(client, path: Path, query: str = ""):
    return client.post(f"/v1/predict{query}", files={"file": (path.name, path.read_bytes())})


def test_service_query_parameters(service, photos):
    client = service()
    health = client.get("/healthz").json()
    assert health["detector"] == "mtcnn" and health["min_gender_probability"] is None
    assert health["detector_settings"] == {"detector": "mtcnn", "score_threshold": 0.85,
                                           "min_face": 64.0, "max_faces": None}
    plain = post(client, photos["pair"]).json()["faces"]
    assert len(plain) == 2
    one = post(client, photos["pair"], "?max_faces=1").json()["faces"]
    assert one == plain[:1]
    unknown = post(client, photos["pair"], "?min_gender_probability=0.999").json()["faces"]
    assert [f["gender"] for f in unknown] == [None, None]
    assert [f["gender_probability"] for f in unknown] == [f["gender_probability"] for f in plain]
    big = post(client, photos["pair"], f"?min_face={box_side(plain[1]['bbox']) + 4:.0f}")
    assert big.json()["faces"] == plain[:1]
    assert post(client, photos["plain"], "?det_threshold=0.95").status_code == 200


@pytest.mark.parametrize("query, status, words", [
    ("?min_face=4", 422, "min_face must be at least 8"),
    ("?det_threshold=1", 422, "det_threshold must be between 0 and 1"),
    ("?max_faces=0", 422, "max_faces must be a whole number >= 1"),
    ("?min_gender_probability=1.2", 422, "min_gender_probability must be in [0.5, 1)"),
    ("?min_gender_probability=0.3", 422, "min_gender_probability must be in [0.5, 1)"),
    ("?det_threshold=0.5", 422, "below this server's detector threshold (0.85)"),
    ("?min_face=600", 422, "plain.jpg: min_face 600 px is larger than the image (512x512 px)"),
])
def test_service_bad_parameters_are_clear_422s(service, photos, query, status, words):
    r = post(service(), photos["plain"], query)
    assert r.status_code == status and r.json()["error"] == "invalid_option"
    assert words in r.json()["detail"]


def test_service_non_numbers_are_422(service, photos):
    r = post(service(), photos["plain"], "?max_faces=many")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "max_faces"]


def test_a_request_cannot_loosen_the_server_settings(service, photos):
    client = service(min_face=40, det_threshold=0.8, max_faces=2, min_gender_probability=0.6)
    health = client.get("/healthz").json()
    assert health["detector_settings"] == {"detector": "mtcnn", "score_threshold": 0.8,
                                           "min_face": 40, "max_faces": 2}
    assert health["min_gender_probability"] == 0.6
    for query, words in [("?min_face=20", "min_face=20 is below this server's setting (40)"),
                         ("?det_threshold=0.75", "det_threshold=0.75 is below this server's"),
                         ("?max_faces=3", "max_faces=3 is above this server's limit (2)")]:
        r = post(client, photos["plain"], query)
        assert r.status_code == 422 and words in r.json()["detail"], query
    # A request may lower min_gender_probability below the server's default, or raise it.
    assert post(client, photos["plain"], "?min_gender_probability=0.5").status_code == 200
    assert post(client, photos["plain"], "?min_face=60&max_faces=1").status_code == 200


def test_an_unknown_track_is_labelled_and_drawn():
    from genderage.annotate import COLOURS
    from genderage.video.draw import draw_frame, track_label
    from genderage.video.records import FrameResult, TrackedFace
    from genderage.video.smoothing import Estimate

    face = TrackedFace(3, (20.0, 20.0, 120.0, 120.0), None,
                       Estimate(None, 0.61, 9.6, (5.0, 14.0), 4, False))
    assert track_label(face) == "#3 unknown 0.61 | 10 (5-14)"
    drawn = draw_frame(np.zeros((200, 200, 3), np.uint8), FrameResult(0, 0.0, False, [face]))
    assert (drawn.reshape(-1, 3) == COLOURS["unknown"]).all(axis=1).sum() > 100
