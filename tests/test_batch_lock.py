"""One batch run per output folder (#28 item 4): a lock naming its owner, stale locks taken
over, and ``report`` counting an image written twice once, saying so."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402

from genderage.batch import BatchJob, BatchOptions  # noqa: E402
from genderage.batch.engines import EngineSettings, create_engine  # noqa: E402
from genderage.batch.lock import LOCK_NAME  # noqa: E402
from genderage.batch.store import OutputError  # noqa: E402
from genderage.cli import main  # noqa: E402


@pytest.fixture()
def photo(tmp_path):
    from pathlib import Path

    path = tmp_path / "in" / "astronaut.jpg"
    path.parent.mkdir()
    shutil.copy(Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg", path)
    return path


def test_a_second_job_on_a_locked_folder_is_refused_until_the_first_ends(photo, model_path,
                                                                         tmp_path):
    out = tmp_path / "out"
    options = BatchOptions(model=str(model_path))
    first = BatchJob([str(photo)], str(out), options)
    lock = json.loads((out / LOCK_NAME).read_text())
    assert lock == {"pid": os.getpid(), "host": socket.gethostname()}
    with pytest.raises(OutputError, match=f"in use by another genderage batch run "
                                          f"\\(pid {os.getpid()}"):
        BatchJob([str(photo)], str(out), options)
    assert first.run(create_engine("local", EngineSettings(workers=1))).new_images == 1
    assert not (out / LOCK_NAME).exists()  # released when the run ends
    with BatchJob([str(photo)], str(out), options) as second:
        assert second.todo == []  # the first run's image is done: nothing written twice
    assert not (out / LOCK_NAME).exists()


def test_a_stale_lock_is_taken_over_and_a_live_one_refused_at_the_cli(photo, model_path,
                                                                      tmp_path, capsys, caplog):
    out = tmp_path / "out"
    out.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / LOCK_NAME).write_text(json.dumps({"pid": sleeper.pid,
                                                 "host": socket.gethostname()}))
        argv = ["batch", str(photo), "--out", str(out), "--model", str(model_path),
                "--no-progress", "--workers", "1"]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"in use by another genderage batch run (pid {sleeper.pid}" in err
        assert not list(out.glob("part-*"))
    finally:
        sleeper.kill()
        sleeper.wait()
    assert main(argv) == 0  # the owner is gone: its lock is stale
    assert "removing a stale lock" in caplog.text
    assert len(list(out.glob("part-*"))) == 1 and not (out / LOCK_NAME).exists()


def test_report_counts_doubled_rows_once_and_says_so(photo, model_path, tmp_path, caplog):
    out = tmp_path / "out"
    assert main(["batch", str(photo), "--out", str(out), "--model", str(model_path),
                 "--no-progress", "--workers", "1"]) == 0
    part = next(out.glob("part-*.parquet"))
    once = tmp_path / "once"
    assert main(["report", str(out), "--out", str(once), "--bootstrap", "50"]) == 0
    shutil.copy(part, out / ("part-copy-" + part.name[5:]))  # what two runs used to write
    assert len(pq.read_table(out)) == 2
    twice = tmp_path / "twice"
    assert main(["report", str(out), "--out", str(twice), "--bootstrap", "50"]) == 0
    assert "1 doubled row(s) dropped" in caplog.text
    a, b = (json.loads((d / "report.json").read_text()) for d in (once, twice))
    assert (b["n_faces"], b["n_images"], b["n_rows_doubled"]) == (a["n_faces"], 1, 1)
    assert b["female_share"] == a["female_share"]
    assert "1 doubled row(s) dropped" in (twice / "report.md").read_text()
