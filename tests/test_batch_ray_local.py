"""``batch --engine ray`` starting Ray itself (#28 item 15): nothing written to the home
folder or Ray's default temp folder, its own temp folder removed, Ray shut down."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("pyarrow")


@pytest.mark.slow
def test_ray_started_by_batch_leaves_no_files_behind(tmp_path, model_path):
    home = tmp_path / "home"
    home.mkdir()
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(4):
        shutil.copy(Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg",
                    photos / f"a{i}.jpg")
    ray_default = Path(tempfile.gettempdir()) / "ray"
    before = set(ray_default.iterdir()) if ray_default.exists() else set()
    # Its own process, as a user runs it: Ray keeps process-wide state (its token) that a
    # test process would carry into the next test's cluster.
    run = subprocess.run([sys.executable, "-m", "genderage", "batch", str(photos), "--out",
                          str(tmp_path / "out"), "--engine", "ray", "--workers", "1",
                          "--model", str(model_path), "--no-progress"],
                         env={**os.environ, "HOME": str(home)}, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert list(home.rglob("*")) == []  # no ~/.ray/auth_token
    after = set(ray_default.iterdir()) if ray_default.exists() else set()
    assert after == before
    assert not list(Path(tempfile.gettempdir()).glob("genderage-ray-*"))
