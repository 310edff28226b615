"""``batch --engine ray`` starting Ray itself (#28 item 15): every Ray server listens on
loopback only, nothing is written to the home folder or Ray's default temp folder, its own
temp folder is removed, Ray is shut down."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from listening import listeners

ray = pytest.importorskip("ray")
pytest.importorskip("pyarrow")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads sockets from /proc")
def test_ray_started_by_batch_listens_on_loopback_and_leaves_no_files(tmp_path, model_path):
    home = tmp_path / "home"
    home.mkdir()
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(4):
        shutil.copy(Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg",
                    photos / f"a{i}.jpg")
    ray_default = Path(tempfile.gettempdir()) / "ray"
    before = set(ray_default.iterdir()) if ray_default.exists() else set()
    ours_before = set(Path(tempfile.gettempdir()).glob("genderage-ray-*"))  # other runs'
    # Its own process, as a user runs it: Ray keeps process-wide state (its token) that a
    # test process would carry into the next test's cluster.
    stderr = tmp_path / "stderr.txt"
    with stderr.open("w") as sink:
        run = subprocess.Popen([sys.executable, "-m", "genderage", "batch", str(photos),
                                "--out", str(tmp_path / "out"), "--engine", "ray",
                                "--workers", "1", "--model", str(model_path), "--no-progress"],
                               env={**os.environ, "HOME": str(home)},
                               stdout=subprocess.DEVNULL, stderr=sink)
        seen = set()  # what the run and every process it started listened on, while it ran
        deadline = time.monotonic() + 600
        while run.poll() is None and time.monotonic() < deadline:
            seen |= listeners(run.pid)
            time.sleep(0.1)
        run.kill()
        run.wait()
    assert run.returncode == 0, stderr.read_text()[-2000:]
    programs = {listener.program for listener in seen}
    assert {"gcs_server", "raylet"} <= programs, seen  # Ray's servers were seen listening
    assert [listener for listener in seen if not listener.loopback] == []
    assert list(home.rglob("*")) == []  # no ~/.ray/auth_token
    after = set(ray_default.iterdir()) if ray_default.exists() else set()
    assert after == before
    assert set(Path(tempfile.gettempdir()).glob("genderage-ray-*")) == ours_before
