"""Turning command-line paths into the image files to analyse, and saying what was skipped.

Used by ``genderage predict`` (and meant for every command that takes files or folders):
files named explicitly are always tried, whatever their extension; folders are walked
recursively for files with an extension the decoder reads, and every other entry met on
the way is reported with the reason it was left out, never dropped silently.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from functools import lru_cache

NOT_DECODED_FORMATS = frozenset({"BUFR", "EPS", "GRIB", "HDF5", "IPTC", "MPEG", "WMF"})
"""Pillow formats that it recognises but cannot decode by itself (stubs that need an
external handler, Ghostscript, Windows, or carry no image)."""


@lru_cache(maxsize=1)
def image_extensions() -> frozenset[str]:
    """Lower-case extensions (``".jpg"``, ``".avif"``, ...) of every format the decoder reads."""
    from PIL import Image

    Image.init()
    return frozenset(ext for ext, fmt in Image.registered_extensions().items()
                     if fmt in Image.OPEN and fmt not in NOT_DECODED_FORMATS)


@dataclass(frozen=True)
class Skipped:
    """An entry met while walking a folder and left out, with the reason."""

    path: str
    reason: str


@dataclass
class Inputs:
    """What :func:`collect_inputs` found: files to analyse, in order, and what it skipped."""

    files: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def skipped_summary(self) -> str:
        """One line: ``"skipped 3 entries: 2 not an image file, 1 dangling link"``."""
        counts: dict[str, int] = {}
        for s in self.skipped:
            key = s.reason.split(" (")[0]
            counts[key] = counts.get(key, 0) + 1
        parts = ", ".join(f"{n} {reason}" for reason, n in
                          sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        return f"skipped {len(self.skipped)} entr{'y' if len(self.skipped) == 1 else 'ies'}: {parts}"


def collect_inputs(paths: list[str], extensions: frozenset[str] | None = None,
                   kind: str = "an image") -> Inputs:
    """Files as given, folders replaced by their image files (recursive, sorted by path).

    ``extensions`` (lower case, with the dot) replaces the decoder's image extensions, and
    ``kind`` names what the others are not (``"a video"`` for ``genderage video``).

    Folders are walked without following symbolic links to folders (no loops); links to
    files are followed. Entries left out: files whose extension the decoder does not read,
    dangling links, FIFOs, sockets and devices, links to folders, and folders that cannot
    be listed (no permission, a path too long for the system). A missing or unreadable
    path named explicitly is kept as a file, so that it gets its own error when read.
    """
    found = Inputs()
    for raw in paths:
        if os.path.isdir(raw):
            _walk(raw, found, extensions or image_extensions(), kind)
        else:
            found.files.append(raw)
    return found


def _walk(top: str, found: Inputs, extensions: frozenset[str], kind: str) -> None:
    def unlistable(exc: OSError) -> None:
        found.skipped.append(Skipped(exc.filename or top,
                                     f"folder not readable ({exc.strerror or exc})"))

    files = []
    for folder, dirs, names in os.walk(top, onerror=unlistable):
        for d in list(dirs):
            if os.path.islink(os.path.join(folder, d)):
                dirs.remove(d)
                found.skipped.append(Skipped(os.path.join(folder, d),
                                             "link to a folder (not followed)"))
        dirs.sort()
        for name in names:
            path = os.path.join(folder, name)
            reason = _file_problem(path)
            if reason is None and os.path.splitext(name)[1].lower() not in extensions:
                reason = f"not {kind} file (extension)"
            if reason is None:
                files.append(path)
            else:
                found.skipped.append(Skipped(path, reason))
    found.files.extend(sorted(files))


def _file_problem(path: str) -> str | None:
    """Why ``path`` (met in a folder) cannot be an image file, or ``None``."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "dangling link" if os.path.islink(path) else "vanished"
    except OSError as exc:
        return f"not readable ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "not a regular file (a FIFO)"
    if stat.S_ISSOCK(mode):
        return "not a regular file (a socket)"
    return "not a regular file (a device)"
