"""The CLI at the edges a real user hits: odd file names, odd files, pipes, terminals,
missing extras, verbose logging. The real entry point, in process or as a subprocess."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genderage.cli import main
from genderage.inputs import collect_inputs, image_extensions

SRC = Path(__file__).resolve().parents[1] / "src"


def texture(seed: int, size=(120, 120)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)


def write(path: Path, seed=0, fmt="PNG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(texture(seed)).save(path, format=fmt)
    return path


def cli_env(**extra) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(SRC), os.environ.get("PYTHONPATH")])), **extra)
    return env


def run_cli(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "genderage", *map(os.fsdecode, args)],
                          capture_output=True, text=True, env=cli_env(**kw.pop("env", {})),
                          timeout=300, **kw)


# --- 12: file names that are not UTF-8 ------------------------------------------------------

def test_non_utf8_file_name_does_not_stop_the_table(tmp_path, model_path):
    folder = tmp_path / "in"
    folder.mkdir()
    odd = os.fsdecode(os.fsencode(str(folder)) + b"/caf\xe9.png")  # Latin-1 bytes
    write(Path(odd), 1)
    write(folder / "z_after.png", 2)
    proc = run_cli("predict", "--aligned", "--model", model_path, folder,
                   env={"PYTHONIOENCODING": "utf-8", "LC_ALL": "C.UTF-8"})
    assert proc.returncode == 0, proc.stderr
    rows = proc.stdout.splitlines()[1:]
    assert len(rows) == 2
    assert "caf\\xe9.png" in rows[0] and "z_after.png" in rows[1]


# --- 13/14/16: what a folder walk takes and what it reports ---------------------------------

def test_folder_walk_takes_every_decodable_format(tmp_path, model_path, capsys):
    from PIL import features

    formats = {"a.gif": "GIF", "b.jp2": "JPEG2000", "c.ico": "ICO", "d.ppm": "PPM",
               "e.webp": "WEBP", "g.JPG": "JPEG"}
    if features.check("avif"):  # Pillow >= 11.3 wheels
        formats["f.avif"] = "AVIF"
    for name, fmt in formats.items():
        write(tmp_path / "in" / name, 3, fmt)
    assert {Path(n).suffix.lower() for n in formats} <= image_extensions()
    assert ".mpg" not in image_extensions() and ".eps" not in image_extensions()
    rc = main(["predict", "--json", "--aligned", "--model", str(model_path),
               str(tmp_path / "in")])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert len(out.out.splitlines()) == len(formats)
    assert '"error": null' in out.out and '"error": "' not in out.out


def test_folder_walk_reports_what_it_skips(tmp_path, model_path, capsys, caplog):
    root = tmp_path / "in"
    write(root / "ok.png", 4)
    (root / "notes.txt").write_text("not an image")
    os.symlink(root / "gone.png", root / "dangling.png")
    os.mkfifo(root / "pipe.png")
    os.symlink(root, root / "loop")  # a link to a folder: not followed
    expected = {
        "notes.txt": "not an image file (extension)",
        "dangling.png": "dangling link",
        "pipe.png": "not a regular file (a FIFO)",
        "loop": "link to a folder (not followed)",
    }
    locked = root / "locked"
    write(locked / "inside.png", 5)
    locked.chmod(0)
    if not os.access(locked, os.R_OK):  # as root, permissions do not apply
        expected["locked"] = "folder not readable (Permission denied)"
    try:
        found = collect_inputs([str(root)])
        reasons = {Path(s.path).name: s.reason for s in found.skipped}
        assert reasons == expected
        assert str(root / "ok.png") in found.files
        caplog.set_level("INFO", logger="genderage")
        rc = main(["predict", "--aligned", "--model", str(model_path), str(root)])
        err = capsys.readouterr().err
        assert rc == 0, err
        locked_part = "1 folder not readable, " if "locked" in expected else ""
        assert (f"genderage predict: skipped {len(expected)} entries: 1 dangling link, "
                f"{locked_part}1 link to a folder, 1 not a regular file, 1 not an image file "
                "(-v lists them)") in err
        logged = [r.getMessage() for r in caplog.records if r.name == "genderage.commands.predict"]
        assert f"skipped {root / 'pipe.png'}: not a regular file (a FIFO)" in logged
    finally:
        locked.chmod(0o755)


def deep_folder(top: Path, depth: int) -> None:
    """Nested folders whose full path exceeds PATH_MAX, made relative to open descriptors."""
    fd = os.open(top, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d" * 200, dir_fd=fd)
            child = os.open("d" * 200, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
    finally:
        os.close(fd)


def test_a_folder_deeper_than_path_max_does_not_stop_the_run(tmp_path, model_path, capsys):
    root = tmp_path / "in"
    write(root / "a.png", 6)
    deep_folder(root, 25)  # 25 x 201 characters > 4096
    write(root / "z.png", 7)
    rc = main(["predict", "--aligned", "--json", "--model", str(model_path), str(root)])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert [Path(line.split('"')[3]).name for line in out.out.splitlines()] == ["a.png", "z.png"]
    assert "skipped 1 entry: 1 folder not readable" in out.err


def test_fifo_and_dev_zero_named_on_the_command_line(tmp_path, model_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    ok = write(tmp_path / "ok.png", 8)
    proc = run_cli("predict", "--aligned", "--model", model_path, fifo, "/dev/zero", ok)
    assert proc.returncode == 1  # some inputs failed, the rest was processed
    assert f"{fifo}: not a regular file (a FIFO)" in proc.stderr
    assert "/dev/zero: not a regular file (a character device)" in proc.stderr
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
    assert "ok.png" in proc.stdout


# --- 15: --annotate never writes through links ----------------------------------------------

def test_annotate_never_overwrites_through_hard_or_symbolic_links(tmp_path, model_path, capsys):
    inputs, out = tmp_path / "in", tmp_path / "out"
    a = write(inputs / "a.png", 9)
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    out.mkdir()
    os.link(a, out / "a.annotated.png")                     # a hard link to the input
    os.symlink(outside, out / "a.annotated-1.png")          # a link out of the folder
    os.symlink(tmp_path / "nowhere", out / "a.annotated-2.png")  # a dangling link
    before = a.read_bytes()
    rc = main(["predict", "--aligned", "--model", str(model_path), str(a),
               "--annotate", str(out)])
    assert rc == 0, capsys.readouterr().err
    assert a.read_bytes() == before and outside.read_text() == "keep me"
    assert not (tmp_path / "nowhere").exists()
    written = out / "a.annotated-3.png"
    assert written.is_file() and not written.is_symlink() and os.stat(written).st_nlink == 1


# --- 17: a closed pipe ----------------------------------------------------------------------

def test_closed_pipe_ends_quietly(tmp_path, model_path):
    for i in range(60):
        write(tmp_path / "in" / f"{i:02d}.png", i)
    proc = subprocess.Popen(
        [sys.executable, "-m", "genderage", "predict", "--json", "--aligned", "--batch-size",
         "1", "--model", str(model_path), str(tmp_path / "in")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env())
    first = proc.stdout.readline()  # what `| head -1` does: one line, then close
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 141, err  # 128 + SIGPIPE, like a Unix tool
    assert first.startswith(b'{"path"')
    assert err == ""


# --- 18: missing extras ---------------------------------------------------------------------

BLOCKED_IMPORT = """
import sys
sys.modules[sys.argv[1]] = None  # import -> ModuleNotFoundError, as if not installed
from genderage.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("module,argv,extra", [
    ("imagehash", ["data", "check", "{tmp}"], "data"),
    ("torch", ["train", "--data", "{tmp}", "--manifest", "{tmp}/m.csv"], "train"),
    ("torch", ["export", "{tmp}/x.pt", "--out", "{tmp}/x.onnx"], "train"),
    ("matplotlib", ["evaluate", "{model}", "--data", "{tmp}", "--out", "{tmp}/ev"], "train"),
    ("pyarrow", ["report", "{tmp}/results.parquet", "--out", "{tmp}/rep"], "report"),
    ("pyarrow", ["batch", "{tmp}", "--out", "{tmp}/out"], "batch"),
    ("ray", ["batch", "{tmp}", "--out", "{tmp}/out", "--engine", "ray"], "ray"),
])
def test_missing_extra_names_the_extra(module, argv, extra, tmp_path, model_path):
    write(tmp_path / "30_1_0_20170101000000000.jpg.chip.jpg", 12, "JPEG")
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{model}", str(model_path)) for a in argv]
    proc = subprocess.run([sys.executable, "-c", BLOCKED_IMPORT, module, *argv],
                          capture_output=True, text=True, env=cli_env(), timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert (f"this command needs the '{extra}' extra: pip install 'genderage[{extra}]' "
            f"(missing module '{module}')") in proc.stderr
    assert "Traceback" not in proc.stderr


# --- 19: progress on a terminal -------------------------------------------------------------

def run_with_terminal_stderr(argv: list[str]) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal and stdout in a pipe."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "genderage", *argv], stdout=subprocess.PIPE,
                            stderr=follower, env=cli_env(COLUMNS="100"))
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # EIO: the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    out = proc.stdout.read().decode()
    rc = proc.wait(timeout=300)
    os.close(leader)
    return rc, out, b"".join(chunks).decode(errors="replace")


