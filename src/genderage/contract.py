"""The model contract: the one place that states how pixels and labels map to the model.

Also the label vocabulary every layer shares: gender labels, UTKFace races, age bands.

ONNX input ``input``: float32 ``[N, 3, 112, 112]``, RGB, values in [0, 1], dynamic batch.
ONNX first output ``output``: ``[N, 3]`` = ``[logit_female, logit_male, age / 100]``.
How a face becomes that input is :class:`Preprocessing`, stored with the weights.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal

INPUT_SIZE = 112
"""Side of the square model input, in pixels (the default :class:`Preprocessing`'s)."""

CHIP_SIZE = 200
"""Side of a UTKFace aligned chip; aligned crops are produced at this size, then resized."""

CHIP_TEMPLATE = (
    (59.39, 58.00),
    (138.66, 58.25),
    (98.39, 104.43),
    (63.89, 138.46),
    (133.43, 138.58),
)
"""The five landmarks of an average UTKFace chip, in 200x200 chip pixels (x right, y down):
left eye, right eye, nose tip, left mouth corner, right mouth corner (image left).

Measured, not designed: ``research/fit_chip_template.py --n 2000`` ran the default detector
(MTCNN) on 2000 UTKFace training chips padded by 100 black pixels and took the
per-coordinate median of the landmarks (1991 chips with a face). SCRFD and YuNet put the
points within 1.3 px of these (docs/experiments/2026-11-28-alignment.md), so one template serves every backend.
"""

META_PREPROCESSING = "genderage.preprocessing"
"""ONNX ``metadata_props`` key (and checkpoint key ``preprocessing``) of the JSON
:class:`Preprocessing`."""


@dataclass(frozen=True)
class Preprocessing:
    """How an aligned face becomes the model's input: data that travels with the weights.

    A detected face is warped by the similarity that maps its five landmarks onto
    ``template`` in a ``chip_size`` square chip, resized to ``input_size`` (``"area"``: area
    interpolation when shrinking, bilinear when enlarging; ``"linear"``: bilinear), put in
    ``color`` order as float32 NCHW and scaled from 0..255 to ``value_range``.

    The defaults are the shipped model's (and of every model file written before this was
    stored): UTKFace chip geometry, 112x112, area, RGB, [0, 1].
    """

    chip_size: int = CHIP_SIZE
    template: tuple[tuple[float, float], ...] = CHIP_TEMPLATE
    input_size: int = INPUT_SIZE
    interpolation: Literal["area", "linear"] = "area"
    color: Literal["RGB", "BGR"] = "RGB"
    value_range: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self):
        # Plain floats in tuples, whatever came in (numpy arrays, JSON lists), so specs
        # compare equal and serialise.
        object.__setattr__(self, "template",
                           tuple(tuple(float(v) for v in p) for p in self.template))
        object.__setattr__(self, "value_range", tuple(float(v) for v in self.value_range))
        if self.interpolation not in ("area", "linear"):
            raise ValueError(f"interpolation {self.interpolation!r}: 'area' or 'linear'")
        if self.color not in ("RGB", "BGR"):
            raise ValueError(f"color {self.color!r}: 'RGB' or 'BGR'")
        if len(self.template) != 5 or any(len(p) != 2 for p in self.template):
            raise ValueError(f"template: five (x, y) points, got {self.template!r}")
        if self.chip_size < 1 or self.input_size < 1:
            raise ValueError(f"chip_size {self.chip_size} / input_size {self.input_size}: "
                             f"must be positive")
        lo, hi = self.value_range
        if not lo < hi:
            raise ValueError(f"value_range {self.value_range!r}: low must be below high")

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | None) -> Preprocessing:
        """Parse a stored contract; ``None`` (files that predate it) gives the defaults."""
        return cls() if text is None else cls(**json.loads(text))


DEFAULT_PREPROCESSING = Preprocessing()

AGE_SCALE = 100.0
"""The model's age output is ``age_years / AGE_SCALE``."""

GENDER_LABELS = ("female", "male")
"""Model gender index -> label. Index 0 is female, index 1 is male."""

RACES = ("white", "black", "asian", "indian", "others")
"""UTKFace race label index -> name (the file names' third field)."""

AGE_BANDS = ((0, 17), (18, 29), (30, 49), (50, 69), (70, 200))
"""Inclusive age ranges that splits are stratified by and metrics are reported by."""

UTKFACE_GENDER_TO_INDEX = {0: 1, 1: 0}
"""UTKFace file names use 0 = male, 1 = female: the opposite of the model's index."""


def utkface_gender_to_index(utk_gender: int) -> int:
    """Map a UTKFace gender code (0 male, 1 female) to the model's index (0 female, 1 male)."""
    # Look the value up as is: int() would turn 0.7 into 0 (male) and accept "1".
    try:
        return UTKFACE_GENDER_TO_INDEX[utk_gender]
    except (KeyError, TypeError):
        raise ValueError(f"UTKFace gender must be 0 or 1, got {utk_gender!r}") from None


def gender_label(index: int) -> str:
    """Model gender index -> ``"female"`` / ``"male"``."""
    return GENDER_LABELS[index]


def gender_index(label: str) -> int:
    """``"female"`` / ``"male"`` -> model gender index."""
    return GENDER_LABELS.index(label)


def age_band(age: int) -> int:
    """Index into :data:`AGE_BANDS` (0-17, 18-29, 30-49, 50-69, 70+)."""
    for i, (lo, hi) in enumerate(AGE_BANDS):
        if lo <= age <= hi:
            return i
    raise ValueError(f"age {age} outside all bands")


def band_name(i: int) -> str:
    """Printable name of age band ``i``: ``"0-17"`` ... ``"70+"``."""
    lo, hi = AGE_BANDS[i]
    return f"{lo}+" if hi >= 200 else f"{lo}-{hi}"
