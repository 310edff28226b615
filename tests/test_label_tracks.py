"""``genderage label`` on a tracks table of ``genderage video``: one item per track, its face
cut from the track's best frame of the video (parity with the photo path), the labels file
naming tracks, unreadable videos and frames, and ``genderage report``'s refusal of
``--labels`` / ``--plan`` on tracks tables.

The videos are made here (tests/video_synth.py); the tracks table is written with the real
schema (:func:`genderage.video.table.tracks_schema`) and boxes placed by hand.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
cv2 = pytest.importorskip("cv2")

from fastapi.testclient import TestClient  # noqa: E402

from genderage.cli import main  # noqa: E402
from genderage.label.app import LabelSession, create_label_app, summary  # noqa: E402
from genderage.label.crop import crop_jpeg, face_jpeg  # noqa: E402
from genderage.label.sample import face_keys, sampling_order  # noqa: E402
from genderage.label.store import read_labels  # noqa: E402
from genderage.video.io import VideoSource  # noqa: E402
from genderage.video.table import tracks_schema  # noqa: E402
from video_synth import animate, astronaut_portrait, write_video  # noqa: E402

N_FRAMES = 40
BOX = [110.0, 60.0, 210.0, 180.0]
"""Around the astronaut in the middle of the 320 x 240 frames (she drifts a few pixels)."""


def track_row(path, track_id, best_frame, bbox=BOX, **extra) -> dict:
    row = dict.fromkeys(tracks_schema(False).names)
    row.update(path=str(path), track_id=track_id, best_frame=best_frame, best_bbox=bbox,
               on_screen_s=1.0 + track_id, gender="female" if track_id % 2 else "male",
               female_probability=0.8 if track_id % 2 else 0.2, age=30.0, low_quality=False,
               model_sha256="0" * 64, genderage_version="test", **extra)
    return row


def write_tracks(path: Path, rows: list[dict]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows, schema=tracks_schema(False)), path)
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """Two 40-frame videos of the astronaut moving (every frame differs)."""
    folder = tmp_path_factory.mktemp("videos")
    face = astronaut_portrait()
    return [write_video(folder / f"v{i}.mp4", animate([face], n_frames=N_FRAMES, seed=i))
            for i in range(2)]


@pytest.fixture
def tracks(tmp_path, videos):
    """14 tracks: 8 in the first video, 6 in the second, best frames spread over the video;
    and a video without tracks (one row, null track columns)."""
    rows = [track_row(videos[0], t, (5 * t) % N_FRAMES) for t in range(1, 9)]
    rows += [track_row(videos[1], t, (7 * t) % N_FRAMES) for t in range(1, 7)]
    empty = dict.fromkeys(tracks_schema(False).names)
    empty.update(path=str(tmp_path / "no_faces.mp4"), model_sha256="0" * 64,
                 genderage_version="test")
    return write_tracks(tmp_path / "tracks.parquet", rows + [empty])


def client_for(session: LabelSession) -> TestClient:
    return TestClient(create_label_app(session), base_url="http://127.0.0.1")


def decoded_frame(path, index: int) -> np.ndarray:
    """Frame ``index`` read from the start, frame by frame (no seeking)."""
    with VideoSource(path) as source:
        for frame in source.frames():
            if frame.index == index:
                return frame.rgb
    raise AssertionError(f"{path} has no frame {index}")


def test_one_item_per_track_in_the_seeded_order_and_a_labels_file_naming_tracks(
        tmp_path, tracks):
    labels = tmp_path / "labels.csv"
    session = LabelSession(tracks, labels, n=10, seed=3)
    client = client_for(session)
    state = client.get("/api/state").json()
    assert state["faces"] == 14 and state["n"] == 10 and state["unit"] == "track"
    keys = face_keys(session.paths, session.indices)
    assert sorted(keys) == sorted([f"{session.paths[0]}\t{t}" for t in range(1, 9)]
                                  + [f"{session.paths[-1]}\t{t}" for t in range(1, 7)])
    order = sampling_order(keys, 3)
    for rank in range(10):
        assert client.get(f"/api/face/{rank}").status_code == 200
        r = client.post("/api/label", json={"rank": rank, "gender": "female" if rank % 2
                                            else "male", "age": 20 + rank})
        assert r.status_code == 200, r.text
    rows = list(csv.DictReader(open(labels)))
    assert [f"{r['path']}\t{r['face_index']}" for r in rows] == [keys[i] for i in order[:10]]
    assert {r["sample_unit"] for r in rows} == {"track"}
    back = read_labels(labels)
    assert back.sampling.unit == "track" and back.sampling.n == 10
    assert [(lab.path, lab.face_index, lab.age) for lab in back.labels] == \
        [(r["path"], int(r["face_index"]), 20.0 + k) for k, r in enumerate(rows)]
    # Same seed, more tracks wanted: resumes where it stopped.
    assert LabelSession(tracks, labels, n=14, seed=3).done == 10
    assert summary(session) == "10 of 10 tracks labelled (14 in the results)"


def test_the_face_is_the_best_frame_cut_as_a_photo_face_is(tmp_path, tracks):
    session = LabelSession(tracks, tmp_path / "labels.csv", n=14, seed=0)
    session.done = 10  # serve any rank without labelling (the page prefetches 3 ahead)
    client = client_for(session)
    for rank in (0, 5, 12):
        i = session.order[rank]
        path, frame, box = session.paths[i], int(session.frames[i]), session.boxes[i]
        r = client.get(f"/api/face/{rank}")
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        rgb = decoded_frame(path, frame)
        assert r.content == crop_jpeg(rgb, box)
        # Parity with photos: the same frame saved losslessly, through the photo path.
        png = tmp_path / f"frame{rank}.png"
        cv2.imwrite(str(png), rgb[:, :, ::-1])
        assert r.content == face_jpeg(str(png), box)
        # The frame matters: its neighbour gives another crop (the face moves).
        other = decoded_frame(path, frame + 1 if frame + 1 < N_FRAMES else frame - 1)
        assert r.content != crop_jpeg(other, box)
    # Nothing was written but the labels file (and the test's own PNGs).
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".png") == \
        ["labels.csv", "tracks.parquet"]


def test_stratified_by_video(tmp_path, tracks):
    labels = tmp_path / "labels.csv"
    session = LabelSession(tracks, labels, n=12, seed=1, by="path")
    keys = face_keys(session.paths, session.indices)
    assert np.array_equal(session.order, sampling_order(keys, 1, session.strata))
    for rank in range(12):
        session.label(rank, "cant_tell", None)
    rows = list(csv.DictReader(open(labels)))
    assert {r["sample_by"] for r in rows} == {"path"}
    assert all(r["stratum"] == r["path"] for r in rows)
    # sqrt allocation over 8 and 6 tracks: each video gets labels.
    assert {r["path"] for r in rows} == set(session.paths)


def test_unreadable_videos_and_frames_are_named_counted_and_skipped(tmp_path, videos, capsys):
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video")
    rows = [track_row(tmp_path / "gone.mp4", 1, 3), track_row(notes, 1, 0),
            track_row(videos[0], 1, 500), track_row(videos[0], 2, 4)]
    table = write_tracks(tmp_path / "tracks.parquet", rows)
    labels = tmp_path / "labels.csv"
    session = LabelSession(table, labels, n=4)
    client = client_for(session)
    why = {}
    for rank in range(4):
        r = client.get(f"/api/face/{rank}")
        i = session.order[rank]
        if r.status_code == 410:
            why[(Path(session.paths[i]).name, int(session.frames[i]))] = r.json()["detail"]
        else:
            assert r.status_code == 200
        # The labeller goes on with "can't tell" (the page says so).
        assert client.post("/api/label", json={"rank": rank, "gender": "cant_tell"}
                           ).status_code == 200
    assert set(why) == {("gone.mp4", 3), ("notes.mp4", 0), ("v0.mp4", 500)}
    assert "gone.mp4: no such video file" in why[("gone.mp4", 3)]
    assert "not a video file OpenCV can read" in why[("notes.mp4", 0)]
    assert "frame 500 cannot be decoded" in why[("v0.mp4", 500)]
    assert all(d.startswith("the video cannot be read any more") for d in why.values())
    state = client.get("/api/state").json()
    assert state["unreadable"] == 3 and state["finished"]
    assert summary(session).endswith("; 3 track(s) could not be shown (their photo or video "
                                     "cannot be read)")
    assert len(read_labels(labels).labels) == 4


def test_cli_on_tracks_one_video_jsonl_and_mixed_units(tmp_path, tracks, capsys):
    labels = tmp_path / "labels.csv"
    session = LabelSession(tracks, labels, n=2)
    session.label(0, "male", 40.0)
    session.label(1, "female", 30.0)
    assert main(["label", str(tracks), "--out", str(labels), "--n", "2", "--no-browser"]) == 0
    assert "2 of 2 tracks labelled (14 in the results)" in capsys.readouterr().out
    jsonl = tmp_path / "one.jsonl"
    jsonl.write_text("{}\n")
    assert main(["label", str(jsonl), "--out", str(tmp_path / "l2.csv"), "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert "one video's JSON lines do not name the video" in err and "Traceback" not in err
    # Labels of tracks are not read as labels of photos' faces, nor resumed on photos.
    photo = tmp_path / "photo.jpg"
    cv2.imwrite(str(photo), np.full((60, 60, 3), 128, np.uint8))
    results = tmp_path / "results.parquet"
    pq.write_table(pa.Table.from_pylist([{
        "path": str(photo), "face_index": 0, "bbox": [10.0, 10.0, 40.0, 40.0],
        "gender": "male", "age": 30.0, "low_quality": False, "error": None,
        "model_sha256": "0" * 64}]), results)
    assert main(["label", str(results), "--out", str(labels), "--no-browser"]) == 2
    assert "labels tracks, but these results have faces" in capsys.readouterr().err
    assert main(["report", str(results), "--labels", str(labels), "--out",
                 str(tmp_path / "rep")]) == 2
    assert "labels tracks of a tracks table" in capsys.readouterr().err


@pytest.mark.parametrize("flags", [["--labels", "LABELS"], ["--plan"], ["--plan", "--width", "3"]])
def test_report_refuses_labels_and_plan_on_a_tracks_table(tmp_path, tracks, flags, capsys):
    labels = tmp_path / "labels.csv"
    session = LabelSession(tracks, labels, n=2)
    session.label(0, "male", 40.0)
    out = tmp_path / "rep"
    args = [str(labels) if f == "LABELS" else f for f in flags]
    assert main(["report", str(tracks), "--out", str(out), *args]) == 2
    captured = capsys.readouterr()
    assert "not available for tracks tables of `genderage video` yet" in captured.err
    assert captured.err.count("\n") == 1 and captured.out == "" and not out.exists()
    # Without the flags, the same table gives its screen-time report.
    assert main(["report", str(tracks), "--out", str(out), "--bootstrap", "50"]) == 0
    assert json.loads((out / "report.json").read_text())["screen_time"]["n_tracks"] == 14
