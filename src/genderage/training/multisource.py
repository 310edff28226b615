"""The faces of a multi-source manifest as arrays, for training and validation.

UTKFace rows are their chips (``training.cache``) and, with re-crops on, their pipeline
re-crops (``data.recrop``). AAF rows are loose photos: each is its pipeline crop (largest
detected face, aligned), which then serves as both "chip" and "re-crop"; an AAF image
without a detected face is left out (logged).
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.split import DEFAULT_SOURCE, ManifestRow
from .cache import load_faces

log = logging.getLogger(__name__)


@dataclass
class FaceSet:
    """Index-aligned arrays of one split; ``recrops``/``found`` are None without re-crops."""

    rows: list[ManifestRow]
    faces: np.ndarray            # uint8 [N, 112, 112, 3]
    recrops: np.ndarray | None   # uint8 [N, 112, 112, 3]
    found: np.ndarray | None     # bool [N]: a re-crop exists
    gender: np.ndarray           # int64 [N], model index
    age: np.ndarray              # float32 [N], years
    source: np.ndarray           # str [N]

    def subset(self, mask: np.ndarray) -> FaceSet:
        idx = np.flatnonzero(mask)
        return FaceSet([self.rows[i] for i in idx], self.faces[idx],
                       None if self.recrops is None else self.recrops[idx],
                       None if self.found is None else self.found[idx],
                       self.gender[idx], self.age[idx], self.source[idx])


def _aaf_faces(root: Path, rows: list[ManifestRow], cache_dir, detector) -> tuple[np.ndarray, np.ndarray]:
    from ..data.aaf import load_crops, load_landmarks, read_labels

    every = [r.file for r in read_labels(root)]  # one landmark cache for the whole source
    position = {f: i for i, f in enumerate(every)}
    missing = [r.file for r in rows if r.file not in position]
    if missing:
        raise ValueError(f"{root}: {len(missing)} manifest files are not in labels.csv: "
                         + ", ".join(missing[:5]))
    landmarks, found = load_landmarks(root, every, cache_dir, detector)
    idx = np.array([position[r.file] for r in rows], int)
    files = [r.file for r in rows]
    h = hashlib.sha256(f"{root.resolve()}|{detector}".encode() + "\0".join(files).encode())
    cache_file = Path(cache_dir) / f"aaf_faces_{h.hexdigest()[:16]}.npy" if cache_dir else None
    if cache_file is not None and cache_file.is_file():
        return np.load(cache_file), found[idx]
    (faces,) = load_crops(root, files, landmarks[idx], found[idx], sizes=(112,))
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache_file.with_suffix(".tmp.npy"), faces)
        os.replace(cache_file.with_suffix(".tmp.npy"), cache_file)
    return faces, found[idx]


def load_faceset(rows: list[ManifestRow], roots: dict[str, Path], cache_dir, recrop: bool,
                 detector: str | None = None) -> FaceSet:
    """The faces of ``rows`` (any mix of sources), sources concatenated in ``roots`` order."""
    parts = []
    for source, root in roots.items():
        part = [r for r in rows if r.source == source]
        if not part:
            continue
        if source == DEFAULT_SOURCE:
            faces = load_faces(root, part, cache_dir)
            rx = found = None
            if recrop:
                from ..data.recrop import load_recrops
                rx, found = load_recrops(root, [r.file for r in part], cache_dir, detector)
        else:
            faces, found = _aaf_faces(Path(root), part, cache_dir, detector)
            if not found.all():
                log.info("%s: no face detected in %d of %d images; left out", source,
                         (~found).sum(), len(part))
            keep = np.flatnonzero(found)
            part, faces, found = [part[i] for i in keep], faces[keep], found[keep]
            rx = faces if recrop else None
            found = found if recrop else None
        parts.append(FaceSet(part, faces, rx, found,
                             np.array([r.gender for r in part], np.int64),
                             np.array([r.age for r in part], np.float32),
                             np.array([source] * len(part))))
    if not parts:
        raise ValueError("no rows to load")
    recrops = None if parts[0].recrops is None else np.concatenate([p.recrops for p in parts])
    return FaceSet([r for p in parts for r in p.rows], np.concatenate([p.faces for p in parts]),
                   recrops,
                   None if recrops is None else np.concatenate([p.found for p in parts]),
                   np.concatenate([p.gender for p in parts]), np.concatenate([p.age for p in parts]),
                   np.concatenate([p.source for p in parts]))
