"""The web page in a real headless Chromium: upload a photo, see the faces listed and drawn.

Needs Debian's ``chromium`` and the ``playwright`` Python package (the ``browser`` fixture,
tests/headless_browser.py); skips cleanly without either. Uses an AAF photo
from ``../shared`` for the face test.
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from genderage.detect import DetectorError, create_detector  # noqa: E402
from genderage.models import default_model_path  # noqa: E402
from genderage.pipeline import GenderAge  # noqa: E402
from genderage.serve import create_app  # noqa: E402
from headless_browser import ThreadedServer  # noqa: E402

AAF_FACE = "data/AAF/images/03061A28.jpg"
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def analyzer(tmp_path_factory, shared_dir):
    model = default_model_path()
    if model is None:
        pytest.importorskip("torch")
        from tiny_model import build_tiny_model

        model = build_tiny_model(tmp_path_factory.mktemp("model") / "tiny.onnx")
    try:
        detector = create_detector()
    except (DetectorError, ImportError):
        path = shared_dir / "models" / "scrfd_500m_bnkps.onnx"
        if not path.is_file():
            pytest.skip("no usable face detector")
        detector = create_detector(str(path))
    return GenderAge(model, detector)


@pytest.fixture(scope="module")
def server(analyzer):
    """The service of ``analyzer`` in a thread; yields the base URL."""
    server = ThreadedServer(create_app(analyzer), lifespan="on")
    yield server.url
    server.stop()


@pytest.fixture
def page(browser, server):
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.requests = requests
    page.goto(server + "/")
    yield page
    page.close()


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_uploading_a_portrait_lists_and_draws_the_face(page, server, shared_dir):
    photo = shared_dir / AAF_FACE
    if not photo.is_file():
        pytest.skip(f"{photo} is absent")
    page.set_input_files("#file", str(photo))
    item = page.locator("#faces li.face").first
    item.wait_for(timeout=TIMEOUT_MS)
    assert page.locator("#faces li.face").count() == 1
    text = item.inner_text()
    assert re.search(r"\b(female|male)\b", text), text
    assert re.search(r"model confidence \d{2,3}%", text), text
    interval = re.search(r"age (\d+)\D(\d+) \(80% range", text)
    assert interval and int(interval[1]) <= int(interval[2]), text
    assert item.get_attribute("data-gender") in ("female", "male")
    assert page.locator("#status").inner_text() == "1 face found."
    # The photo is drawn at its own size, with the box in the label colour.
    size = page.evaluate("() => { const c = document.getElementById('canvas');"
                         " return [c.width, c.height]; }")
    assert size == [304, 342]  # 03061A28.jpg is 304x342
    gender = item.get_attribute("data-gender")
    colour = {"female": [217, 70, 122], "male": [43, 108, 217]}[gender]
    hits = page.evaluate("""() => {
        const canvas = document.getElementById('canvas');
        const ctx = canvas.getContext('2d');
        const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        const want = %s; let hits = 0;
        for (let i = 0; i < d.length; i += 4)
            if (d[i] === want[0] && d[i + 1] === want[1] && d[i + 2] === want[2]) hits++;
        return hits; }""" % colour)
    assert hits > 300  # box outline + label background
    # Nothing left this origin.
    assert all(u.startswith(server) or u.startswith(("blob:", "data:")) for u in page.requests)


def test_a_photo_without_faces_says_so(page, tmp_path):
    import numpy as np
    from PIL import Image

    y, x = np.mgrid[:120, :160]
    blank = np.stack([x * 255 // 159, y * 255 // 119, np.full_like(x, 90)], -1).astype(np.uint8)
    path = tmp_path / "blank.png"
    Image.fromarray(blank).save(path)
    page.set_input_files("#file", str(path))
    page.wait_for_function(
        "() => document.querySelector('#status').textContent.includes('No face')",
        timeout=TIMEOUT_MS)
    assert page.locator("#faces li").count() == 0


def test_a_non_image_shows_the_server_error(page, tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("not a picture\n" * 10)
    page.set_input_files("#file", str(path))
    page.wait_for_function(
        "() => document.querySelector('#status').classList.contains('error')",
        timeout=TIMEOUT_MS)
    assert "not an image" in page.locator("#status").inner_text()


def test_the_page_explains_the_limits_and_privacy(page):
    about = page.locator("#about").inner_text()
    for words in ("estimates, not facts", "binary label", "80% interval", "Nothing is stored"):
        assert words in about


def test_labels_of_a_group_photo_stay_inside_and_apart(page):
    """The page's placeLabels against the same cases as the Python annotator's."""
    result = page.evaluate("""() => {
        const boxes = [0, 1, 2, 3, 4].map((i) => [40 + 70 * i, 100, 100 + 70 * i, 160]);
        const row = placeLabels(boxes, boxes.map(() => [150, 20]), 480, 320);
        const edge = placeLabels([[560, 10, 630, 90]], [[200, 24]], 640, 480);
        return {row, edge}; }""")
    overlap = (lambda a, b: a[0] < b[0] + b[2] and b[0] < a[0] + a[2]
               and a[1] < b[1] + b[3] and b[1] < a[1] + a[3])
    rects = result["row"]
    assert all(0 <= x and 0 <= y and x + w <= 480 and y + h <= 320 for x, y, w, h in rects)
    assert not any(overlap(a, b) for i, a in enumerate(rects) for b in rects[i + 1:])
    assert result["edge"] == [[440, 90, 200, 24]]  # moved left, below the box (no room above)
    # And the same layout as genderage.annotate.place_labels.
    from genderage.annotate import place_labels

    boxes = [(40 + 70 * i, 100, 100 + 70 * i, 160) for i in range(5)]
    assert [list(r) for r in place_labels(boxes, [(150, 20)] * 5, 480, 320)] == rects


def test_narrow_group_photo_labels_are_drawn_inside_the_canvas(page):
    """render() on a narrow photo with five close faces: labels inside, font shrunk."""
    drawn = page.evaluate("""() => new Promise((resolve) => {
        const c = document.createElement('canvas'); c.width = 220; c.height = 200;
        const g = c.getContext('2d'); g.fillStyle = '#323232'; g.fillRect(0, 0, 220, 200);
        const img = new Image();
        img.onload = () => {
            const faces = [0, 1, 2, 3, 4].map((i) => ({bbox: [10 + 40 * i, 80, 45 + 40 * i, 120],
                gender: 'female', gender_probability: 0.93, age: 31, age_interval: [25, 38],
                quality: {low_quality: false, reasons: []}}));
            const place = placeLabels;
            let rects = null;
            placeLabels = (...args) => (rects = place(...args));  // see what render() placed
            try { render(img, faces); } finally { placeLabels = place; }
            const canvas = document.getElementById('canvas');
            const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let right = 0;  // rightmost column holding the label colour
            for (let i = 0; i < d.length; i += 4)
                if (d[i] === 217 && d[i + 1] === 70 && d[i + 2] === 122)
                    right = Math.max(right, (i / 4) % canvas.width);
            resolve({width: canvas.width, right, rects});
        };
        img.src = c.toDataURL();
    })""")
    assert drawn["width"] == 220 and 150 < drawn["right"] <= 219
    rects = drawn["rects"]
    assert len(rects) == 5
    assert all(0 <= x and 0 <= y and x + w <= 220 and y + h <= 200 for x, y, w, h in rects)


def test_api_docs_work_offline(browser, server):
    """Swagger UI renders from files the server ships: every request leaving the origin is
    refused, as on a machine without internet."""
    page = browser.new_page()
    outside: list[str] = []

    def only_this_origin(route):
        if route.request.url.startswith(server):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_origin)
    try:
        page.goto(server + "/docs")
        page.locator("#swagger-ui .opblock-summary-path").first.wait_for(timeout=TIMEOUT_MS)
        paths = page.locator("#swagger-ui .opblock-summary-path").all_inner_texts()
        assert "/v1/predict" in paths and "/healthz" in paths
        assert outside == []
        assert page.goto(server + "/redoc").status == 404  # ReDoc would fetch a remote logo
    finally:
        page.close()


def test_the_page_passes_its_query_on_and_shows_unknown(browser, server, shared_dir):
    photo = shared_dir / AAF_FACE
    if not photo.is_file():
        pytest.skip(f"{photo} is absent")
    page = browser.new_page()
    try:
        page.goto(server + "/?min_gender_probability=0.999")
        page.set_input_files("#file", str(photo))
        item = page.locator("#faces li.face").first
        item.wait_for(timeout=TIMEOUT_MS)
        assert item.get_attribute("data-gender") == "unknown"
        assert re.search(r"\bunknown\b", item.inner_text())
        assert re.search(r"model confidence \d{2,3}%", item.inner_text())
        page.goto(server + "/?min_gender_probability=2")
        page.set_input_files("#file", str(photo))
        page.wait_for_function("() => /min_gender_probability must be in/.test("
                               "document.getElementById('status').innerText)",
                               timeout=TIMEOUT_MS)
    finally:
        page.close()


def test_low_quality_faces_are_grey_as_in_annotated_photos(page):
    """One colour rule everywhere (#28 item 19): a face flagged low quality is drawn in
    annotate's grey, not in its gender's colour."""
    from genderage.annotate import LOW_QUALITY_COLOUR

    colours = page.evaluate("""() => new Promise((resolve) => {
        const c = document.createElement('canvas'); c.width = 400; c.height = 300;
        const g = c.getContext('2d'); g.fillStyle = '#000'; g.fillRect(0, 0, 400, 300);
        const img = new Image();
        img.onload = () => {
            const faces = [false, true].map((low, i) => ({bbox: [40 + 180 * i, 100, 160 + 180 * i, 220],
                gender: 'female', gender_probability: 0.93, age: 31, age_interval: [25, 38],
                quality: {low_quality: low, reasons: low ? ['blurry'] : []}}));
            render(img, faces);
            const ctx = document.getElementById('canvas').getContext('2d');
            // the middle of each box's left edge
            resolve([40, 220].map((x) => Array.from(ctx.getImageData(x, 160, 1, 1).data.slice(0, 3))));
        };
        img.src = c.toDataURL();
    })""")
    assert colours[0] == [217, 70, 122]
    assert colours[1] == list(LOW_QUALITY_COLOUR)
