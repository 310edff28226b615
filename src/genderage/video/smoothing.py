"""One answer per person: quality-weighted averages of a track's per-frame model outputs.

The rule (the web page's camera mode, ``web/app.js``, applies the same one to its snapshots):

1. Each face gets a weight from its :class:`~genderage.quality.Quality`
   (:func:`quality_weight`): detector score x size x sharpness x frontality, each in [0, 1].
2. Faces flagged ``low_quality`` are left out while the track has any face that is not; a
   track made only of flagged faces is averaged over all of them (and says so).
3. Gender: the weighted mean of the logits, then the model's
   :class:`~genderage.attribute.Calibration` (the one that decodes every photo's faces).
   Age: the weighted mean of the age distributions (``age_probs``), read out by its
   expectation, with the model's calibrated interval around it.
4. The *smoothed label* shown frame by frame is the running estimate's label with
   hysteresis: it starts at the first estimate's label and changes only when the other
   label's running probability reaches :data:`SWITCH_PROBABILITY`. The track's final answer
   is the plain argmax of the average over all its frames.

Averaging logits (not probabilities) is what a longer look at the same face would do:
evidence adds up, and one confident frame does not outweigh many mildly sure ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..attribute import Calibration
from ..contract import AGE_SCALE, GENDER_LABELS
from ..quality import Quality

SWITCH_PROBABILITY = 0.7
"""Running probability the other label must reach before the smoothed label changes."""

FULL_INTER_OCULAR_PX = 44.0
"""Eye distance at which a face has full size weight: the eye distance of the model's
112x112 input, so a larger face carries no more detail than the model sees."""
FULL_BLUR = 150.0
"""Blur score with full sharpness weight: the median of UTKFace validation chips."""


def quality_weight(quality: Quality) -> float:
    """How much one face counts in a track's average, in (0, 1].

    ``det_score * min(1, inter_ocular_px / 44) * min(1, blur / 150) * cos(yaw) * cos(pitch)``,
    with each angle clipped to +-89 degrees and the product floored at 1e-6.
    """
    size = min(1.0, quality.inter_ocular_px / FULL_INTER_OCULAR_PX)
    sharp = min(1.0, quality.blur / FULL_BLUR)
    pose = (math.cos(math.radians(min(abs(quality.yaw), 89.0)))
            * math.cos(math.radians(min(abs(quality.pitch), 89.0))))
    return max(1e-6, float(quality.det_score) * size * sharp * pose)


@dataclass(frozen=True)
class Estimate:
    """A track's answer so far.

    Attributes:
        gender: ``"female"`` or ``"male"``; ``None`` ("unknown") in the video's outputs when
            the probability is below the ``min_gender_probability`` asked for.
        gender_probability: calibrated probability of that label.
        age: years.
        age_interval: ``(lo, hi)`` years at the model's nominal coverage.
        n_used: faces that went into the average.
        low_quality: every face of the track so far was flagged low quality.
    """

    gender: str | None
    gender_probability: float
    age: float
    age_interval: tuple[float, float]
    n_used: int
    low_quality: bool

    def to_dict(self) -> dict:
        return {"gender": self.gender,
                "gender_probability": round(float(self.gender_probability), 4),
                "age": round(float(self.age), 2),
                "age_interval": [round(float(v), 2) for v in self.age_interval]}


class _WeightedSum:
    def __init__(self):
        self.weight = 0.0
        self.count = 0
        self.main = np.zeros(3)
        self.age_probs: np.ndarray | None = None

    def add(self, main: np.ndarray, age_probs: np.ndarray | None, weight: float) -> None:
        self.weight += weight
        self.count += 1
        self.main += weight * np.asarray(main, np.float64)
        if age_probs is not None:
            probs = weight * np.asarray(age_probs, np.float64)
            self.age_probs = probs if self.age_probs is None else self.age_probs + probs


class TrackSmoother:
    """Accumulates one track's per-face model outputs; see the module docstring for the rule.

    Args:
        calibration: the model's (``AttributeModel.calibration``), which decodes the averages.
    """

    def __init__(self, calibration: Calibration = Calibration()):
        self.calibration = calibration
        self._good = _WeightedSum()
        self._all = _WeightedSum()
        self.label: str | None = None

    def add(self, main: np.ndarray, age_probs: np.ndarray | None, quality: Quality) -> Estimate:
        """Add one face and return the smoothed estimate (with the hysteresis label).

        Args:
            main: the face's raw ``output`` row ``[logit_female, logit_male, age / 100]``
                (``AttributeBatch.logits``).
            age_probs: its ``age_probs`` row ``[121]``, or ``None`` if the model has none.
            quality: its quality signals.
        """
        weight = quality_weight(quality)
        self._all.add(main, age_probs, weight)
        if not quality.low_quality:
            self._good.add(main, age_probs, weight)
        current = self.average()
        p_female = current.gender_probability if current.gender == "female" \
            else 1.0 - current.gender_probability
        p_label = {"female": p_female, "male": 1.0 - p_female}
        if self.label is None:
            self.label = current.gender
        elif p_label[self.label] <= 1.0 - SWITCH_PROBABILITY:
            self.label = "male" if self.label == "female" else "female"
        return Estimate(self.label, p_label[self.label], current.age, current.age_interval,
                        current.n_used, current.low_quality)

    def age_distribution(self) -> np.ndarray | None:
        """The weighted mean of the faces' ``age_probs`` rows that :meth:`average` reads its
        age from (float64 ``[121]``), or ``None`` when the model has no such output."""
        acc = self._all if self._good.count == 0 else self._good
        return None if acc.age_probs is None else acc.age_probs / acc.weight

    def average(self) -> Estimate:
        """The average of all faces so far (argmax label, no hysteresis).

        Raises:
            ValueError: no face was added.
        """
        low_quality = self._good.count == 0
        acc = self._all if low_quality else self._good
        if acc.count == 0:
            raise ValueError("no face added to this track")
        main = acc.main / acc.weight
        probs = None
        if acc.age_probs is not None:
            probs = acc.age_probs / acc.weight
            main[2] = float(probs @ np.arange(probs.shape[0])) / AGE_SCALE
        batch = self.calibration.decode(main[None], None if probs is None else probs[None])
        index = int(np.argmax(batch.gender_probs[0]))
        lo, hi = (float(v) for v in batch.age_interval[0])
        return Estimate(GENDER_LABELS[index], float(batch.gender_probs[0, index]),
                        float(batch.age[0]), (lo, hi), acc.count, low_quality)
