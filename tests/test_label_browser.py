"""The labelling page (``genderage label``) in a real headless Chromium: label with the
keyboard, undo, reload the page, stop and resume with a new server on the same file; and the
tracks of a video tracks table, one of them on a video that is gone.

Needs Debian's ``chromium`` and the ``playwright`` Python package (the ``browser`` fixture,
tests/headless_browser.py); skips cleanly without either. The photos are made
here: each image a different flat colour, so the face shown can be checked by its pixels.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
cv2 = pytest.importorskip("cv2")

from genderage.label.app import LabelSession, create_label_app  # noqa: E402
from genderage.label.store import COLUMNS  # noqa: E402
from genderage.video.table import tracks_schema  # noqa: E402
from headless_browser import ThreadedServer  # noqa: E402
from video_synth import animate, astronaut_portrait, write_video  # noqa: E402

TIMEOUT_MS = 20_000


def colour(i: int) -> tuple[int, int, int]:
    return (20 + 23 * i % 200, 40 + 57 * i % 200, 60 + 91 * i % 190)


@pytest.fixture
def results(tmp_path):
    """12 photos of flat colours (RGB ``colour(i)``), one face each; results in the batch
    schema with the face box in the middle."""
    rows = []
    for i in range(12):
        path = tmp_path / f"photo{i:02d}.jpg"
        img = np.zeros((200, 240, 3), np.uint8)
        img[:] = colour(i)
        cv2.imwrite(str(path), img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 100])
        rows.append({"path": str(path), "face_index": 0, "bbox": [90.0, 70.0, 150.0, 130.0],
                     "gender": "female" if i % 3 else "male", "age": 30.0 + i,
                     "low_quality": False, "error": None, "model_sha256": "x" * 64})
    out = tmp_path / "results.parquet"
    pq.write_table(pa.Table.from_pylist(rows), out)
    return out


class Server(ThreadedServer):
    """The labelling app of ``session``, served in a thread; ``url`` ends with ``/``."""

    def __init__(self, session: LabelSession):
        super().__init__(create_label_app(session))
        self.url += "/"


def shown(page, rank: int) -> tuple[int, int, int]:
    """Wait until face ``rank`` is drawn; its centre pixel's RGB."""
    page.wait_for_function(f"() => document.getElementById('face').dataset.rank === '{rank}'",
                           timeout=TIMEOUT_MS)
    return tuple(page.evaluate("""() => {
        const img = document.getElementById('face');
        const c = document.createElement('canvas');
        c.width = img.naturalWidth; c.height = img.naturalHeight;
        const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
        return Array.from(ctx.getImageData(c.width >> 1, c.height >> 1, 1, 1).data.slice(0, 3));
    }"""))


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def photo_index(path: str) -> int:
    return int(Path(path).stem[5:])


