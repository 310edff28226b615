"""Re-crop UTKFace chips through the inference pipeline: pad, detect, align.

A UTKFace chip is already in chip geometry, but it was cut by dlib's landmarks, not ours.
Framing it with a black border (so the detector sees a whole face) and running the
pipeline's own detector and :func:`genderage.align.align_face` gives the crop a user's
photo of that face would get. Training on these re-crops makes training and serving
crops come from the same code, detector noise included.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from ..align import align_face
from ..contract import CHIP_SIZE, INPUT_SIZE
from ..data.detect_pool import default_workers, detection_cache_file, map_with_detector
from ..imageio import ImageDecodeError, read_image
from ..outputs import replacing

log = logging.getLogger(__name__)

DEFAULT_PAD = 100  # px of border around a 200x200 chip


def pad_chip(chip: np.ndarray, pad: int = DEFAULT_PAD, mode: str = "constant") -> np.ndarray:
    """The chip framed by ``pad`` pixels of border (black, reflected or replicated)."""
    border = {"constant": cv2.BORDER_CONSTANT, "reflect": cv2.BORDER_REFLECT_101,
              "replicate": cv2.BORDER_REPLICATE}[mode]
    return cv2.copyMakeBorder(chip, pad, pad, pad, pad, border, value=(0, 0, 0))


def central_detection(detections, size: int, pad: int):
    """The detection whose box centre is nearest the chip centre (None if none is within
    a quarter of the chip side)."""
    centre = np.array([pad + size / 2, pad + size / 2])
    best, best_d = None, size / 4
    for det in detections:
        c = np.array([(det.bbox[0] + det.bbox[2]) / 2, (det.bbox[1] + det.bbox[3]) / 2])
        d = float(np.linalg.norm(c - centre))
        if d < best_d:
            best, best_d = det, d
    return best


def recrop_chip(chip: np.ndarray, detector, pad: int = DEFAULT_PAD) -> np.ndarray | None:
    """The pipeline's 112x112 crop of the chip's central face, or None if none was found."""
    padded = pad_chip(chip, pad)
    det = central_detection(detector.detect(padded), chip.shape[0], pad)
    if det is None:
        return None
    return align_face(padded, np.asarray(det.landmarks, np.float64))


def _recrop_file(path: str, detector) -> np.ndarray | None:
    try:
        chip = read_image(path)
    except ImageDecodeError:
        return None
    if chip.shape[:2] != (CHIP_SIZE, CHIP_SIZE):
        chip = cv2.resize(chip, (CHIP_SIZE, CHIP_SIZE), interpolation=cv2.INTER_AREA)
    return recrop_chip(chip, detector)


def load_recrops(data_dir: str | Path, files: list[str], cache_dir: str | Path | None,
                 detector_spec: str | None = None,
                 workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pipeline re-crops of ``files`` (relative to ``data_dir``), cached like the chips.

    Returns:
        uint8 ``[N, 112, 112, 3]`` crops (zeros where no face was found) and a bool ``[N]``
        mask of the files whose face was found.
    """
    cache_file = detection_cache_file(cache_dir, "recrops", data_dir, detector_spec, files,
                                      DEFAULT_PAD)
    if cache_file is not None:
        if cache_file.is_file():
            with np.load(cache_file) as z:
                if z["faces"].shape == (len(files), INPUT_SIZE, INPUT_SIZE, 3):
                    return z["faces"], z["found"]
    faces = np.zeros((len(files), INPUT_SIZE, INPUT_SIZE, 3), np.uint8)
    found = np.zeros(len(files), bool)
    paths = [str(Path(data_dir) / f) for f in files]
    results = map_with_detector(_recrop_file, paths, detector_spec,
                                workers or default_workers(4), chunksize=32)
    for i, crop in enumerate(results):
        if crop is not None:
            faces[i], found[i] = crop, True
    log.info("re-cropped %d of %d chips (%s)", found.sum(), len(files), detector_spec or "default")
    if cache_file is not None:
        with replacing(cache_file) as tmp:
            np.savez(tmp, faces=faces, found=found)
    return faces, found
