"""One split's faces and everything known about each face, as row-aligned arrays."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from ..data.split import ManifestRow
from .cache import load_faces

log = logging.getLogger(__name__)


@dataclass
class FaceSet:
    """Faces and their labels; row ``i`` of every array is face ``i``.

    Attributes:
        faces: uint8 ``[N, 112, 112, 3]`` RGB model inputs (the chips, resized).
        gender: int64 ``[N]`` model gender indices (0 female, 1 male).
        age: float32 ``[N]`` ages in years.
        race: int64 ``[N]`` UTKFace race indices.
        recrops: uint8 ``[N, 112, 112, 3]`` pipeline re-crops of the faces, or None.
        recrop_found: bool ``[N]``: the pipeline found the face (else its re-crop is zeros).
        extra: further per-face arrays by name (e.g. a data source).
    """

    faces: np.ndarray
    gender: np.ndarray
    age: np.ndarray
    race: np.ndarray
    recrops: np.ndarray | None = None
    recrop_found: np.ndarray | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self):
        lengths = {name: len(a) for name, a in self._arrays().items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"per-face arrays differ in length: {lengths}")

    def __len__(self) -> int:
        return len(self.faces)

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        arrays.update({f"extra.{k}": v for k, v in self.extra.items()})
        return {k: v for k, v in arrays.items() if v is not None}

    def take(self, idx) -> FaceSet:
        """The faces at ``idx`` (indices, a mask or a slice), every array alike."""
        return replace(self, **{f.name: getattr(self, f.name)[idx] for f in fields(self)
                                if f.name != "extra" and getattr(self, f.name) is not None},
                       extra={k: v[idx] for k, v in self.extra.items()})

    def recropped(self) -> FaceSet | None:
        """The faces whose pipeline re-crop was found, with the re-crops as faces (None when
        there are none)."""
        if self.recrop_found is None or not self.recrop_found.any():
            return None
        found = self.take(self.recrop_found)
        return replace(found, faces=found.recrops, recrops=None, recrop_found=None)


def load_faceset(data_dir: str | Path, rows: list[ManifestRow], cache_dir: str | Path | None,
                 recrops: bool = False, recrop_detector: str | None = None) -> FaceSet:
    """The faces of manifest ``rows`` (cached, see :mod:`.cache`), with their pipeline
    re-crops when ``recrops`` (see :mod:`.recrop`)."""
    crops = found = None
    if recrops:
        from .recrop import load_recrops
        crops, found = load_recrops(data_dir, [r.file for r in rows], cache_dir, recrop_detector)
        log.info("pipeline re-crops: %d of %d faces found", found.sum(), len(rows))
    return FaceSet(load_faces(data_dir, rows, cache_dir),
                   np.array([r.gender for r in rows], np.int64),
                   np.array([r.age for r in rows], np.float32),
                   np.array([r.race for r in rows], np.int64), crops, found)
