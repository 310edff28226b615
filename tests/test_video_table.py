"""``genderage video`` on many videos: the Parquet tracks table, bad inputs, resume after
SIGKILL, parity with one video's JSON lines, and ``genderage report`` on the table.

Videos are made here: the astronaut (always) and, when ``../shared`` is present, AAF adults
whose gender is known, each on screen for a known number of seconds.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402

from genderage.cli import main  # noqa: E402
from video_synth import (  # noqa: E402
    Shot,
    astronaut_portrait,
    astronaut_videos,
    programme,
    write_video,
)

FPS = 25.0
SRC = Path(__file__).resolve().parents[1] / "src"


def read_table(out) -> pa.Table:
    return pq.read_table(out).sort_by([("path", "ascending"), ("track_id", "ascending")])


def bad_files(folder: Path) -> dict[str, str]:
    """A note, an empty .mp4, a truncated AVI and an AVI of a codec OpenCV lacks; returns
    path -> what stderr must say about it."""
    (folder / "notes.txt").write_text("not a video")
    (folder / "empty.mp4").write_bytes(b"")
    face = astronaut_portrait()
    frames, _ = programme([Shot(50, (90, 90, 90), ((face, 0.5, 120),))])
    writer = cv2.VideoWriter(str(folder / "full.avi"), cv2.VideoWriter_fourcc(*"MJPG"), FPS,
                             (320, 240))
    for frame in frames:
        writer.write(frame[:, :, ::-1])
    writer.release()
    data = (folder / "full.avi").read_bytes()
    (folder / "full.avi").unlink()
    (folder / "truncated.avi").write_bytes(data[:len(data) // 2])
    (folder / "codec.avi").write_bytes(data.replace(b"MJPG", b"QQQQ"))
    return {str(folder / "notes.txt"): "not a video file",
            str(folder / "empty.mp4"): "empty file (0 bytes)",
            str(folder / "truncated.avi"): "truncated: decoded",
            str(folder / "codec.avi"): "not a video file OpenCV can read"}


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_a_folder_of_videos_gives_one_row_per_track_and_names_every_bad_file(
        tmp_path, model_path, capsys):
    folder = tmp_path / "videos"
    seconds = astronaut_videos(folder)
    bad = bad_files(folder)
    out = tmp_path / "tracks.parquet"
    rc = main(["video", str(folder), "--out", str(out), "--model", str(model_path),
               "--no-progress", "--workers", "2"])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    for path, message in bad.items():
        assert path in err and message in err, (path, err)
    table = read_table(out)
    assert set(table["path"].to_pylist()) == set(seconds) | set(bad) - {str(folder / "notes.txt")}
    good = table.filter(pa.compute.is_in(table["path"], pa.array(list(seconds))))
    # One face for the whole video: one track, on screen for the whole video.
    assert good["track_id"].to_pylist() == [1, 1]
    for row in good.to_pylist():
        assert row["on_screen_s"] == pytest.approx(seconds[row["path"]], abs=1e-6)
        assert row["video_duration_s"] == pytest.approx(seconds[row["path"]], abs=1e-6)
        assert row["error"] is None and len(row["model_sha256"]) == 64
    truncated = table.filter(pa.compute.equal(table["error_kind"], "truncated")).to_pylist()
    assert len(truncated) == 1 and truncated[0]["track_id"] == 1  # kept, and flagged
    assert "5 videos (5 analysed now, 0 already in" in err
    # The report on this table names the failed videos and counts the truncated one's tracks.
    assert main(["report", str(out), "--out", str(tmp_path / "report"), "--bootstrap", "50"]) == 0
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["videos_failed"] == {str(folder / "empty.mp4"): "empty",
                                       str(folder / "truncated.avi"): "truncated",
                                       str(folder / "codec.avi"): "unreadable"}
    assert report["screen_time"]["n_videos"] == 5 and report["screen_time"]["n_tracks"] == 3


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_one_video_jsonl_and_its_parquet_rows_agree(tmp_path, model_path, capsys):
    seconds = astronaut_videos(tmp_path / "videos", 1)
    (video,) = seconds
    jsonl, parquet = tmp_path / "tracks.jsonl", tmp_path / "tracks.parquet"
    common = ["--model", str(model_path), "--no-progress", "--age-probs"]
    assert main(["video", video, "--out", str(jsonl), *common]) == 0
    assert main(["video", video, "--out", str(parquet), *common]) == 0
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    rows = read_table(parquet).to_pylist()
    assert len(lines) == len(rows) >= 1
    for line, row in zip(lines, rows):
        assert row["path"] == video
        for key in ("track_id", "shot", "first_frame", "last_frame", "n_frames",
                    "n_frames_used", "gender", "best_frame", "low_quality", "model_sha256",
                    "genderage_version"):
            assert line[key] == row[key], key
        for key in ("first_time_s", "last_time_s", "on_screen_s", "gender_probability",
                    "age"):
            assert line[key] == pytest.approx(row[key], abs=1e-2), key
        assert line["age_interval"] == pytest.approx([row["age_low"], row["age_high"]], abs=1e-2)
        assert line["best_bbox"] == pytest.approx(row["best_bbox"], abs=1e-2)
        assert len(row["age_probs"]) == 121 and sum(row["age_probs"]) == pytest.approx(1, 1e-3)
        assert line["age_probs"] == pytest.approx(row["age_probs"], abs=1e-5)
    # The same folder with other options is refused, not mixed.
    capsys.readouterr()
    assert main(["video", video, "--out", str(parquet), *common, "--every", "1"]) == 2
    assert "holds results made with other options" in capsys.readouterr().err


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_a_killed_run_resumes_without_losing_or_doubling_a_track(tmp_path, model_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    face = astronaut_portrait()
    for i in range(6):
        frames, _ = programme([Shot(20, (60 + 20 * i, 90, 120), ((face, 0.3, 100),)),
                               Shot(20, (160, 80 + 15 * i, 60), ((face, 0.7, 110),))], seed=i)
        write_video(folder / f"v{i}.mp4", frames, FPS)
    out = tmp_path / "killed.parquet"
    argv = [sys.executable, "-m", "genderage", "video", str(folder), "--out", str(out),
            "--model", str(model_path), "--no-progress", "--workers", "1"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.Popen(argv, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(out.glob("part-*.parquet")):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p for p in pq.read_table(out)["path"].to_pylist()}
    assert 1 <= len(done_before) < 6, "the kill must land mid-run"
    resumed = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"({6 - len(done_before)} analysed now, {len(done_before)} already in" \
        in resumed.stderr
    killed = read_table(out)
    keys = list(zip(killed["path"].to_pylist(), killed["track_id"].to_pylist()))
    assert len(keys) == len(set(keys))  # nothing doubled
    # Nothing lost: each video's two shots of one face give two tracks of 20 frames each.
    assert sorted(keys) == [(str(folder / f"v{i}.mp4"), t) for i in range(6) for t in (1, 2)]
    assert killed["shot"].to_pylist() == [0, 1] * 6
    assert killed["on_screen_s"].to_pylist() == pytest.approx([20 / FPS] * 12)


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_known_screen_time_by_gender_through_video_and_report(shared_dir, tmp_path, capsys):
    """AAF adults whose labels the model gets right on the still photo: women on screen for
    9.6 s, men for 4.8 s over three videos, with cuts. The table's seconds by predicted
    gender are those, give or take one detection interval (0.2 s: the detector may see a
    face twice in one frame, a one-detection track); the report's naive share follows."""
    labels = shared_dir / "data" / "AAF" / "labels.csv"
    if not labels.is_file():
        pytest.skip("AAF is absent")
    rows = {r["file"]: r for r in csv.DictReader(labels.open())}
    women, men = ["images/03996A32.jpg", "images/05525A42.jpg"], ["images/10278A34.jpg",
                                                                  "images/09978A33.jpg"]
    for name in women + men:
        if name not in rows or not (labels.parent / name).is_file():
            pytest.skip(f"{name} is absent")
    photo = {n: cv2.cvtColor(cv2.imread(str(labels.parent / n)), cv2.COLOR_BGR2RGB)
             for n in women + men}
    plan = [[(women[0], 100), (men[0], 60)], [(women[1], 80), (men[1], 60)], [(women[0], 60)]]
    folder = tmp_path / "videos"
    folder.mkdir()
    for v, shots in enumerate(plan):
        frames, _ = programme([Shot(n, (60 + 70 * k, 100, 140 - 40 * k),
                                    ((photo[name], 0.5, 130),))
                               for k, (name, n) in enumerate(shots)], seed=v)
        write_video(folder / f"programme{v}.mp4", frames, FPS)
    out = tmp_path / "tracks.parquet"
    assert main(["video", str(folder), "--out", str(out), "--no-progress", "--every", "5"]) == 0
    table = read_table(out).to_pylist()
    by_gender = {"female": 0.0, "male": 0.0}
    for row in table:
        by_gender[row["gender"]] += row["on_screen_s"]
    assert by_gender["female"] == pytest.approx((100 + 80 + 60) / FPS, abs=0.21)
    assert by_gender["male"] == pytest.approx((60 + 60) / FPS, abs=0.21)
    capsys.readouterr()
    assert main(["report", str(out), "--out", str(tmp_path / "report"), "--bootstrap", "200"]) == 0
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    share = report["screen_time"]["female_share"]
    assert share["naive"] == pytest.approx(by_gender["female"] / sum(by_gender.values()))
    assert share["naive"] == pytest.approx(240 / 360, abs=0.01)
    assert share["ci95"][0] <= share["estimate"] <= share["ci95"][1]


@pytest.mark.parametrize("argv, message", [
    (["a.mp4", "b.mp4"], "need --out DIR.parquet"),
    (["a.mp4", "b.mp4", "--out", "t.parquet", "--frames", "f.jsonl"],
     "--frames, --annotate and --format are for one video"),
    (["a.mp4", "b.mp4", "--out", "t.parquet", "--format", "csv"],
     "--frames, --annotate and --format are for one video"),
    (["a.mp4", "--out", "t.jsonl", "--engine", "ray"], "are for many videos"),
    (["a.mp4", "b.mp4", "--out", "t.parquet", "--cluster", "x:1"],
     "local engine runs on this machine only"),
])
def test_usage_errors_of_the_table_mode_exit_2(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["video", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
