"""``--format table|jsonl|csv``: the writers of genderage/writers.py, and ``predict`` and
``video`` printing through them (round trips against each other's numbers)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from genderage.cli import main
from genderage.writers import FORMATS, Layout, TableColumn, open_writer

ROOT = Path(__file__).resolve().parents[1]
ASTRONAUT = ROOT / "examples" / "astronaut.jpg"

TOY = Layout(
    command="genderage toy", to_json=lambda r: {"name": r[0], "values": list(r[1])},
    columns=("name", "value", "error"),
    rows=lambda r: [{"name": r[0], "value": v, "error": None} for v in r[1]]
    or [{"name": r[0], "value": None, "error": f"{r[0]}: nothing"}],
    table=(TableColumn("name", -6, lambda row: row["name"]),
           TableColumn("value", 8, lambda row: f"{row['value']:.2f}")))
RECORDS = [("a", (0.1, 1 / 3)), ("b", ()), ("c", (2.0,))]


def written(fmt: str) -> str:
    out = io.StringIO()
    writer = open_writer(fmt, out, TOY)
    for record in RECORDS:
        writer.write(record)
    return out.getvalue()


def test_formats_are_table_jsonl_csv():
    assert FORMATS == ("table", "jsonl", "csv")
    with pytest.raises(ValueError, match="format must be one of"):
        open_writer("xml", io.StringIO(), TOY)


def test_jsonl_is_one_object_per_record():
    lines = written("jsonl").splitlines()
    assert [json.loads(line) for line in lines] == [TOY.to_json(r) for r in RECORDS]


def test_csv_round_trips_at_full_precision():
    rows = list(csv.DictReader(io.StringIO(written("csv"))))
    assert [r["name"] for r in rows] == ["a", "a", "b", "c"]
    assert float(rows[1]["value"]) == 1 / 3  # every digit
    assert (rows[2]["value"], rows[2]["error"]) == ("", "b: nothing")


def test_table_aligns_rows_and_sends_failures_to_stderr(capsys):
    lines = written("table").splitlines()
    assert lines == ["name       value", "a           0.10", "a           0.33",
                     "c           2.00"]
    assert "genderage toy: error: b: nothing" in capsys.readouterr().err


# --- predict -----------------------------------------------------------------------------

def predict(capsys, *argv) -> tuple[int, str]:
    rc = main(["predict", "--no-progress", str(ASTRONAUT), *argv])
    return rc, capsys.readouterr().out


def test_predict_formats_agree(tmp_path, capsys):
    missing = str(tmp_path / "missing.jpg")
    rc, jsonl = predict(capsys, missing, "--format", "jsonl")
    assert rc == 1
    assert predict(capsys, missing, "--json") == (1, jsonl)  # --json is --format jsonl
    images = [json.loads(line) for line in jsonl.splitlines()]
    (face,) = images[0]["faces"]

    rc, text = predict(capsys, missing, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rc == 1 and len(rows) == 2
    got = rows[0]
    assert (got["path"], got["face_index"], got["gender"]) == (str(ASTRONAUT), "0",
                                                               face["gender"])
    for key, digits in (("gender_probability", 4), ("female_probability", 4), ("age", 2),
                        ("det_score", 4)):
        assert round(float(got[key]), digits) == face[key], key  # the JSON rounds
    assert [round(float(got["age_low"]), 2), round(float(got["age_high"]), 2)] == \
        face["age_interval"]
    np.testing.assert_allclose([float(v) for v in got["bbox"].split(";")], face["bbox"],
                               atol=6e-3)
    assert (got["low_quality"], got["error"]) == ("False", "")
    assert rows[1]["path"] == missing and rows[1]["face_index"] == ""
    assert rows[1]["error"] == images[1]["error"]

    rc, table = predict(capsys, "--format", "table")
    header, line = table.splitlines()
    assert header.split() == ["file", "face", "gender", "p", "age", "interval", "quality"]
    lo, hi = face["age_interval"]
    assert line.split() == [str(ASTRONAUT), "0", face["gender"],
                            f"{face['gender_probability']:.2f}", f"{face['age']:.1f}",
                            f"{lo:.0f}-{hi:.0f}", "ok"]


# --- video -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from video_synth import animate, astronaut_portrait, write_video

    frames = animate([astronaut_portrait()], size=(240, 180), n_frames=15, width=110)
    return write_video(tmp_path_factory.mktemp("clip") / "clip.mp4", frames)


def test_video_tracks_in_every_format(clip, tmp_path, capsys):
    outs = {}
    for fmt in FORMATS:
        assert main(["video", str(clip), "--no-progress", "--format", fmt,
                     "--out", str(tmp_path / f"tracks.{fmt}")]) == 0
        outs[fmt] = (tmp_path / f"tracks.{fmt}").read_text()
    (track,) = [json.loads(line) for line in outs["jsonl"].splitlines()]
    (row,) = csv.DictReader(io.StringIO(outs["csv"]))
    for key in ("track_id", "shot", "first_frame", "last_frame", "n_frames", "n_frames_used",
                "best_frame"):
        assert int(row[key]) == track[key], key
    for key, digits in (("gender_probability", 4), ("female_probability", 4), ("age", 2),
                        ("on_screen_s", 3)):
        assert round(float(row[key]), digits) == track[key], key  # the JSON rounds
    assert (row["gender"], row["model_sha256"]) == (track["gender"], track["model_sha256"])
    header, line = outs["table"].splitlines()
    assert header.split()[:5] == ["track", "shot", "from_s", "to_s", "gender"]
    assert line.split()[4:6] == [track["gender"], f"{track['gender_probability']:.2f}"]
