"""Every output of every command is a new file: never written over, never through a link,
never an input (#28 item 2). The real CLI on a tiny faceless video and tiny results."""

import os

import numpy as np
import pytest

from genderage.cli import main
from genderage.outputs import OutputExistsError, StagedOutput, check_outputs, create_new
from video_synth import write_video


@pytest.fixture(scope="module")
def tiny_video(tmp_path_factory):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(4)]
    return write_video(tmp_path_factory.mktemp("v") / "in.mp4", frames, 10.0)


def video(tiny_video, model_path, *extra) -> int:
    return main(["video", str(tiny_video), "--model", str(model_path), "--no-progress", *extra])


@pytest.mark.parametrize("option", ["--out", "--frames", "--annotate"])
def test_video_never_writes_over_its_input(option, tiny_video, model_path, capsys):
    before = tiny_video.read_bytes()
    assert video(tiny_video, model_path, option, str(tiny_video)) == 2
    assert "is an input" in capsys.readouterr().err
    assert tiny_video.read_bytes() == before


@pytest.mark.parametrize("option", ["--out", "--frames", "--annotate"])
def test_video_refuses_existing_files_and_links(option, tiny_video, model_path, tmp_path,
                                                capsys):
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    link = tmp_path / "link.out"
    link.symlink_to(precious)
    dangling = tmp_path / "dangling.out"
    dangling.symlink_to(tmp_path / "nowhere.txt")
    for target in (precious, link, dangling):
        assert video(tiny_video, model_path, option, str(target)) == 2
        err = capsys.readouterr().err
        assert "already exists" in err and "Traceback" not in err
    assert precious.read_text() == "keep me"
    assert not (tmp_path / "nowhere.txt").exists()


def test_video_outputs_are_new_files_and_no_temporary_is_left(tiny_video, model_path,
                                                              tmp_path):
    out, frames, annotated = tmp_path / "t.jsonl", tmp_path / "f.jsonl", tmp_path / "a.mp4"
    assert video(tiny_video, model_path, "--out", str(out), "--frames", str(frames),
                 "--annotate", str(annotated)) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4", "f.jsonl", "t.jsonl"]
    assert len(frames.read_text().splitlines()) == 4 and annotated.stat().st_size > 0
    assert video(tiny_video, model_path, "--out", str(tmp_path / "x.jsonl"),
                 "--frames", str(tmp_path / "x.jsonl")) == 2  # one file named twice


@pytest.mark.parametrize("argv", [["video", "x.mp4", "--out", ""],
                                  ["video", "x.mp4", "--annotate", ""],
                                  ["report", "r.parquet", "--out", ""],
                                  ["batch", "x.jpg", "--out", ""],
                                  ["predict", "x.jpg", "--annotate", " "],
                                  ["export", "ckpt.pt", "--out", ""],
                                  ["data", "split", "--out", ""],
                                  ["evaluate", "--out", ""],
                                  ["train", "--out", ""]])
def test_an_empty_output_name_is_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and "empty string" in capsys.readouterr().err


def write_results(path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"path": f"{i}.jpg", "face_index": 0, "gender": "female" if i % 2 else "male",
             "gender_probability": 0.9, "age": 20.0 + i, "age_low": 15.0 + i,
             "age_high": 25.0 + i, "low_quality": False, "quality_reasons": [], "error": None,
             "model_sha256": "ab" * 32, "genderage_version": "0.2.0"} for i in range(6)]
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def test_report_never_writes_over_a_file_or_through_a_link(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    results = write_results(tmp_path / "r.parquet")
    out = tmp_path / "rep"
    out.mkdir()
    precious = tmp_path / "precious.md"
    precious.write_text("keep me")
    (out / "report.md").symlink_to(precious)
    argv = ["report", str(results), "--out", str(out), "--bootstrap", "50"]
    assert main(argv) == 2
    assert "report.md: already exists" in capsys.readouterr().err
    assert precious.read_text() == "keep me" and sorted(os.listdir(out)) == ["report.md"]
    (out / "report.md").unlink()
    assert main(argv) == 0
    assert sorted(os.listdir(out)) == ["report.html", "report.json", "report.md"]
    assert main(argv) == 2  # a second run never writes over the first one's report
    before = results.read_bytes()
    assert main(["report", str(results), "--out", str(results)]) == 2
    assert results.read_bytes() == before


def test_report_never_writes_through_a_link_to_its_input(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    parts = tmp_path / "parts"
    parts.mkdir()
    write_results(parts / "part-0.parquet")
    (parts / "report.json").symlink_to(parts / "part-0.parquet")
    before = (parts / "part-0.parquet").read_bytes()
    assert main(["report", str(parts), "--out", str(parts), "--bootstrap", "50"]) == 2
    assert (parts / "part-0.parquet").read_bytes() == before


def test_create_new_and_staged_output(tmp_path):
    target = tmp_path / "t.txt"
    with create_new(target) as f:
        f.write("one")
    for name in ("t.txt",):
        with pytest.raises(OutputExistsError):
            create_new(tmp_path / name)
    (tmp_path / "l").symlink_to(tmp_path / "missing")
    with pytest.raises(OutputExistsError):
        create_new(tmp_path / "l")
    assert not (tmp_path / "missing").exists()
    staged = StagedOutput(tmp_path / "v.mp4")
    staged.tmp.write_bytes(b"video")
    assert staged.commit().read_bytes() == b"video" and not staged.tmp.exists()
    assert (tmp_path / "v.mp4").stat().st_mode & 0o777 == 0o644
    again = StagedOutput(tmp_path / "v.mp4")
    with pytest.raises(OutputExistsError):
        again.commit()
    again.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l", "t.txt", "v.mp4"]
    with pytest.raises(OutputExistsError, match="is an input"):
        check_outputs([tmp_path / "t.txt"], inputs=[str(tmp_path / "t.txt")])


def test_replacing_writes_the_whole_file_or_leaves_the_old_one(tmp_path):
    from genderage.outputs import replacing, write_atomic

    target = tmp_path / "sub" / "cache.npz"  # the folder is created
    with replacing(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.startswith(".cache.npz.")
        np.savez(tmp, a=np.arange(3))  # np.savez would append .npz to any other name
    with np.load(target) as z:
        assert z["a"].tolist() == [0, 1, 2]
    with pytest.raises(RuntimeError), replacing(target) as tmp:
        np.savez(tmp, a=np.arange(5))
        raise RuntimeError("killed mid-write")
    with np.load(target) as z:
        assert z["a"].tolist() == [0, 1, 2]
    assert [p.name for p in target.parent.iterdir()] == ["cache.npz"]  # no temporary left
    write_atomic(target.with_name("t.json"), "é\n")
    write_atomic(target.with_name("b.bin"), b"\x00\x01")
    assert target.with_name("t.json").read_bytes() == "é\n".encode()
    assert target.with_name("b.bin").read_bytes() == b"\x00\x01"
    assert oct(target.with_name("b.bin").stat().st_mode & 0o777) == "0o644"


def test_files_are_replaced_in_one_place():
    """One atomic writer: no other module of the package renames a temporary file into place
    by hand (``batch/store.py`` moves part files through a pyarrow filesystem, which may be
    remote, and is not a copy of it)."""
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "src" / "genderage"
    found = [str(p.relative_to(package)) for p in package.rglob("*.py")
             if "os.replace(" in p.read_text() or "os.rename(" in p.read_text()]
    assert found == ["outputs.py"]
