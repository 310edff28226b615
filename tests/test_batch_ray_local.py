"""``batch --engine ray`` starting Ray itself (#28 item 15): nothing written to the home
folder or Ray's default temp folder, its own temp folder removed, Ray shut down."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("pyarrow")

from genderage.cli import main  # noqa: E402


@pytest.mark.slow
def test_ray_started_by_batch_leaves_no_files_behind(tmp_path, model_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(4):
        shutil.copy(Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg",
                    photos / f"a{i}.jpg")
    ray_default = Path(tempfile.gettempdir()) / "ray"
    before = set(ray_default.iterdir()) if ray_default.exists() else set()
    assert main(["batch", str(photos), "--out", str(tmp_path / "out"), "--engine", "ray",
                 "--workers", "1", "--model", str(model_path), "--no-progress"]) == 0
    assert not ray.is_initialized()
    assert list(home.rglob("*")) == []  # no ~/.ray/auth_token
    after = set(ray_default.iterdir()) if ray_default.exists() else set()
    assert after == before
    assert not list(Path(tempfile.gettempdir()).glob("genderage-ray-*"))
