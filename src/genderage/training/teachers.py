"""Soft targets from an ensemble of exported models (knowledge distillation).

Each teacher is a genderage ONNX file. Every training face is run through every teacher once,
on the clean face (before augmentation), and the ensemble's answer is the mean over teachers
of P(gender) (softmax of the raw logits, no temperature) and of the age distribution. The
result is cached beside the face cache, keyed by the teachers' bytes and the faces' bytes, so
a resumed run reads it back instead of recomputing.

The student then learns from ``(1 - teacher_weight) * labels + teacher_weight * ensemble``
(:func:`genderage.training.objectives.compute_loss`).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from ..outputs import replacing
from .config import AGE_BINS

log = logging.getLogger(__name__)


def _digest(paths: list[str], faces: np.ndarray) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
    h.update(np.ascontiguousarray(faces).data)
    return h.hexdigest()[:16]


def ensemble_targets(paths: list[str], faces: np.ndarray, cache_dir: str | Path | None = None,
                     batch_size: int = 256, threads: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The teachers' mean ``P(female), P(male)`` (float32 ``[N, 2]``) and mean age
    distribution over ages 0..120 (float32 ``[N, 121]``) for uint8 ``[N, S, S, 3]`` RGB faces.

    Raises:
        ValueError: a teacher without the age-distribution output.
    """
    from ..attribute import AttributeModel, softmax
    from ..onnx_runtime import RuntimeOptions
    from ..preprocess import to_input

    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / f"teachers_{_digest(paths, faces)}.npz"
        if cache_file.is_file():
            with np.load(cache_file) as z:
                return z["gender"], z["age"]
    gender = np.zeros((len(faces), 2), np.float64)
    age = np.zeros((len(faces), AGE_BINS), np.float64)
    for path in paths:
        model = AttributeModel(path, RuntimeOptions(threads=threads or None))
        if not model.has_age_probs:
            raise ValueError(f"{path}: a teacher needs the age_probs output")
        for start in range(0, len(faces), batch_size):
            out = model.run(to_input(faces[start:start + batch_size], model.preprocessing))
            gender[start:start + batch_size] += softmax(out["output"][:, :2].astype(np.float64))
            age[start:start + batch_size] += out["age_probs"]
        log.info("teacher %s: %d faces", path, len(faces))
    gender, age = (gender / len(paths)).astype(np.float32), (age / len(paths)).astype(np.float32)
    if cache_file is not None:
        with replacing(cache_file) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, gender=gender, age=age)
    return gender, age
