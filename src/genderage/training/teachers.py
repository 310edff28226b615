"""Soft targets from an ensemble of exported models (knowledge distillation).

Each teacher is a genderage ONNX file. Every training face is run through every teacher once,
on the clean face (before augmentation), and the ensemble's answer is the mean over teachers
of P(gender) (softmax of the raw logits, no temperature) and of the age distribution. The
result is cached beside the face cache, keyed by the teachers' bytes and the faces' bytes, so
a resumed run reads it back instead of recomputing.

The student then learns from ``(1 - teacher_weight) * labels + teacher_weight * ensemble``
(:func:`genderage.training.objectives.compute_loss`).

With ``teacher_views="augmented"`` the teachers instead answer the very batch the student
sees, after augmentation, at every step (:class:`OnlineTeachers`): "consistent teaching"
(Beyer et al. 2022, "Knowledge distillation: A good teacher is patient and consistent"), so the
soft target always describes the pixels the student is shown (a re-crop, a darkened face),
not the clean face they came from.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from ..contract import DEFAULT_PREPROCESSING
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
    from ..preprocess import to_input

    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / f"teachers_{_digest(paths, faces)}.npz"
        if cache_file.is_file():
            with np.load(cache_file) as z:
                return z["gender"], z["age"]
    gender = np.zeros((len(faces), 2), np.float64)
    age = np.zeros((len(faces), AGE_BINS), np.float64)
    for model in open_teachers(paths, threads):
        for start in range(0, len(faces), batch_size):
            g, a = _answers(model, to_input(faces[start:start + batch_size], model.preprocessing))
            gender[start:start + batch_size] += g
            age[start:start + batch_size] += a
        log.info("teacher %s: %d faces", model.path, len(faces))
    gender, age = (gender / len(paths)).astype(np.float32), (age / len(paths)).astype(np.float32)
    if cache_file is not None:
        with replacing(cache_file) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, gender=gender, age=age)
    return gender, age


def open_teachers(paths: list[str], threads: int = 0) -> list:
    """The teachers as :class:`~genderage.attribute.AttributeModel` (ValueError: one without
    the age-distribution output)."""
    from ..attribute import AttributeModel
    from ..onnx_runtime import RuntimeOptions

    models = [AttributeModel(path, RuntimeOptions(threads=threads or None)) for path in paths]
    for model in models:
        if not model.has_age_probs:
            raise ValueError(f"{model.path}: a teacher needs the age_probs output")
    return models


def _answers(model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One teacher's float64 P(gender) (softmax of its raw logits) and age distribution for a
    float32 ``[N, 3, S, S]`` model input."""
    from ..attribute import softmax

    out = model.run(x)
    return softmax(out["output"][:, :2].astype(np.float64)), out["age_probs"].astype(np.float64)


class OnlineTeachers:
    """The teachers' mean answer for the student's own (augmented) input, step by step.

    ``teachers(x)`` takes the float32 ``[N, 3, S, S]`` batch the student is fed (values in
    [0, 1], the contract's input, so the teachers see exactly its pixels; each teacher must be
    made for the training's preprocessing, the default one) and returns float32
    ``P(female), P(male)`` ``[N, 2]`` and the mean age distribution ``[N, 121]``, as
    :func:`ensemble_targets` does for clean faces.
    """

    def __init__(self, paths: list[str], threads: int = 0):
        spec = DEFAULT_PREPROCESSING  # the student's input: training uses the default
        self.models = open_teachers(paths, threads)
        for model in self.models:
            if model.preprocessing != spec:
                raise ValueError(f"{model.path}: made for the preprocessing "
                                 f"{model.preprocessing.to_json()}, the student is fed "
                                 f"{spec.to_json()}; such a teacher can only answer clean "
                                 f"faces (teacher_views='clean')")

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.ascontiguousarray(x, np.float32)
        gender = np.zeros((len(x), 2), np.float64)
        age = np.zeros((len(x), AGE_BINS), np.float64)
        for model in self.models:
            g, a = _answers(model, x)
            gender += g
            age += a
        n = len(self.models)
        return (gender / n).astype(np.float32), (age / n).astype(np.float32)