def near(rgb, want, tol=6) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(rgb, want))


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_label_undo_reload_and_resume(browser, results, tmp_path):
    labels = tmp_path / "labels.csv"
    session = LabelSession(results, labels, n=5, seed=3)
    order = [photo_index(session.paths[i]) for i in session.order]
    server = Server(session)
    page = browser.new_page()
    responses = []
    page.on("response", lambda r: responses.append(r))
    try:
        page.goto(server.url)
        assert near(shown(page, 0), colour(order[0])), "the first face of the order"
        assert page.locator("#progress").inner_text() == "0 of 5 labelled"
        page.keyboard.type("34")
        page.keyboard.press("f")
        assert near(shown(page, 1), colour(order[1]))
        page.keyboard.press("m")                      # no age: skipped
        shown(page, 2)
        page.keyboard.press("u")                      # takes the "m" back
        assert near(shown(page, 1), colour(order[1]))
        assert page.locator("#progress").inner_text() == "1 of 5 labelled"
        got = rows(labels)
        assert [r["gender"] for r in got] == ["female"] and got[0]["age"] == "34"
        assert photo_index(got[0]["path"]) == order[0] and got[0]["rank"] == "0"
        assert list(got[0]) == list(COLUMNS)
        page.keyboard.type("7")
        page.keyboard.press("c")
        shown(page, 2)
        page.reload()                                 # the page comes back where it was
        responses.clear()                             # (bodies before it are gone)
        assert near(shown(page, 2), colour(order[2]))
        assert page.locator("#progress").inner_text() == "2 of 5 labelled"
        page.click("button[data-gender='not_a_face']")
        shown(page, 3)
        # The model's answers never reach the page.
        for r in responses:
            if r.url.endswith("/api/state") or "/api/label" in r.url:
                assert set(r.json()) == {"done", "n", "faces", "finished", "prefetch",
                                         "stratified_by", "unit", "unreadable"}
            if "/api/face/" in r.url:
                assert r.headers["cache-control"] == "no-store"
    finally:
        page.close()
        server.stop()
    assert [r["gender"] for r in rows(labels)] == ["female", "cant_tell", "not_a_face"]
    assert [r["age"] for r in rows(labels)] == ["34", "7", ""]

    # A new run on the same file resumes at face 3; another seed is refused.
    with pytest.raises(ValueError, match="seed 3"):
        LabelSession(results, labels, n=5, seed=4)
    server = Server(LabelSession(results, labels, n=5, seed=3))
    page = browser.new_page()
    try:
        page.goto(server.url)
        assert near(shown(page, 3), colour(order[3]))
        page.keyboard.type("50")
        page.keyboard.press("m")
        shown(page, 4)
        page.keyboard.press("f")
        page.wait_for_selector("#done:not([hidden])", timeout=TIMEOUT_MS)
        assert page.locator("#progress").inner_text() == "5 of 5 labelled"
    finally:
        page.close()
        server.stop()
    got = rows(labels)
    assert [photo_index(r["path"]) for r in got] == order[:5]
    assert [r["rank"] for r in got] == ["0", "1", "2", "3", "4"]
    assert {r["sample_seed"] for r in got} == {"3"}


def test_tracks_show_their_best_frame_and_a_gone_video_says_so(browser, tmp_path):
    video = write_video(tmp_path / "v.mp4", animate([astronaut_portrait()], n_frames=10))
    table_rows = []
    for k, path in enumerate((video, tmp_path / "gone.mp4")):
        row = dict.fromkeys(tracks_schema(False).names)
        row.update(path=str(path), track_id=k + 1, best_frame=4,
                   best_bbox=[110.0, 60.0, 210.0, 180.0], on_screen_s=2.0, gender="male",
                   female_probability=0.3, age=40.0, low_quality=False,
                   model_sha256="x" * 64, genderage_version="test")
        table_rows.append(row)
    table = tmp_path / "tracks.parquet"
    pq.write_table(pa.Table.from_pylist(table_rows, schema=tracks_schema(False)), table)
    labels = tmp_path / "labels.csv"
    session = LabelSession(table, labels, n=2)
    server = Server(session)
    page = browser.new_page()
    try:
        page.goto(server.url)
        for rank in range(2):
            if Path(session.paths[session.order[rank]]).name == "gone.mp4":
                page.wait_for_function(
                    "() => document.getElementById('status').textContent.includes("
                    "'the video cannot be read any more')", timeout=TIMEOUT_MS)
                status = page.locator("#status").inner_text()
                assert "gone.mp4: no such video file" in status and "press C" in status
            else:
                shown(page, rank)
                assert page.evaluate("document.getElementById('face').naturalWidth") > 0
            page.keyboard.press("c")
        page.wait_for_selector("#done:not([hidden])", timeout=TIMEOUT_MS)
    finally:
        page.close()
        server.stop()
    got = rows(labels)
    assert [r["gender"] for r in got] == ["cant_tell", "cant_tell"]
    assert {r["sample_unit"] for r in got} == {"track"}
    assert session.state()["unreadable"] == 1
