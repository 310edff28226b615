"""The web page's live camera mode in a real headless Chromium: the same smoothing rule as
``genderage.video.smoothing``, over successive snapshots of a fake camera.

Chromium's fake capture device plays a Y4M file made from ``examples/astronaut.jpg``, so no
``../shared`` and no real camera are needed. Skips without Chromium or playwright
(tests/headless_browser.py).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from genderage.attribute import Calibration  # noqa: E402
from genderage.pipeline import GenderAge  # noqa: E402
from genderage.quality import Quality  # noqa: E402
from genderage.serve import create_app  # noqa: E402
from genderage.video.smoothing import TrackSmoother  # noqa: E402
from headless_browser import ThreadedServer, chromium  # noqa: E402
from video_synth import animate, astronaut_portrait  # noqa: E402

SPEC = {"coverage": 0.8, "space": "log1p", "low": -0.34, "high": 0.2}
LIVE_TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def analyzer(model_path):
    """The default detector (no ../shared needed) and the shipped or a tiny model."""
    return GenderAge(model_path)


def write_y4m(path, frames: list[np.ndarray], fps: int = 25):
    """RGB frames -> a YUV4MPEG2 4:2:0 file, the format Chromium's fake camera plays."""
    h, w = frames[0].shape[:2]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            f.write(b"FRAME\n" + cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


@pytest.fixture(scope="module")
def server(analyzer):
    """The service of ``analyzer`` in a thread; yields the base URL."""
    server = ThreadedServer(create_app(analyzer), lifespan="on")
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def camera_browser(tmp_path_factory):
    """Chromium whose camera is a fake device playing the astronaut."""
    folder = tmp_path_factory.mktemp("camera")
    y4m = write_y4m(folder / "camera.y4m",
                    animate([astronaut_portrait()], size=(320, 240), n_frames=50, width=130))
    fake_camera = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                   f"--use-file-for-fake-video-capture={y4m}")
    (folder / "profile").mkdir()
    with chromium(folder / "profile", fake_camera) as context:
        yield context


@pytest.fixture
def page(camera_browser, server):
    page = camera_browser.new_page()
    page.goto(server + "/")
    yield page
    page.close()


def api_face(rng, mean_margin: float) -> tuple[dict, np.ndarray, Quality]:
    """A random face as the API returns it, and the raw model row it decodes from."""
    margin = rng.normal(mean_margin, 1.5)  # logit_female - logit_male, temperature 1
    age = float(rng.uniform(3, 80))
    low = bool(rng.random() < 0.25)
    q = Quality(float(rng.uniform(0.7, 1)), float(rng.uniform(10, 60)), 100.0,
                float(rng.uniform(10, 300)), float(rng.uniform(-50, 50)),
                float(rng.uniform(-30, 30)), 0.0, low, ("blurry",) if low else ())
    p_female = 1 / (1 + math.exp(-margin))
    base = math.log1p(age)
    face = {"bbox": [10.0, 10.0, 90.0, 100.0], "gender": "female" if margin > 0 else "male",
            "gender_probability": max(p_female, 1 - p_female), "age": age,
            "age_interval": [math.expm1(base + SPEC["low"]), math.expm1(base + SPEC["high"])],
            "quality": q.to_dict() | {"det_score": q.det_score, "inter_ocular_px": q.inter_ocular_px,
                                      "blur": q.blur, "yaw": q.yaw, "pitch": q.pitch}}
    return face, np.array([margin, 0.0, age / 100]), q


def test_page_smoothing_matches_the_python_rule(page):
    rng = np.random.default_rng(3)
    faces, smoother, expected = [], TrackSmoother(Calibration(1.0, SPEC)), []
    for i in range(40):  # mildly female for 10 snapshots, then clearly male
        face, main, q = api_face(rng, 0.8 if i < 10 else -2.0)
        faces.append(face)
        est = smoother.add(main, None, q)
        expected.append((est.gender, est.gender_probability, est.age, *est.age_interval,
                         est.n_used, est.low_quality))
    got = page.evaluate("""(faces) => { const s = new TrackSmoother();
        return faces.map((f) => { const e = s.add(f);
            return [e.gender, e.gender_probability, e.age, e.age_interval[0], e.age_interval[1],
                    e.snapshots, e.low_quality]; }); }""", faces)
    genders = [e[0] for e in expected]
    assert len(set(genders)) == 2  # the sequence exercises a label switch
    for g, e in zip(got, expected):
        assert g[0] == e[0] and g[5:] == list(e[5:])
        assert g[1:5] == pytest.approx(e[1:5], rel=1e-6)  # Python decodes in float32


def test_page_tracker_links_faces_by_overlap(page):
    ids = page.evaluate("""() => { const t = new SnapshotTracker();
        const q = {det_score: 1, inter_ocular_px: 40, blur: 150, yaw: 0, pitch: 0,
                   low_quality: false, reasons: []};
        const face = (x) => ({bbox: [x, 10, x + 80, 100], gender: "male",
                              gender_probability: 0.8, age: 30, age_interval: [25, 36], quality: q});
        const out = [];
        out.push(t.update([face(0), face(200)]).map((f) => f.track_id));
        out.push(t.update([face(210), face(10)]).map((f) => f.track_id));
        out.push(t.update([]).map((f) => f.track_id));
        out.push(t.update([face(15)]).map((f) => [f.track_id, f.snapshots]));
        for (let i = 0; i < 4; i++) t.update([]);
        out.push(t.update([face(15)]).map((f) => f.track_id));
        return out; }""")
    assert ids == [[1, 2], [2, 1], [], [[1, 3]], [3]]


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_live_camera_mode_follows_and_averages_the_face(page):
    page.click("#camera-start")
    page.wait_for_function("() => document.getElementById('video').videoWidth > 0",
                           timeout=LIVE_TIMEOUT_MS)
    page.click("#camera-live")
    item = page.locator("#faces li.face").first
    page.wait_for_function(
        "() => { const li = document.querySelector('#faces li.face');"
        " return li && Number(li.dataset.snapshots) >= 3; }", timeout=LIVE_TIMEOUT_MS)
    assert page.locator("#faces li.face").count() == 1
    assert item.get_attribute("data-track-id") == "1"
    assert "averaged over" in item.inner_text()
    assert page.locator("#status").inner_text().startswith("Live: snapshot")
    page.click("#camera-live")
    assert page.locator("#camera-live").inner_text() == "Follow live"
