"""All-Age-Faces (AAF): labels, and the pipeline's landmarks and crops of its loose face crops.

AAF's images are loose crops around one face, not aligned chips. Training sees each of them
as a user's photo would be seen: the default detector's largest face, aligned by
:func:`genderage.align.align_face`. The detection is run once per image and its landmarks
are cached (``aaf_landmarks_*.npz`` in the cache folder); the 112x112 crop, the 200x200
chip used for duplicate search and the teacher's chips are all cut from those landmarks.
"""

from __future__ import annotations

import csv
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..contract import gender_index
from ..imageio import ImageDecodeError, read_image
from ..outputs import replacing
from .detect_pool import default_workers, detection_cache_file, map_with_detector

log = logging.getLogger(__name__)

LABELS_FILE = "labels.csv"


@dataclass(frozen=True)
class AAFRecord:
    """One labelled photo: a row of AAF's ``labels.csv`` or of any ``file,age,gender`` CSV.
    ``gender`` is the model's index (0 female, 1 male)."""

    file: str
    age: int
    gender: int


def read_labels(root: str | Path) -> list[AAFRecord]:
    """``labels.csv`` of an AAF folder (:func:`read_labels_file`)."""
    return read_labels_file(Path(root) / LABELS_FILE)


def read_labels_file(path: str | Path) -> list[AAFRecord]:
    """The rows of a ``file,age,gender`` CSV (``file`` relative to the photo folder, age in
    whole years, gender spelled ``female`` / ``male``), in file order.

    Raises:
        FileNotFoundError: there is no such file.
        ValueError: a row whose age or gender cannot be read, naming the file and the line.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no labels file (expected file,age,gender)")
    out = []
    with path.open(newline="") as f:
        for line, d in enumerate(csv.DictReader(f), start=2):
            try:
                out.append(AAFRecord(d["file"], int(d["age"]), gender_index(d["gender"])))
            except (KeyError, ValueError) as exc:
                raise ValueError(f"{path}, line {line}: {exc}") from exc
    return out


def largest_face(detections):
    """The detection with the largest box (None if there is none)."""
    best, best_area = None, -1.0
    for det in detections:
        x1, y1, x2, y2 = (float(v) for v in det.bbox)
        if (x2 - x1) * (y2 - y1) > best_area:
            best, best_area = det, (x2 - x1) * (y2 - y1)
    return best


def _detect_file(path: str, detector) -> np.ndarray | None:
    try:
        rgb = read_image(path)
    except ImageDecodeError:
        return None
    det = largest_face(detector.detect(rgb))
    return None if det is None else np.asarray(det.landmarks, np.float32)


def load_landmarks(root: str | Path, files: list[str], cache_dir: str | Path | None,
                   detector_spec: str | None = None,
                   workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks of the largest detected face of each file, cached.

    Returns:
        float32 ``[N, 5, 2]`` landmarks in image pixels (zeros where no face was found) and
        a bool ``[N]`` mask of the files with a face.
    """
    cache_file = detection_cache_file(cache_dir, "aaf_landmarks", root, detector_spec, files)
    if cache_file is not None:
        if cache_file.is_file():
            with np.load(cache_file) as z:
                return z["landmarks"], z["found"]
    landmarks = np.zeros((len(files), 5, 2), np.float32)
    found = np.zeros(len(files), bool)
    paths = [str(Path(root) / f) for f in files]
    results = map_with_detector(_detect_file, paths, detector_spec,
                                workers or default_workers(2), chunksize=16)
    for i, lm in enumerate(results):
        if lm is not None:
            landmarks[i], found[i] = lm, True
    log.info("found a face in %d of %d AAF images", found.sum(), len(files))
    if cache_file is not None:
        with replacing(cache_file) as tmp:
            np.savez(tmp, landmarks=landmarks, found=found)
    return landmarks, found


def _crops(args: tuple[str, np.ndarray, bool, tuple[int, ...]]) -> list[np.ndarray]:
    from ..align import warp_chip
    from ..preprocess import resize_face

    path, lm, ok, sizes = args
    rgb = read_image(path)
    out = []
    for size in sizes:
        if ok:
            out.append(resize_face(warp_chip(rgb, lm)) if size == 112 else warp_chip(rgb, lm, size))
        else:  # no face: the whole image stands in, so indices stay aligned
            import cv2
            out.append(cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA))
    return out


def load_crops(root: str | Path, files: list[str], landmarks: np.ndarray, found: np.ndarray,
               sizes: tuple[int, ...] = (112,), workers: int | None = None) -> list[np.ndarray]:
    """Aligned crops of each file from its landmarks, one uint8 ``[N, s, s, 3]`` per size.

    Size 112 is the model's crop (:func:`genderage.align.align_face`); any other size is the
    chip geometry (:func:`genderage.align.warp_chip`) at that side, e.g. 200 for duplicate
    search or the teacher's 32 and 64. Files without a face get the whole image resized.
    """
    args = [(str(Path(root) / f), landmarks[i], bool(found[i]), sizes)
            for i, f in enumerate(files)]
    out = [np.zeros((len(files), s, s, 3), np.uint8) for s in sizes]
    with ProcessPoolExecutor(max_workers=workers or min(2, os.cpu_count() or 1)) as pool:
        for i, crops in enumerate(pool.map(_crops, args, chunksize=32)):
            for k, c in enumerate(crops):
                out[k][i] = c
    return out