def test_progress_bar_on_a_terminal_only(tmp_path, model_path):
    for i in range(5):
        write(tmp_path / "in" / f"{i}.png", i)
    argv = ["predict", "--json", "--aligned", "--model", str(model_path), str(tmp_path / "in")]
    rc, out, err = run_with_terminal_stderr(argv)
    assert rc == 0 and len(out.splitlines()) == 5
    assert "100%" in err and "5/5" in err and "image" in err
    rc, out, err = run_with_terminal_stderr(argv + ["--no-progress"])
    assert rc == 0 and err == ""
    proc = run_cli(*argv)  # stderr a pipe: no bar
    assert proc.returncode == 0 and proc.stderr == ""


# --- 23: -v shows genderage's debug lines, not Pillow's ------------------------------------

def test_verbose_keeps_third_party_loggers_quiet(tmp_path, model_path):
    img = tmp_path / "photo.jpg"
    exif = Image.Exif()
    exif[0x0112] = 1
    Image.fromarray(texture(11)).save(img, format="JPEG", exif=exif)
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    proc = run_cli("-v", "predict", "--aligned", "--model", model_path, img, tmp_path / "bad.jpg")
    assert proc.returncode == 1
    assert "INFO genderage.pipeline: " in proc.stderr  # genderage's own lines are shown
    assert "PIL" not in proc.stderr



