"""``genderage batch`` (local engine) through the real entry point on a few dozen photos."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow")
import pyarrow.compute as pc  # noqa: E402
import pyarrow.csv as pacsv  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from batch_photos import (  # noqa: E402
    BAD_FILES,
    assert_matches_library,
    assert_matches_predict_json,
    assert_same_rows,
    build_photos,
    read_output,
)

from genderage import __version__  # noqa: E402
from genderage.cli import main  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"
COLUMNS = ["path", "face_index", "bbox", "landmarks", "det_score", "gender",
           "gender_probability", "female_probability", "age", "age_low", "age_high",
           "low_quality", "quality_reasons", "error", "error_kind", "model_sha256",
           "genderage_version", "path_bytes"]


@pytest.fixture(scope="module")
def photo_set(tmp_path_factory) -> tuple[Path, list[str]]:
    folder = tmp_path_factory.mktemp("photos")
    return folder, build_photos(folder)


@pytest.fixture(scope="module")
def folder(photo_set) -> Path:
    return photo_set[0]


@pytest.fixture(scope="module")
def photos(photo_set) -> list[str]:
    return photo_set[1]


def batch(*args, model_path) -> int:
    return main(["batch", *map(str, args), "--model", str(model_path), "--no-progress"])


@pytest.fixture(scope="module")
def reference(folder, model_path, tmp_path_factory):
    """One complete local run over the folder: (output folder, table, exit status)."""
    out = tmp_path_factory.mktemp("reference") / "results.parquet"
    rc = batch(folder, "--out", out, "--workers", "2", "--batch-size", "4", model_path=model_path)
    return out, read_output(out), rc


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_local_engine_equals_predict_json_and_library(folder, photos, reference, model_path,
                                                      capsys):
    _, table, rc = reference
    assert rc == 1  # the bad files
    assert main(["predict", "--json", "--model", str(model_path), str(folder)]) == 1
    predictions = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(predictions) == len(photos) == 32
    assert sum(len(p["faces"]) for p in predictions) == 26  # real faces, one photo has 2
    assert_matches_predict_json(table, predictions)

    from genderage import GenderAge

    assert_matches_library(table, GenderAge(model_path).predict_batch(photos))


def test_schema_error_rows_and_provenance(folder, reference, model_path):
    out, table, _ = reference
    assert table.column_names == COLUMNS
    assert table.schema.field("bbox").type == pa.list_(pa.float32(), 4)
    assert table.schema.field("landmarks").type == pa.list_(pa.float32(), 10)
    assert table.schema.field("quality_reasons").type == pa.list_(pa.string())
    assert set(table["model_sha256"].to_pylist()) == {
        hashlib.sha256(Path(model_path).read_bytes()).hexdigest()}
    assert set(table["genderage_version"].to_pylist()) == {__version__}
    errors = table.filter(pc.is_valid(table["error"]))
    assert {p: k for p, k in zip(errors["path"].to_pylist(), errors["error_kind"].to_pylist())} \
        == {str(folder / name): kind for name, kind in BAD_FILES.items()}
    assert all(msg.startswith(path + ": ") for path, msg in
               zip(errors["path"].to_pylist(), errors["error"].to_pylist()))
    assert errors["face_index"].null_count == len(errors) and errors["bbox"].null_count == len(errors)
    options = json.loads(pq.read_schema(next(out.glob("part-*.parquet"))).metadata[
        b"genderage.batch.options"])
    assert options == {"model": hashlib.sha256(Path(model_path).read_bytes()).hexdigest(),
                       "detector": "default", "flip_tta": False, "age_probs": False,
                       "min_face": None, "det_threshold": None, "max_faces": None,
                       "min_gender_probability": None}


def test_duckdb_reads_what_pyarrow_reads(reference):
    duckdb = pytest.importorskip("duckdb")
    out, table, _ = reference
    rows = duckdb.sql(f"SELECT path, face_index, age, bbox FROM '{out}/*.parquet' "
                      f"ORDER BY path, face_index NULLS FIRST").fetchall()
    expected = sorted(zip(table["path"].to_pylist(), table["face_index"].to_pylist(),
                          table["age"].to_pylist(), table["bbox"].to_pylist()),
                      key=lambda r: (r[0], -1 if r[1] is None else r[1]))
    assert len(rows) == len(expected) == len(table) >= 32
    assert [r[:2] for r in rows] == [r[:2] for r in expected]
    assert [r[2] for r in rows] == [r[2] for r in expected]  # both float32, bit for bit
    assert [r[3] for r in rows] == [r[3] for r in expected]


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_age_probs_are_the_models_distribution(folder, model_path, tmp_path):
    from genderage import GenderAge

    image = str(folder / "pair.png")
    out = tmp_path / "results.parquet"
    assert batch(image, "--out", out, "--age-probs", model_path=model_path) == 0
    table = read_output(out)
    assert table.column_names == COLUMNS + ["age_probs"]
    analyzer = GenderAge(model_path)
    results, expected = analyzer.analyze([analyzer.locate_image(image)])
    assert len(table) == len(results[0].faces) == 2
    for row, want in zip(table.to_pylist(), expected.age_probs):
        assert len(row["age_probs"]) == 121 and sum(row["age_probs"]) == pytest.approx(1, abs=1e-4)
        assert max(abs(a - b) for a, b in zip(row["age_probs"], want)) <= 1e-4


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_inputs_lists_duplicates_and_uris(folder, reference, model_path, tmp_path, monkeypatch):
    names = ["plain.jpg", "crop/1.jpg", "bad/empty.jpg", "noface/0.png", "pair.png"]
    monkeypatch.chdir(folder)  # relative paths in lists are relative to the current folder
    (tmp_path / "list.txt").write_text(f"{names[0]}\n\n{names[1]}\n{names[0]}\n")
    pacsv.write_csv(pa.table({"id": [1], "path": [names[2]]}), tmp_path / "list.csv")
    pq.write_table(pa.table({"path": [names[3]]}), tmp_path / "list.parquet")
    uri = (folder / names[4]).as_uri()
    out = tmp_path / "out"
    assert batch(tmp_path / "list.txt", tmp_path / "list.csv", tmp_path / "list.parquet",
                 uri, "--out", out, model_path=model_path) == 1
    table = read_output(out)
    given = names[:4] + [uri]
    assert sorted(set(table["path"].to_pylist())) == sorted(given)  # plain.jpg once
    bad = table.filter(pc.equal(table["path"], names[2]))
    assert bad["error"].to_pylist() == ["bad/empty.jpg: empty file"]
    # Same answers as the folder run, under the names given (the URI read through fsspec).
    ref = reference[1]
    for name, path in zip(names, given):
        if name != names[2]:
            theirs = ref.filter(pc.equal(ref["path"], str(folder / name)))
            mine = table.filter(pc.equal(table["path"], path))
            assert len(mine) == len(theirs) >= 1
            assert_same_rows(mine.set_column(0, "path", theirs["path"]), theirs)


def test_list_without_path_column_is_a_usage_error(tmp_path, model_path, capsys):
    pacsv.write_csv(pa.table({"file": ["a.jpg"]}), tmp_path / "list.csv")
    assert batch(tmp_path / "list.csv", "--out", tmp_path / "out", model_path=model_path) == 2
    assert "no 'path' column (columns: file)" in capsys.readouterr().err


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_progress_summary_and_exit_status(folder, model_path, tmp_path, capsys):
    from test_cli_edges import run_with_terminal_stderr

    bad = [folder / "bad/empty.jpg", folder / "bad/notes.png"]
    argv = ["batch", str(folder / "plain.jpg"), *map(str, bad), "--out", str(tmp_path / "a"),
            "--model", str(model_path), "--workers", "1"]
    rc, _, err = run_with_terminal_stderr(argv)  # the bar shows on a terminal only
    assert rc == 1
    assert "3/3" in err and "img/s" in err  # tqdm bar: done/total, rate, ETA
    assert "genderage batch: 3 images (3 analysed now, 0 already in" in err
    assert "1 faces, 2 failed" in err
    assert "failures by kind: empty: 1, not_image: 1" in err
    assert "wall time" in err

    assert main(argv[:2] + ["--out", str(tmp_path / "b"), *argv[6:]]) == 0
    err = capsys.readouterr().err
    assert "1 images (1 analysed now, 0 already in" in err and "img/s" not in err  # a pipe


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_rerun_skips_done_images_and_overwrite_starts_afresh(folder, reference, model_path,
                                                             tmp_path, capsys):
    out = tmp_path / "out"
    good = [str(folder / n) for n in ("plain.jpg", "mirror.jpg", "pair.png")]
    assert batch(*good[:2], "--out", out, model_path=model_path) == 0
    first = {p: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    capsys.readouterr()
    assert batch(*good, "--out", out, model_path=model_path) == 0
    assert "3 images (1 analysed now, 2 already in" in capsys.readouterr().err
    parts = {p: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    assert len(parts) == 2 and all(parts[p] == t for p, t in first.items())
    assert batch(*good, "--out", out, model_path=model_path) == 0
    assert "3 images (0 analysed now, 3 already in" in capsys.readouterr().err
    assert sorted(out.glob("part-*.parquet")) == sorted(parts)

    assert batch(*good, "--out", out, "--overwrite", model_path=model_path) == 0
    assert "3 images (3 analysed now, 0 already in" in capsys.readouterr().err
    assert not set(out.glob("part-*.parquet")) & set(parts)
    ref = reference[1]
    assert_same_rows(read_output(out), ref.filter(pc.is_in(ref["path"], pa.array(good))))


def test_other_options_are_not_mixed_in(folder, model_path, tmp_path, capsys):
    out = tmp_path / "out"
    assert batch(folder / "plain.jpg", "--out", out, model_path=model_path) == 0
    assert batch(folder / "plain.jpg", "--out", out, "--flip-tta", model_path=model_path) == 2
    assert "other options" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert batch(folder / "plain.jpg", "--out", tmp_path / "file", model_path=model_path) == 2


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_sigkill_mid_run_then_rerun_gives_every_image_once(folder, photos, reference,
                                                           model_path, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "genderage", "batch", str(folder), "--out", str(out),
               "--model", str(model_path), "--workers", "1", "--batch-size", "2",
               "--part-size", "2", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.Popen(command, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while len(list(out.glob("part-*.parquet"))) < 2:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no part file written in time"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its worker processes
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed = read_output(out)  # every part file left is complete and readable
    done = set(killed["path"].to_pylist())
    assert 4 <= len(done) < len(photos)
    (out / ".part-torn.parquet.tmp").write_bytes(b"PAR1 torn")  # what a kill mid-write leaves

    assert subprocess.run(command, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 1
    assert not list(out.glob(".*.tmp"))
    table = read_output(out)
    keys = list(zip(table["path"].to_pylist(), table["face_index"].to_pylist()))
    assert len(keys) == len(set(keys))  # no duplicates
    assert sorted(set(table["path"].to_pylist())) == sorted(photos)  # nothing missing
    assert_same_rows(table, reference[1])


def test_report_reads_batch_output(reference, tmp_path):
    pytest.importorskip("matplotlib")
    out, table, _ = reference
    assert main(["report", str(out), "--out", str(tmp_path / "report")]) == 0
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert (report["n_images"], report["n_images_failed"], report["n_faces"]) == (
        len(set(table["path"].to_pylist())), len(BAD_FILES), 26)
    assert report["model_sha256"] == table["model_sha256"][0].as_py()


def non_utf8_folder(tmp_path, folder) -> tuple[Path, str, str]:
    """A folder with an ordinary photo and a copy whose name is Latin-1 (not UTF-8), plus a
    broken file with such a name. Returns (folder, the odd photo's path, the broken one's)."""
    odd = tmp_path / "odd"
    odd.mkdir()
    photo = (folder / "pair.png").read_bytes()
    (odd / "plain.png").write_bytes(photo)
    name, broken = os.fsencode(odd) + b"/caf\xe9.png", os.fsencode(odd) + b"/bad\xff.jpg"
    Path(os.fsdecode(name)).write_bytes(photo)
    Path(os.fsdecode(broken)).write_bytes(b"\xff\xd8\xff not really")
    return odd, os.fsdecode(name), os.fsdecode(broken)


def check_non_utf8_rows(table, odd: Path, name: str, broken: str) -> None:
    from genderage.batch.schema import stored_paths

    rows = {p: r for p, r in zip(stored_paths(table), table.to_pylist())}
    assert set(rows) == {str(odd / "plain.png"), name, broken}  # lossless round trip
    assert rows[name]["path"] == str(odd) + "/caf\\xe9.png"
    assert rows[name]["path_bytes"] == os.fsencode(name)
    assert rows[str(odd / "plain.png")]["path_bytes"] is None
    plain = table.filter(pc.equal(table["path"], str(odd / "plain.png")))
    odd_rows = table.filter(pc.equal(table["path"], rows[name]["path"]))
    assert odd_rows["age"].to_pylist() == pytest.approx(plain["age"].to_pylist(), abs=1e-3)
    assert len(plain) == 2
    assert rows[broken]["error_kind"] == "corrupt"
    assert rows[broken]["error"].startswith(str(odd) + "/bad\\xff.jpg: ")


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_non_utf8_file_names_are_analysed_and_stored_losslessly(folder, model_path, tmp_path,
                                                                capsys):
    odd, name, broken = non_utf8_folder(tmp_path, folder)
    out = tmp_path / "out"
    assert batch(odd, "--out", out, "--workers", "1", model_path=model_path) == 1
    check_non_utf8_rows(read_output(out), odd, name, broken)
    capsys.readouterr()
    assert batch(odd, "--out", out, "--workers", "1", model_path=model_path) == 1  # resumes
    assert "3 images (0 analysed now, 3 already in" in capsys.readouterr().err
    listing = tmp_path / "list.txt"
    listing.write_bytes(os.fsencode(name) + b"\n")
    assert batch(listing, "--out", tmp_path / "out2", model_path=model_path) == 0
    assert stored_paths_of(tmp_path / "out2") == [name]


def stored_paths_of(out) -> list[str]:
    from genderage.batch.schema import stored_paths

    return sorted(set(stored_paths(read_output(out))))


def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                kids.append(int(entry))
    return kids


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_workers_die_with_a_driver_killed_by_sigkill(folder, model_path, tmp_path):
    """SIGKILL to the driver alone (not its process group): its worker processes must not
    run on (#28 item 8: they did, 20 s later, ~185 MB each)."""
    command = [sys.executable, "-m", "genderage", "batch", str(folder), "--out",
               str(tmp_path / "out"), "--model", str(model_path), "--workers", "2",
               "--batch-size", "1", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.Popen(command, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
            # spawn's resource tracker is a child too; the workers are the other python ones
            workers = [p for p in _children(proc.pid) if "resource_tracker" not in _cmdline(p)]
            time.sleep(0.1)
        assert len(workers) >= 2, "no worker processes seen"
        time.sleep(1.0)  # let them start their analyzers
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(p) for p in workers), "workers outlived the killed driver"
    finally:
        for p in workers:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_sigterm_stops_the_run_cleanly(folder, model_path, tmp_path):
    """SIGTERM (what `kill`, systemd and container runtimes send) runs the cleanup that
    Ctrl-C runs: workers stopped, the --out lock released, status 143."""
    out = tmp_path / "out"
    command = [sys.executable, "-m", "genderage", "batch", str(folder), "--out", str(out),
               "--model", str(model_path), "--workers", "1", "--batch-size", "1",
               "--part-size", "1", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.Popen(command, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("part-*.parquet")) and time.monotonic() < deadline:
            assert proc.poll() is None, "the run ended before it could be stopped"
            time.sleep(0.05)
        workers = [p for p in _children(proc.pid) if "resource_tracker" not in _cmdline(p)]
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert b"terminated" in err and b"Traceback" not in err
    assert not (out / ".genderage-batch.lock").exists()
    assert workers and not any(_alive(p) for p in workers)


def test_a_file_uri_naming_a_fifo_is_refused_at_once(tmp_path):
    """A plain path to a FIFO was refused at once, a file:// URI to it blocked for ever."""
    import threading

    from genderage.batch.worker import read_uri
    from genderage.imageio import ImageDecodeError

    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    outcome = []

    def read():
        try:
            read_uri(f"file://{fifo}")
        except ImageDecodeError as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # unblock it before failing
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("read_uri blocked on a FIFO")
    assert outcome and outcome[0].kind == "unreadable"
    assert str(outcome[0]) == f"file://{fifo}: not a regular file (a FIFO)"
    photo = tmp_path / "a.png"
    photo.write_bytes(b"\x89PNG not really")
    assert read_uri(photo.as_uri()) == photo.read_bytes()


def test_path_lists_keep_spaces_and_refuse_non_string_columns(folder, tmp_path, capsys):
    from genderage.batch.inputs import read_path_list

    spaced = tmp_path / " spaced name .png"
    spaced.write_bytes((folder / "pair.png").read_bytes())
    listing = tmp_path / "list.txt"
    listing.write_text(f"{spaced}\r\n\n   \n{folder / 'pair.png'}\n")
    assert read_path_list(str(listing)) == [str(spaced), str(folder / "pair.png")]

    pq.write_table(pa.table({"path": [1, 2]}), tmp_path / "ints.parquet")
    assert main(["batch", str(tmp_path / "ints.parquet"), "--out", str(tmp_path / "out"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "column 'path' holds int64, not file names (strings)" in err and "Traceback" not in err
    raw = os.fsencode(tmp_path) + b"/caf\xe9.png"
    pq.write_table(pa.table({"path": pa.array([raw], pa.binary())}), tmp_path / "raw.parquet")
    assert read_path_list(str(tmp_path / "raw.parquet")) == [os.fsdecode(raw)]
