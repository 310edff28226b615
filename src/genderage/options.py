"""The user's knobs on which faces come back and how they are labelled: one validated record,
shared by the library, the CLI (``--min-face`` ...) and the service (query parameters).

The detector settings (``min_face``, ``det_threshold``) go to
:func:`~genderage.detect.create_detector` and are applied again to its boxes by the pipeline;
``max_faces`` keeps the largest faces after detection and before the attribute model;
``min_gender_probability`` turns a face's label into ``None`` ("unknown") when the model is
not sure enough (:meth:`FaceOptions.label`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .detect.types import MIN_FACE_FLOOR


class OptionError(ValueError):
    """A knob out of range. ``option`` is its keyword name (``"min_face"``), so that the CLI
    can name the flag (``--min-face``) and the service the query parameter."""

    def __init__(self, option: str, message: str):
        super().__init__(f"{option}: {message}")
        self.option = option
        self.message = message


@dataclass(frozen=True)
class FaceOptions:
    """Which faces to return and when to leave gender unknown; ``None`` turns a knob off.

    Attributes:
        min_face: smallest face, the shorter side of its box in pixels of the source image
            (at least :data:`MIN_FACE_FLOOR`).
        det_threshold: detector score a face must reach, in (0, 1).
        max_faces: keep this many faces per image (>= 1), the largest boxes first.
        min_gender_probability: in [0.5, 1): below it (the larger of P(female) and
            P(male)) a face's ``gender`` is ``None``; its probabilities are still reported.

    Raises:
        OptionError: a value out of range, naming the option.
    """

    min_face: float | None = None
    det_threshold: float | None = None
    max_faces: int | None = None
    min_gender_probability: float | None = None

    def __post_init__(self):
        if self.min_face is not None and not float(self.min_face) >= MIN_FACE_FLOOR:
            raise OptionError("min_face", f"must be at least {MIN_FACE_FLOOR:g} pixels, "
                                          f"got {self.min_face:g}")
        if self.det_threshold is not None and not 0.0 < float(self.det_threshold) < 1.0:
            raise OptionError("det_threshold", f"must be between 0 and 1 (exclusive), "
                                               f"got {self.det_threshold:g}")
        if self.max_faces is not None and (int(self.max_faces) != self.max_faces
                                           or self.max_faces < 1):
            raise OptionError("max_faces", f"must be a whole number >= 1, got {self.max_faces}")
        p = self.min_gender_probability
        if p is not None and not 0.5 <= float(p) < 1.0:
            raise OptionError("min_gender_probability", f"must be in [0.5, 1), got {p:g}")

    def label(self, gender: str, probability: float) -> str | None:
        """``gender``, or ``None`` when its ``probability`` is below ``min_gender_probability``
        (compared in float32, the probabilities' precision: ``P = 0.7`` answers a face whose
        probability is float32 0.7)."""
        p = self.min_gender_probability
        return None if p is not None and np.float32(probability) < np.float32(p) else gender

    def to_dict(self) -> dict:
        """JSON-ready: every knob, ``None`` where it is off."""
        return asdict(self)


@dataclass(frozen=True)
class FaceOptionFields:
    """The four face options as fields, for the run records of batch and video (their
    parts are refused when these differ); :meth:`face_options` gives ``GenderAge``'s
    keywords."""

    min_face: float | None = None
    det_threshold: float | None = None
    max_faces: int | None = None
    min_gender_probability: float | None = None

    def face_options(self) -> dict:
        """The :class:`~genderage.pipeline.GenderAge` keywords of the face options."""
        return {"min_face": self.min_face, "det_threshold": self.det_threshold,
                "max_faces": self.max_faces,
                "min_gender_probability": self.min_gender_probability}


def parse_option(option: str, text: str, kind: type) -> float | int:
    """A knob's value from text (a CLI flag, a query parameter) as ``kind`` (float or int).

    Raises:
        OptionError: not a number of that kind.
    """
    try:
        value = kind(text)
    except (TypeError, ValueError):
        what = "a whole number" if kind is int else "a number"
        raise OptionError(option, f"must be {what}, got {text!r}") from None
    return value
