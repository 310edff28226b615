"""Decode a manifest's images once into a uint8 array cache (``[N,112,112,3]`` RGB).

The cache holds exactly what :func:`genderage.preprocess.resize_face` makes of each chip,
the same function the inference pipeline applies to its aligned crops.
"""

from __future__ import annotations

import hashlib
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ..contract import INPUT_SIZE
from ..data.split import ManifestRow
from ..imageio import read_image
from ..outputs import replacing
from ..preprocess import resize_face

log = logging.getLogger(__name__)


def _load(path: str) -> np.ndarray:
    return resize_face(read_image(path))


def cache_key(data_dir: str | Path, rows: list[ManifestRow]) -> str:
    h = hashlib.sha256(str(Path(data_dir).resolve()).encode())
    for r in rows:
        h.update(r.file.encode() + b"\0")
    return h.hexdigest()[:16]


def load_faces(data_dir: str | Path, rows: list[ManifestRow], cache_dir: str | Path | None,
               workers: int | None = None) -> np.ndarray:
    """uint8 ``[len(rows), 112, 112, 3]`` faces for ``rows``, from the cache when present."""
    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / f"faces_{cache_key(data_dir, rows)}.npy"
        if cache_file.is_file():
            arr = np.load(cache_file, mmap_mode="r")
            if arr.shape == (len(rows), INPUT_SIZE, INPUT_SIZE, 3):
                return np.ascontiguousarray(arr)
    paths = [str(Path(data_dir) / r.file) for r in rows]
    with ProcessPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1)) as pool:
        faces = np.stack(list(pool.map(_load, paths, chunksize=64))) if paths else \
            np.zeros((0, INPUT_SIZE, INPUT_SIZE, 3), np.uint8)
    if cache_file is not None:
        with replacing(cache_file) as tmp:
            np.save(tmp, faces)
        log.info("cached %d faces in %s", len(faces), cache_file)
    return faces
