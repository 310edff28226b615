"""The population estimates of one set of faces: female share, age bands, mean age, female
share per age band, each with a 95% interval (method: :mod:`genderage.report.stats`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .stats import (AGE_BANDS, ConfusionCounts, adjusted_share, band_mass, bootstrap_means,
                    expected_age, female_share, percentile_interval)

MIN_BAND_FACES = 1.0
"""A band's female share is left out (``None``) when the band holds less than this many faces'
worth of probability mass."""


@dataclass(frozen=True)
class FaceData:
    """Per-face predictions, as arrays.

    Attributes:
        female: bool ``[N]``, predicted label is female.
        age: float ``[N]``, point age in years.
        age_probs: float ``[N, K]`` distribution over integer ages, or ``None``.
    """

    female: np.ndarray
    age: np.ndarray
    age_probs: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.female)

    def subset(self, mask: np.ndarray) -> FaceData:
        probs = None if self.age_probs is None else self.age_probs[mask]
        return FaceData(self.female[mask], self.age[mask], probs)


def _interval(values: np.ndarray) -> list[float]:
    return [float(v) for v in percentile_interval(values)]


def estimate(faces: FaceData, counts: ConfusionCounts | None, n_boot: int = 1000,
             seed: int = 0) -> dict:
    """All estimates for ``faces`` (at least one face).

    Args:
        faces: the faces to describe.
        counts: the model's validation confusion counts, or ``None`` for naive shares only.
        n_boot: bootstrap replicates.
        seed: seed of the random generator (the same inputs give the same report).

    Returns:
        ``{"n_faces_used", "female_share", "mean_age", "age_bands",
        "female_share_by_age_band"}`` as described in docs/report.md.
    """
    n = len(faces)
    assert n > 0
    rng = np.random.default_rng(seed)
    female = faces.female.astype(np.float64)
    mass = band_mass(faces.age, faces.age_probs)
    mean_ages = expected_age(faces.age, faces.age_probs)
    columns = np.column_stack([mean_ages, mass, mass * female[:, None]])
    point = columns.mean(0)
    boot = bootstrap_means(columns, n_boot, rng)
    k = len(AGE_BANDS)
    share, share_boot = point[1:1 + k], boot[:, 1:1 + k]
    fem, fem_boot = point[1 + k:], boot[:, 1 + k:]
    tpr, fpr = counts.draw(n_boot, rng) if counts is not None else (None, None)

    by_band = {}
    for j, band in enumerate(AGE_BANDS):
        if share[j] * n < MIN_BAND_FACES:
            by_band[band] = {"estimate": None, "ci95": None, "naive": None, "naive_ci95": None,
                             "n_faces": float(share[j] * n)}
            continue
        naive = fem[j] / share[j]
        with np.errstate(invalid="ignore", divide="ignore"):
            naive_boot = np.nan_to_num(fem_boot[:, j] / share_boot[:, j], nan=naive)
        entry = {"estimate": None, "ci95": None, "naive": float(naive),
                 "naive_ci95": _interval(naive_boot), "n_faces": float(share[j] * n)}
        if counts is not None:
            entry["estimate"] = float(adjusted_share(naive, counts.tpr, counts.fpr))
            entry["ci95"] = _interval(adjusted_share(naive_boot, tpr, fpr))
        by_band[band] = entry

    return {
        "n_faces_used": n,
        "female_share": female_share(int(faces.female.sum()), n, counts, n_boot, rng),
        "mean_age": {"estimate": float(point[0]), "ci95": _interval(boot[:, 0]),
                     "naive": float(faces.age.mean())},
        "age_bands": {band: {"share": float(share[j]), "ci95": _interval(share_boot[:, j])}
                      for j, band in enumerate(AGE_BANDS)},
        "female_share_by_age_band": by_band,
    }
