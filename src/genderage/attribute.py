"""The gender/age attribute model: one ONNX Runtime session, batched prediction.

The preprocessing contract (:class:`~genderage.contract.Preprocessing`) and the
:class:`Calibration` (gender temperature, optionally per band of estimated age, and age
interval) travel inside the ONNX file as ``metadata_props``; they are read back here, never
guessed. Files written before the preprocessing was stored get its defaults, which are theirs.

Every caller that needs the model goes through :class:`AttributeModel`: its
:meth:`~AttributeModel.predict` returns the calibrated answers together with the raw outputs
they came from (``AttributeBatch.logits``, ``age_probs``), and whoever combines raw outputs
(the video's per-track average) decodes them with the model's :attr:`~AttributeModel.calibration`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .contract import AGE_SCALE, META_PREPROCESSING, Preprocessing
from .onnx_runtime import RuntimeOptions
from .preprocess import to_input

log = logging.getLogger(__name__)

META_CONTRACT = "genderage.contract"
META_TEMPERATURE = "genderage.gender_temperature"
META_AGE_INTERVAL = "genderage.age_interval"
META_GENDER_BY_AGE = "genderage.gender_calibration_by_age"
MAX_AGE = 120.0


@dataclass(frozen=True)
class AttributeBatch:
    """Predictions for N faces, as arrays.

    Attributes:
        gender_probs: float32 ``[N, 2]``, calibrated P(female), P(male).
        age: float32 ``[N]``, years.
        age_interval: float32 ``[N, 2]``, [low, high] years at ``interval_coverage``.
        interval_coverage: nominal coverage of ``age_interval`` (e.g. 0.8).
        age_probs: float32 ``[N, K]``, the model's distribution over integer ages 0..K-1
            (its ``age_probs`` output), or ``None`` when the model has none.
        logits: ``[N, 3]``, the raw first output these were decoded from,
            ``[logit_female, logit_male, age / 100]`` (float32 from the model).
    """

    gender_probs: np.ndarray
    age: np.ndarray
    age_interval: np.ndarray
    interval_coverage: float
    age_probs: np.ndarray | None = None
    logits: np.ndarray | None = None


DEFAULT_COVERAGE = 0.8


@dataclass(frozen=True)
class Calibration:
    """How raw outputs become calibrated answers; stored in the model file beside its weights.

    Attributes:
        temperature: divides the gender logits before the softmax.
        age_interval: calibrated interval spec (:func:`apply_interval`); without it the
            interval is the 10%-90% range of ``age_probs``, or +-25% + 2 years as a last resort.
        gender_by_age: per-band recalibration of P(female) (:func:`recalibrate_by_age`).
    """

    temperature: float = 1.0
    age_interval: dict | None = None
    gender_by_age: dict | None = None

    @classmethod
    def from_metadata(cls, meta: dict[str, str]) -> Calibration:
        """Read from an ONNX file's ``metadata_props``; absent keys give the defaults."""
        return cls(float(meta.get(META_TEMPERATURE, 1.0)),
                   json.loads(meta[META_AGE_INTERVAL]) if META_AGE_INTERVAL in meta else None,
                   json.loads(meta[META_GENDER_BY_AGE]) if META_GENDER_BY_AGE in meta else None)

    @property
    def coverage(self) -> float:
        """Nominal coverage of the age intervals :meth:`decode` gives."""
        return float(self.age_interval["coverage"]) if self.age_interval else DEFAULT_COVERAGE

    def decode(self, main: np.ndarray, age_probs: np.ndarray | None = None) -> AttributeBatch:
        """Raw model outputs -> calibrated gender probabilities, ages (years) and intervals.

        Args:
            main: ``[N, 3]`` = ``[logit_female, logit_male, age / 100]`` (kept as ``logits``).
            age_probs: optional ``[N, 121]`` distribution over integer ages.
        """
        logits = np.asarray(main)
        main = logits.astype(np.float64)
        age = np.clip(main[:, 2] * AGE_SCALE, 0.0, MAX_AGE)
        if self.gender_by_age is None:
            probs = softmax(main[:, :2] / self.temperature)
        else:
            p_female = recalibrate_by_age((main[:, 0] - main[:, 1]) / self.temperature, age,
                                          self.gender_by_age)
            probs = np.stack([p_female, 1 - p_female], axis=1)
        if self.age_interval is not None:
            lo, hi = apply_interval(age, self.age_interval)
        elif age_probs is not None:
            lo, hi = distribution_quantiles(age_probs, (0.1, 0.9))
        else:
            lo, hi = age - 0.25 * age - 2, age + 0.25 * age + 2
        lo, hi = np.minimum(lo, age), np.maximum(hi, age)
        interval = np.stack([np.clip(lo, 0, MAX_AGE), np.clip(hi, 0, MAX_AGE)], axis=1)
        return AttributeBatch(probs.astype(np.float32), age.astype(np.float32),
                              interval.astype(np.float32), self.coverage,
                              None if age_probs is None else age_probs.astype(np.float32),
                              logits)