def test_verbose_shows_the_traceback_of_an_error(tmp_path):
    photo = write(tmp_path / "photo.png", 3)
    argv = ["predict", "--model", tmp_path / "missing.onnx", photo]
    quiet = run_cli(*argv)
    assert quiet.returncode == 2
    line = f"genderage predict: error: {tmp_path / 'missing.onnx'}: model file not found"
    assert quiet.stderr == line + "\n"
    loud = run_cli("-v", *argv)
    assert loud.returncode == 2
    assert "Traceback (most recent call last)" in loud.stderr
    assert "FileNotFoundError" in loud.stderr and "resolve_model_path" in loud.stderr
    assert loud.stderr.endswith(line + "\n")

@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_data_check_counts_files_on_a_terminal(synthetic_utkface):
    pytest.importorskip("imagehash")
    root = synthetic_utkface.root
    files = len(synthetic_utkface.usable) + len(synthetic_utkface.defects)
    rc, out, err = run_with_terminal_stderr(["data", "check", str(root)])
    assert rc == 0 and "usable" in out
    assert f"reading: {files} files" in err
    rc, out, err = run_with_terminal_stderr(["data", "check", "--no-progress", str(root)])
    assert rc == 0 and "reading" not in err


# --- small CLI edges (#28 item 22) ------------------------------------------------------------

