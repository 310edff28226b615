"""Typed prediction records with a stable, JSON-ready ``to_dict()``.

``ImageResult.to_dict()`` is the schema of ``genderage predict --json`` (one object per
line) and of the HTTP API::

    {"path": str | null,
     "faces": [{"bbox": [x1, y1, x2, y2], "landmarks": [[x, y] x 5], "det_score": float,
                "gender": "female" | "male" | null, "gender_probability": float,
                "female_probability": float, "age": float, "age_interval": [lo, hi],
                "quality": {...Quality.to_dict()}}],
     "error": str | null}

``gender`` is null ("unknown") when ``gender_probability`` is below the
``min_gender_probability`` asked for (:class:`~genderage.options.FaceOptions`); the
probabilities are reported all the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .quality import Quality


def _point(x, y) -> list[float]:
    return [round(float(x), 2), round(float(y), 2)]


@dataclass(frozen=True)
class Face:
    """One face: where it is, what the model says, and how trustworthy the crop is.

    Attributes:
        bbox: ``(x1, y1, x2, y2)`` source-image pixels.
        landmarks: five ``(x, y)`` source-image pixels (left eye, right eye, nose,
            left mouth corner, right mouth corner; left = image left).
        det_score: detector confidence (1.0 for ``aligned`` input, which is not detected).
        gender: ``"female"`` or ``"male"``, the likelier label; ``None`` ("unknown") when
            its probability is below the ``min_gender_probability`` asked for.
        gender_probability: calibrated probability of the likelier label (>= 0.5), reported
            whether or not ``gender`` is ``None``.
        age: estimated age, years.
        age_interval: ``(lo, hi)`` years, at the model's nominal coverage.
        quality: the face's :class:`~genderage.quality.Quality`.
        female_probability: calibrated P(female) (P(male) is one minus it): the model's
            answer without any threshold, as the population report uses it.
    """

    bbox: tuple[float, float, float, float]
    landmarks: tuple[tuple[float, float], ...]
    det_score: float
    gender: str | None
    gender_probability: float
    age: float
    age_interval: tuple[float, float]
    quality: Quality
    female_probability: float

    @property
    def gender_shown(self) -> str:
        """``gender`` as printed in tables and annotations: ``"unknown"`` for ``None``."""
        return self.gender or "unknown"

    def __repr__(self) -> str:
        # The dataclass repr prints every float32 digit of 20 coordinates (~700 characters).
        x1, y1, x2, y2 = self.bbox
        lo, hi = self.age_interval
        flag = ("low quality: " + ",".join(self.quality.reasons) if self.quality.low_quality
                else "ok")
        return (f"Face({self.gender_shown} {self.gender_probability:.2f}, age {self.age:.1f} "
                f"[{lo:.0f}-{hi:.0f}], bbox ({x1:.0f}, {y1:.0f}, {x2:.0f}, {y2:.0f}), "
                f"det {self.det_score:.2f}, {flag})")

    def to_dict(self) -> dict:
        return {
            "bbox": [round(float(v), 2) for v in self.bbox],
            "landmarks": [_point(x, y) for x, y in self.landmarks],
            "det_score": round(float(self.det_score), 4),
            "gender": self.gender,
            "gender_probability": round(float(self.gender_probability), 4),
            "female_probability": round(float(self.female_probability), 4),
            "age": round(float(self.age), 2),
            "age_interval": [round(float(v), 2) for v in self.age_interval],
            "quality": self.quality.to_dict(),
        }


@dataclass(frozen=True)
class ImageResult:
    """The faces found in one input, or the reason it could not be read.

    Attributes:
        path: the input's file path, or ``None`` for bytes / arrays.
        faces: detected faces, largest first; empty when none was found.
        error: ``None``, or a message naming the input and the problem.
    """

    path: str | None
    faces: list[Face] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict:
        return {"path": self.path, "faces": [f.to_dict() for f in self.faces],
                "error": self.error}
