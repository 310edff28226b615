"""Creating output files safely: the one rule every command's outputs follow.

An output is always a NEW file: it is created exclusively (``O_CREAT | O_EXCL``), so an
existing file, an input among them, is never written over, and a symbolic link at its name is
never followed (``O_NOFOLLOW``; with ``O_EXCL`` a link is refused even if it dangles). A file
that must be written by a library that only takes a path (OpenCV's video writer) is written
under a temporary name in the same folder and linked into place exclusively at the end
(:class:`StagedOutput`). ``predict --annotate``, ``video --out/--frames/--annotate`` and
``report --out`` all go through here.

Files the package itself rewrites (caches, checkpoints, exported models, metrics bundles, the
labels file) follow the other rule, :func:`replacing`: written whole under a temporary name
beside the target, then renamed over it, so a reader or a killed run never sees a torn file.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_CREATE_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                 | getattr(os, "O_CLOEXEC", 0))


class OutputExistsError(FileExistsError):
    """The output's name is taken (a file, a folder, a link or one of the inputs)."""


def output_path(text: str) -> Path:
    """argparse type for an output path: refuses the empty string (which would name the
    current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a file or folder name, got an empty string")
    return Path(text)


def check_outputs(outputs: list[str | os.PathLike | None],
                  inputs: list[str | os.PathLike] = ()) -> None:
    """Refuse, before any work, outputs that would overwrite something.

    ``None`` entries (an output not asked for) are skipped.

    Raises:
        OutputExistsError: an output names one of ``inputs`` (by path or as the same file),
            the same file as another output, or anything that already exists (a dangling
            symbolic link included).
    """
    wanted = [Path(o) for o in outputs if o is not None]
    for i, out in enumerate(wanted):
        for source in inputs:
            if _same_file(out, Path(source)):
                raise OutputExistsError(f"{out}: is an input; give the output another name")
        if any(_same_file(out, other) for other in wanted[:i]):
            raise OutputExistsError(f"{out}: named twice as an output")
        if os.path.lexists(out):
            raise OutputExistsError(f"{out}: already exists; outputs are never written over "
                                    f"(remove it or choose another name)")


def _same_file(a: Path, b: Path) -> bool:
    if os.path.abspath(a) == os.path.abspath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def create_new(path: str | os.PathLike, mode: str = "w", **open_kw):
    """Open ``path`` as a new file (see the module docstring); ``mode`` "w" or "wb".

    Raises:
        OutputExistsError: something exists at ``path`` (a link included).
        OSError: it cannot be created for another reason.
    """
    try:
        fd = os.open(path, _CREATE_FLAGS, 0o644)
    except FileExistsError:
        raise OutputExistsError(f"{path}: already exists; outputs are never written over "
                                f"(remove it or choose another name)") from None
    except OSError:
        if os.path.islink(path):  # O_NOFOLLOW's ELOOP
            raise OutputExistsError(f"{path}: is a symbolic link; outputs never follow "
                                    f"links") from None
        raise
    return os.fdopen(fd, mode, **open_kw)


def write_new(path: str | os.PathLike, data: str | bytes) -> None:
    """Write ``data`` to a new file at ``path`` (:func:`create_new`)."""
    with create_new(path, "wb" if isinstance(data, bytes) else "w",
                    **({} if isinstance(data, bytes) else {"encoding": "utf-8"})) as f:
        f.write(data)


class StagedOutput:
    """A temporary file beside ``path`` for a writer that only takes a path; :meth:`commit`
    links it to ``path`` exclusively, :meth:`discard` removes it.

    The temporary name is created exclusively in the target's folder (``mkstemp``), so the
    writer never reaches anything through a link, and ``os.link`` refuses an existing
    target, a link included.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=self.path.suffix,
                                   dir=self.path.parent if str(self.path.parent) else ".")
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would make the output private to its writer
        os.close(fd)
        self.tmp = Path(tmp)

    def commit(self) -> Path:
        try:
            os.link(self.tmp, self.path)
        except FileExistsError:
            raise OutputExistsError(f"{self.path}: appeared while writing; the output is "
                                    f"left in {self.tmp}") from None
        self.tmp.unlink()
        return self.path

    def discard(self) -> None:
        try:
            self.tmp.unlink()
        except FileNotFoundError:
            pass


@contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` to write the whole new file to; on a clean exit it
    is renamed over ``path`` (``os.replace``: a reader sees the old file or the new one,
    never a torn one), on an exception it is removed and ``path`` is left as it was.

    The temporary name is ``.<name>.<random>.tmp<suffix>`` in ``path``'s folder (created
    with the folder if missing): hidden, unique per writer, and ending in ``path``'s suffix,
    so writers that append one (``np.save``, ``np.savez``) write to it as given.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}",
                               dir=path.parent)
    os.fchmod(fd, 0o644)  # mkstemp's 0600 would make the file private to its writer
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike, data: str | bytes) -> None:
    """Replace ``path``'s content with ``data`` (text as UTF-8) atomically (:func:`replacing`)."""
    with replacing(path) as tmp:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding="utf-8")