class AttributeModel:
    """Wraps a genderage ONNX file (``input`` -> ``output`` [N,3], optional ``age_probs``).

    Args:
        path: the ONNX file.
        runtime: onnxruntime threads and providers (default: onnxruntime's threads, one per
            core, on the CPU); the analyzer gives its detector the same.
        flip_tta: average every output over the face and its mirror image, run as one batch
            of 2N (the same arithmetic as ``genderage export --flip-tta`` bakes into a graph).
            Twice the model cost; measured on the shipped model: age MAE 4.79 -> 4.71 years
            on UTKFace validation, 5.52 -> 5.45 on the AAF dev fold (MODEL_CARD.md).

    Attributes:
        preprocessing: how a face becomes this model's input (read from the file).
        calibration: how its raw outputs become answers (read from the file).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: not a loadable ONNX model (:class:`~genderage.onnx_runtime.ModelLoadError`),
            or not one with genderage's input.
    """

    def __init__(self, path: str | Path, runtime: RuntimeOptions | None = None,
                 flip_tta: bool = False):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: model file not found")
        self.session = (runtime or RuntimeOptions()).session(self.path)
        meta = self.session.get_modelmeta().custom_metadata_map
        self.metadata = dict(meta)
        self.preprocessing = Preprocessing.from_json(meta.get(META_PREPROCESSING))
        size = self.preprocessing.input_size
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or list(inputs[0].shape[1:]) != [3, size, size]:
            raise ValueError(f"{self.path}: expected one input [N,3,{size},{size}], "
                             f"got {[(i.name, i.shape) for i in inputs]}")
        self.input_name = inputs[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.contract = json.loads(meta[META_CONTRACT]) if META_CONTRACT in meta else {}
        self.calibration = Calibration.from_metadata(meta)
        self.has_age_probs = "age_probs" in self.output_names
        if flip_tta and self.contract.get("flip_tta"):
            raise ValueError(f"{self.path}: mirror TTA is already inside this model's graph")
        self.flip_tta = flip_tta

    # The calibration's parts by their old names, for callers that read or replace one.
    @property
    def temperature(self) -> float:
        return self.calibration.temperature

    @temperature.setter
    def temperature(self, value: float) -> None:
        self.calibration = replace(self.calibration, temperature=value)

    @property
    def age_interval(self) -> dict | None:
        return self.calibration.age_interval

    @age_interval.setter
    def age_interval(self, value: dict | None) -> None:
        self.calibration = replace(self.calibration, age_interval=value)

    @property
    def gender_by_age(self) -> dict | None:
        return self.calibration.gender_by_age

    @gender_by_age.setter
    def gender_by_age(self, value: dict | None) -> None:
        self.calibration = replace(self.calibration, gender_by_age=value)

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Raw outputs for a float32 ``[N,3,S,S]`` input (:func:`preprocess.to_input`), by name
        (averaged with the mirror image's outputs when ``flip_tta`` is on)."""
        if not self.flip_tta:
            return dict(zip(self.output_names, self.session.run(None, {self.input_name: x})))
        both = np.concatenate([x, x[:, :, :, ::-1]])
        outs = self.session.run(None, {self.input_name: both})
        n = len(x)
        return {name: 0.5 * (o[:n] + o[n:]) for name, o in zip(self.output_names, outs)}

    def predict(self, faces: np.ndarray) -> AttributeBatch:
        """Predict gender and age for aligned faces, in the model's preprocessing.

        Args:
            faces: uint8 ``[N, S, S, 3]`` RGB faces at the model's input size ``S`` (112 for
                the shipped model; :func:`align.align_face` with :attr:`preprocessing`).

        Returns:
            The calibrated answers, with the raw outputs they were decoded from
            (``logits``, ``age_probs``) for callers that combine several faces' outputs
            before decoding them with :attr:`calibration`.
        """
        if len(faces) == 0:
            empty = np.zeros((0,), np.float32)
            age_probs = np.zeros((0, self._age_bins()), np.float32) if self.has_age_probs \
                else None
            return AttributeBatch(np.zeros((0, 2), np.float32), empty,
                                  np.zeros((0, 2), np.float32), self.calibration.coverage,
                                  age_probs, np.zeros((0, 3), np.float32))
        out = self.run(to_input(faces, self.preprocessing))
        return self.decode(out)

    def decode(self, out: dict[str, np.ndarray]) -> AttributeBatch:
        """Turn raw outputs (:meth:`run`) into calibrated probabilities, ages and intervals."""
        return self.calibration.decode(out[self.output_names[0]], out.get("age_probs"))

    def _age_bins(self) -> int:
        width = self.session.get_outputs()[self.output_names.index("age_probs")].shape[1]
        return width if isinstance(width, int) else 0


def decode_outputs(main: np.ndarray, age_probs: np.ndarray | None = None,
                   temperature: float = 1.0, age_interval: dict | None = None,
                   gender_by_age: dict | None = None) -> AttributeBatch:
    """:meth:`Calibration.decode` with the calibration given by its parts."""
    return Calibration(temperature, age_interval, gender_by_age).decode(main, age_probs)


def age_band_index(age: np.ndarray, lows) -> np.ndarray:
    """Band of each (continuous) age: the last band whose low end ``lows[b]`` is <= age."""
    return np.clip(np.searchsorted(np.asarray(lows, float), np.asarray(age, float),
                                   side="right") - 1, 0, len(lows) - 1)


def recalibrate_by_age(z: np.ndarray, age: np.ndarray, spec: dict) -> np.ndarray:
    """P(female) = ``sigmoid(scale[b] * z + bias[b])``, ``b`` the band of estimated ``age``
    (``spec["lows"]``), ``z`` the log-odds of P(female) after the temperature
    (:mod:`genderage.training.gender_calibration` fits the spec)."""
    b = age_band_index(age, spec["lows"])
    t = np.asarray(spec["scale"], float)[b] * z + np.asarray(spec["bias"], float)[b]
    return 0.5 * (1 + np.tanh(0.5 * t))  # the logistic function, without overflow


def apply_interval(age: np.ndarray, spec: dict) -> tuple[np.ndarray, np.ndarray]:
    """Age interval from a calibrated spec (see :mod:`genderage.training.calibration`).

    ``spec["space"] == "log1p"``: residual quantiles in log(1 + age) space, so the interval
    widens with age, as errors do; ``"years"``: plain offsets in years.
    """
    if spec.get("space", "years") == "log1p":
        base = np.log1p(age)
        return np.expm1(base + spec["low"]), np.expm1(base + spec["high"])
    return age + spec["low"], age + spec["high"]


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def distribution_quantiles(probs: np.ndarray, qs: tuple[float, ...]) -> list[np.ndarray]:
    """Quantiles (in years) of per-row distributions over integer ages 0..K-1."""
    cdf = np.cumsum(probs, axis=1)
    return [np.argmax(cdf >= q, axis=1).astype(np.float64) for q in qs]
