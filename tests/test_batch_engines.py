"""The engine seam (``genderage.batch.engines``): a throwaway engine registered with one line
runs the real ``genderage batch`` and ``genderage video`` commands, its parts resume and
``genderage report`` reads them; every registered engine has the protocol's shape.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402
from batch_photos import ASTRONAUT, assert_matches_library, read_output  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from genderage.batch import engines  # noqa: E402
from genderage.batch.engines import EngineError, EngineSettings, create_engine  # noqa: E402
from genderage.cli import main  # noqa: E402
from video_synth import astronaut_videos  # noqa: E402


class SequentialEngine:
    """The smallest engine: every chunk in this process, one after another."""

    failures = ()
    runs: list[tuple[EngineSettings, list[str], int]] = []
    """Every run of every instance: (settings, paths, batch_size)."""

    def __init__(self, settings: EngineSettings):
        if settings.cluster is not None:
            raise EngineError("the sequential engine runs in this process only")
        self.settings = settings
        self.nodes: Counter = Counter()

    def run(self, paths, options, analyzer, batch_size):
        self.runs.append((self.settings, list(paths), batch_size))
        work = analyzer(options, threads=1)
        for start in range(0, len(paths), batch_size):
            chunk = paths[start:start + batch_size]
            yield work(chunk)
            self.nodes["this-process"] += len(chunk)


class DyingEngine(SequentialEngine):
    """Its machinery breaks after the first chunk, as a killed worker process would."""

    failures = (ChildProcessError,)

    def run(self, paths, options, analyzer, batch_size):
        chunks = super().run(paths, options, analyzer, batch_size)
        yield next(chunks)
        raise ChildProcessError("worker 1 died")


@pytest.fixture
def sequential(monkeypatch):
    """``--engine sequential``: the one registration line a new engine module adds."""
    monkeypatch.setitem(engines.ENGINES, "sequential",
                        (f"{__name__}:SequentialEngine", "every chunk in this process"))
    SequentialEngine.runs.clear()
    return SequentialEngine


@pytest.fixture
def photos(tmp_path) -> list[str]:
    """Two faces (the astronaut and its mirror image), a photo without one, a bad file."""
    folder = tmp_path / "photos"
    folder.mkdir()
    base = Image.open(ASTRONAUT).convert("RGB")
    base.save(folder / "a.jpg", quality=95)
    ImageOps.mirror(base).save(folder / "b.png")
    Image.new("RGB", (120, 90), (40, 90, 160)).save(folder / "c.png")
    (folder / "d.jpg").write_bytes(b"")
    return sorted(str(p) for p in folder.iterdir())


def test_a_registered_engine_runs_batch_and_report_reads_its_parts(
        sequential, photos, model_path, tmp_path, capsys):
    out, report = tmp_path / "out", tmp_path / "report"
    argv = ["batch", *photos, "--out", str(out), "--engine", "sequential", "--workers", "3",
            "--batch-size", "2", "--part-size", "2", "--model", str(model_path),
            "--no-progress"]
    assert main(argv) == 1  # the empty file
    assert "images per node: this-process: 4" in capsys.readouterr().err
    ((settings, paths, batch_size),) = sequential.runs
    assert settings == EngineSettings(workers=3) and paths == photos and batch_size == 2
    # 4 images, a part every 2: two complete parts, each image's rows in one of them.
    parts = sorted(out.glob("part-*.parquet"))
    assert len(parts) == 2
    per_part = [set(pq.read_table(p)["path"].to_pylist()) for p in parts]
    assert sorted(len(s) for s in per_part) == [2, 2] and not per_part[0] & per_part[1]
    table = read_output(out)
    assert sorted(set(table["path"].to_pylist())) == photos
    from genderage import GenderAge

    assert_matches_library(table, GenderAge(model_path).predict_batch(photos))
    failed = table.filter(pa.compute.is_valid(table["error_kind"]))
    assert failed["path"].to_pylist() == [photos[3]] and failed["error_kind"][0].as_py() == "empty"

    # The same command resumes: nothing left for the engine, nothing written twice.
    assert main(argv) == 1
    assert len(sequential.runs) == 1 and sorted(out.glob("part-*.parquet")) == parts

    assert main(["report", str(out), "--out", str(report), "--bootstrap", "50"]) == 0
    summary = json.loads((report / "report.json").read_text())
    faces = sum(1 for i in table["face_index"].to_pylist() if i is not None)
    assert faces == 2
    assert (summary["n_images"], summary["n_images_failed"], summary["n_faces"]) == (4, 1, 2)


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_a_registered_engine_runs_video_tables(sequential, model_path, tmp_path):
    seconds = astronaut_videos(tmp_path / "videos", 2)
    out = tmp_path / "tracks.parquet"
    argv = ["video", str(tmp_path / "videos"), "--out", str(out), "--engine", "sequential",
            "--model", str(model_path), "--no-progress"]
    assert main(argv) == 0
    ((_, paths, batch_size),) = sequential.runs
    assert sorted(paths) == sorted(seconds) and batch_size == 1  # one video per task
    rows = pq.read_table(out).to_pylist()
    assert sorted({r["path"] for r in rows}) == sorted(seconds)
    assert all(r["error"] is None and r["track_id"] is not None for r in rows)
    assert len(list(out.glob("part-*.parquet"))) == 2  # --part-size 1: a part per video
    assert main(argv) == 0  # resumes: the output folder was released and nothing is left
    assert len(sequential.runs) == 1


def test_a_broken_engine_keeps_the_parts_written_and_the_same_command_resumes(
        sequential, monkeypatch, photos, model_path, tmp_path, capsys):
    monkeypatch.setitem(engines.ENGINES, "dying", (f"{__name__}:DyingEngine", "breaks"))
    out = tmp_path / "out"
    common = ["--out", str(out), "--batch-size", "1", "--part-size", "1", "--model",
              str(model_path), "--no-progress"]
    assert main(["batch", *photos, *common, "--engine", "dying"]) == 2
    err = capsys.readouterr().err
    assert "the dying engine failed (ChildProcessError: worker 1 died); the part files " \
           "written so far are kept: run the same command again to resume" in err
    assert len(list(out.glob("part-*.parquet"))) == 1  # the chunk before the failure
    assert main(["batch", *photos, *common, "--engine", "sequential"]) == 1  # lock released
    assert "4 images (3 analysed now, 1 already in" in capsys.readouterr().err
    assert sequential.runs[-1][1] == photos[1:]


def test_engine_settings_an_engine_refuses_are_usage_errors(sequential, photos, tmp_path,
                                                           model_path, capsys):
    common = ["--out", str(tmp_path / "out"), "--model", str(model_path), "--no-progress"]
    for flag in ("--cluster", "--ray-address"):  # the earlier spelling still works
        assert main(["batch", *photos, *common, flag, "10.0.0.1:6379"]) == 2
        assert "local engine runs on this machine only" in capsys.readouterr().err
    assert main(["batch", *photos, *common, "--engine", "sequential", "--cluster", "x:1"]) == 2
    assert "runs in this process only" in capsys.readouterr().err
    assert not sequential.runs and not (tmp_path / "out").exists()


def test_every_registered_engine_has_the_protocols_shape():
    for name in engines.engine_names():
        if name == "ray":
            pytest.importorskip("ray")
        engine = create_engine(name, EngineSettings(workers=1))
        assert callable(engine.run) and engine.nodes == Counter()
        assert all(issubclass(kind, BaseException) for kind in engine.failures)
    assert engines.engine_names()[0] == "local"
    with pytest.raises(EngineError, match="unknown engine 'dask': use one of local, ray"):
        create_engine("dask")