@pytest.mark.parametrize("command", ["predict", "batch", "video", "serve"])
def test_precision_is_offered_by_every_command_that_loads_the_model(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "--precision {int8,fp32}" in capsys.readouterr().out


def test_precision_picks_the_shipped_file_in_batch(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    from genderage.models import default_model_path

    if default_model_path("fp32") is None or default_model_path("int8") is None:
        pytest.skip("needs both shipped models")
    photo = write(tmp_path / "a.png")
    assert main(["batch", str(photo), "--out", str(tmp_path / "out"), "--precision", "fp32",
                 "--workers", "1", "--no-progress"]) == 0
    import hashlib

    import pyarrow.parquet as pq

    sha = pq.read_table(tmp_path / "out")["model_sha256"][0].as_py()
    assert sha == hashlib.sha256(default_model_path("fp32").read_bytes()).hexdigest()
    assert main(["batch", str(photo), "--out", str(tmp_path / "o2"), "--precision", "fp32",
                 "--model", str(default_model_path("fp32")), "--no-progress"]) == 2


def test_report_help_says_95_percent_once(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    out = capsys.readouterr().out
    assert "95% interval" in out and "%%" not in out


def test_a_detector_without_its_file_gets_command_line_advice(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GENDERAGE_DETECTOR_DIR", raising=False)
    assert main(["predict", str(write(tmp_path / "a.png")), "--detector", "yunet"]) == 2
    err = capsys.readouterr().err
    assert "give that file's path instead of the name 'yunet'" in err
    assert "create_detector(" not in err


def test_batch_docs_list_every_quality_reason():
    source = (Path(__file__).resolve().parents[1] / "src/genderage/quality.py").read_text()
    import re

    reasons = set(re.findall(r'\("([a-z_]+)", [a-z_]+ [<>]', source))
    docs = (Path(__file__).resolve().parents[1] / "docs/batch.md").read_text()
    row = next(line for line in docs.splitlines() if line.startswith("| `quality_reasons`"))
    assert reasons and {r for r in reasons if f"`{r}`" not in row} == set()


# --- one name per meaning (#27): earlier spellings still work, hidden from --help ------------

RENAMED = [
    # command, arguments before the flag, earlier name, name now, its value (none: a switch)
    ("report", ["results.parquet"], "--exclude-low-quality", "--skip-low-quality", None),
    ("serve", [], "--workers-threads", "--workers", "3"),
    # train's arithmetic, not the shipped model's file (predict's --precision int8|fp32)
    ("train", [], "--precision", "--compute-precision", "bf16"),
    # a file to write, as `data split --report FILE`; --json is a switch elsewhere
    ("data check", ["UTKFace/"], "--json", "--report", "check.json"),
    # the cluster of any engine, not Ray's only
    ("batch", ["photos/", "--out", "o"], "--ray-address", "--cluster", "head:6379"),
    ("video", ["a.mp4", "b.mp4"], "--ray-address", "--cluster", "head:6379"),
]


@pytest.mark.parametrize("command, before, old, new, value", RENAMED)
def test_renamed_flags_still_work_and_are_hidden(command, before, old, new, value, capsys):
    from genderage.cli import build_parser

    parser = build_parser()
    command = command.split()
    given = [] if value is None else [value]
    default = parser.parse_args([*command, *before])
    by_new = parser.parse_args([*command, *before, new, *given])
    by_old = parser.parse_args([*command, *before, old, *given])
    assert vars(by_old) == vars(by_new) != vars(default)
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    shown = capsys.readouterr().out
    assert new in shown and old not in shown
