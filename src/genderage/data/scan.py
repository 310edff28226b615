"""One pass over a dataset source: labels, content hashes and perceptual hashes, and defects."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..imageio import ImageDecodeError, decode_image
from .utkface import MalformedName, Record, is_hidden, iter_entries, parse_name

THUMB_SIZE = 32


@dataclass(frozen=True)
class Defect:
    """A file that was skipped, and why. ``kind`` is ``malformed_name`` or ``unreadable``."""

    file: str
    kind: str
    message: str


@dataclass
class Scan:
    """Everything later steps need from the raw files, index-aligned with ``records``."""

    source: str
    total_files: int
    records: list[Record]
    sha256: list[str]
    phash: np.ndarray  # uint64 [N], 64-bit DCT perceptual hash of the decoded image
    dhash: np.ndarray  # uint64 [N], 64-bit gradient hash, a second opinion for near duplicates
    thumbs: np.ndarray  # uint8 [N, 32, 32], grayscale thumbnails for verifying near duplicates
    defects: list[Defect] = field(default_factory=list)


def _bits_to_uint64(bits: np.ndarray) -> np.uint64:
    return np.uint64(int("".join("1" if b else "0" for b in bits.flatten()), 2))


def image_fingerprints(rgb: np.ndarray) -> tuple[np.uint64, np.uint64, np.ndarray]:
    """64-bit perceptual (DCT) and difference hashes, and a 32x32 grayscale thumbnail."""
    import imagehash
    from PIL import Image

    img = Image.fromarray(rgb)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    thumb = cv2.resize(gray, (THUMB_SIZE, THUMB_SIZE), interpolation=cv2.INTER_AREA)
    return (_bits_to_uint64(imagehash.phash(img).hash),
            _bits_to_uint64(imagehash.dhash(img).hash), thumb)


def _process(item: tuple[str, bytes]):
    name, data = item
    try:
        record = parse_name(name)
    except MalformedName as exc:
        return name, Defect(name, "malformed_name", str(exc))
    try:
        rgb = decode_image(data, name)
    except ImageDecodeError as exc:
        return name, Defect(name, "unreadable", str(exc))
    return name, (record, hashlib.sha256(data).hexdigest(), *image_fingerprints(rgb))


def _items(source: str | Path) -> Iterable[tuple[str, bytes]]:
    for entry in iter_entries(source):
        if not is_hidden(entry.name):
            yield entry.name, entry.read()


def scan(source: str | Path, workers: int | None = None, progress: bool = False) -> Scan:
    """Read every file of ``source`` once; parse labels, hash contents, list defects.

    Malformed names and unreadable/non-image files are skipped and recorded in
    ``Scan.defects``; they never raise. ``progress`` shows a count of files read on stderr.
    """
    from tqdm import tqdm

    import imagehash  # noqa: F401 - the workers need it: fail here, before reading anything

    records, shas, phashes, dhashes, thumbs, defects = [], [], [], [], [], []
    total = 0
    with ProcessPoolExecutor(max_workers=workers) as pool, \
            tqdm(desc="reading", unit=" files", disable=not progress) as bar:
        for name, result in pool.map(_process, _items(source), chunksize=64):
            total += 1
            bar.update()
            if isinstance(result, Defect):
                defects.append(result)
                continue
            record, sha, ph, dh, thumb = result
            thumbs.append(thumb)
            records.append(record)
            shas.append(sha)
            phashes.append(ph)
            dhashes.append(dh)
    return Scan(str(source), total, records, shas, np.array(phashes, dtype=np.uint64),
                np.array(dhashes, dtype=np.uint64),
                np.array(thumbs, dtype=np.uint8).reshape(-1, THUMB_SIZE, THUMB_SIZE), defects)
