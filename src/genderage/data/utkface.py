"""Reading UTKFace as distributed: a folder, the official ``.tar.gz`` or a Kaggle ``.zip``.

File names are ``[age]_[gender]_[race]_[datetime].jpg.chip.jpg`` with UTKFace's gender code
(0 male, 1 female); :class:`Record` stores the model's gender index (0 female, 1 male),
converted by :func:`genderage.contract.utkface_gender_to_index` only.
"""

from __future__ import annotations

import re
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..contract import utkface_gender_to_index

NAME_RE = re.compile(r"^(\d{1,3})_([01])_([0-4])_(\d{8,20})\.jpg\.chip\.jpg$")


@dataclass(frozen=True)
class Record:
    """One labelled UTKFace image. ``gender`` is the model's index (0 female, 1 male)."""

    file: str
    age: int
    gender: int
    race: int


class MalformedName(ValueError):
    """A file name does not follow UTKFace's labelling pattern."""


def parse_name(name: str) -> Record:
    """Parse a UTKFace file name (base name or relative path) into a :class:`Record`.

    Raises:
        MalformedName: the name does not match ``age_gender_race_datetime.jpg.chip.jpg``
            or the age is outside 0..120.
    """
    base = PurePosixPath(name).name
    m = NAME_RE.match(base)
    if not m:
        raise MalformedName(f"{name}: name does not match age_gender_race_datetime.jpg.chip.jpg")
    age, utk_gender, race = int(m[1]), int(m[2]), int(m[3])
    if age > 120:
        raise MalformedName(f"{name}: implausible age {age}")
    return Record(file=name, age=age, gender=utkface_gender_to_index(utk_gender), race=race)


@dataclass(frozen=True)
class Entry:
    """A file inside a dataset source; ``read()`` returns its bytes."""

    name: str
    read: Callable[[], bytes]


def iter_entries(source: str | Path) -> Iterator[Entry]:
    """Yield every regular file of a folder (recursively), ``.tar(.gz)`` or ``.zip``.

    Names are POSIX paths relative to the folder / archive root (``./`` dropped), sorted as
    strings, so a folder and an archive of the same files give the same sequence.
    Archives are read in place, never unpacked to disk.
    """
    source = Path(source)
    if source.is_dir():
        files = {p.relative_to(source).as_posix(): p for p in source.rglob("*") if p.is_file()}
        for name in sorted(files):
            yield Entry(name, files[name].read_bytes)
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as zf:
            for info in sorted(zf.infolist(), key=lambda i: _archive_name(i.filename)):
                if not info.is_dir():
                    yield Entry(_archive_name(info.filename), lambda info=info: zf.read(info))
    elif source.is_file() and tarfile.is_tarfile(source):
        # Read sequentially (random access into a .tar.gz re-decompresses from the start),
        # then sort: tar keeps the packing tool's order, which must not change the scan.
        with tarfile.open(source, "r:*") as tf:
            members = [(_archive_name(m.name), tf.extractfile(m).read()) for m in tf if m.isfile()]
        for name, data in sorted(members, key=lambda item: item[0]):
            yield Entry(name, lambda data=data: data)
    elif not source.exists():
        raise FileNotFoundError(f"{source}: no such file or folder")
    else:
        raise ValueError(f"{source}: not a folder, .tar(.gz) or .zip archive")


def _archive_name(name: str) -> str:
    """An archive member's name as the folder scan would give it (``./a.jpg`` -> ``a.jpg``)."""
    return PurePosixPath(name).as_posix()


def is_hidden(name: str) -> bool:
    """True for OS metadata files (``.DS_Store``, ``__MACOSX/``...) that are not data."""
    parts = PurePosixPath(name).parts
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)
