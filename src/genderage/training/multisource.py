"""The faces of a multi-source manifest as one :class:`FaceSet`, for training and validation.

UTKFace rows are their chips and, with re-crops on, their pipeline re-crops
(:func:`.faceset.load_faceset`). AAF rows are loose photos: each is its pipeline crop
(largest detected face, aligned), which then serves as both face and re-crop; an AAF image
without a detected face is left out (logged). Every face's source is in
``FaceSet.extra["source"]``.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from ..outputs import replacing
from ..data.split import DEFAULT_SOURCE, UNKNOWN_RACE, ManifestRow
from .faceset import FaceSet, load_faceset

log = logging.getLogger(__name__)


def _aaf_faces(root: Path, rows: list[ManifestRow], cache_dir, detector
               ) -> tuple[np.ndarray, np.ndarray]:
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
    from ..detect.registry import detector_fingerprint

    h = hashlib.sha256(f"{root.resolve()}|{detector_fingerprint(detector)}".encode()
                       + "\0".join(files).encode())
    cache_file = Path(cache_dir) / f"aaf_faces_{h.hexdigest()[:16]}.npy" if cache_dir else None
    if cache_file is not None and cache_file.is_file():
        return np.load(cache_file), found[idx]
    (faces,) = load_crops(root, files, landmarks[idx], found[idx], sizes=(112,))
    if cache_file is not None:
        with replacing(cache_file) as tmp:
            np.save(tmp, faces)
    return faces, found[idx]


def _aaf_faceset(root: Path, rows: list[ManifestRow], cache_dir, recrop: bool,
                 detector) -> FaceSet:
    faces, found = _aaf_faces(root, rows, cache_dir, detector)
    if not found.all():
        log.info("%s: no face detected in %d of %d images; left out", root, (~found).sum(),
                 len(rows))
    keep = np.flatnonzero(found)
    rows, faces = [rows[i] for i in keep], faces[keep]
    return FaceSet(faces, np.array([r.gender for r in rows], np.int64),
                   np.array([r.age for r in rows], np.float32),
                   np.full(len(rows), UNKNOWN_RACE, np.int64),
                   faces if recrop else None, np.ones(len(rows), bool) if recrop else None)


def concat(sets: list[FaceSet]) -> FaceSet:
    """The faces of ``sets`` one after the other (every set with the same arrays)."""
    def cat(name):
        arrays = [getattr(s, name) for s in sets]
        return None if arrays[0] is None else np.concatenate(arrays)

    return FaceSet(cat("faces"), cat("gender"), cat("age"), cat("race"), cat("recrops"),
                   cat("recrop_found"),
                   {k: np.concatenate([s.extra[k] for s in sets]) for k in sets[0].extra})


def load_sources(rows: list[ManifestRow], roots: dict[str, Path], cache_dir, recrop: bool,
                 detector: str | None = None) -> FaceSet:
    """The faces of ``rows`` (any mix of sources), sources concatenated in ``roots`` order;
    ``extra["source"]`` names each face's source."""
    parts = []
    for source, root in roots.items():
        part = [r for r in rows if r.source == source]
        if not part:
            continue
        fs = load_faceset(root, part, cache_dir, recrop, detector) if source == DEFAULT_SOURCE \
            else _aaf_faceset(Path(root), part, cache_dir, recrop, detector)
        fs.extra["source"] = np.array([source] * len(fs))
        parts.append(fs)
    if not parts:
        raise ValueError("no rows to load")
    return concat(parts)
