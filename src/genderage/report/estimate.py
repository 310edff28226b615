"""The population estimates of one set of faces: female share, age bands, mean age, female
share per age band, each with a 95% interval (method: :mod:`genderage.report.stats`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .stats import (AGE_BANDS, AgeBias, ConfusionCounts, adjusted_share, band_mass,
                    bootstrap_means, expected_age, female_share, percentile_interval,
                    share_draws, wilson_interval)

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
        p_female: float ``[N]``, the model's calibrated P(female), or ``None``.
        mass, mean_age: ``[N, 5]`` band masses and ``[N]`` mean ages already computed from
            the distributions (``report.table`` streams them, never holding ``[N, K]``);
            when given they are used instead of ``age_probs``.
    """

    female: np.ndarray
    age: np.ndarray
    age_probs: np.ndarray | None = None
    p_female: np.ndarray | None = None
    mass: np.ndarray | None = None
    mean_age: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.female)

    @property
    def has_distributions(self) -> bool:
        """Ages come from per-face distributions, not point ages."""
        return self.age_probs is not None or self.mass is not None

    def band_mass(self) -> np.ndarray:
        return self.mass if self.mass is not None else band_mass(self.age, self.age_probs)

    def expected_age(self) -> np.ndarray:
        return self.mean_age if self.mean_age is not None else \
            expected_age(self.age, self.age_probs)

    def subset(self, mask: np.ndarray) -> FaceData:
        def pick(a):
            return None if a is None else a[mask]

        return FaceData(self.female[mask], self.age[mask], pick(self.age_probs),
                        pick(self.p_female), pick(self.mass), pick(self.mean_age))


def _interval(values: np.ndarray) -> list[float]:
    return [float(v) for v in percentile_interval(values)]


def estimate(faces: FaceData, counts: ConfusionCounts | None, n_boot: int = 1000,
             seed: int = 0, age_bias: AgeBias | None = None,
             band_counts: tuple[ConfusionCounts | None, ...] | None = None,
             band_rate_sd: float = 0.0) -> dict:
    """All estimates for ``faces`` (at least one face).

    Args:
        faces: the faces to describe.
        counts: the model's validation confusion counts, or ``None`` for naive shares only.
        n_boot: bootstrap replicates.
        seed: seed of the random generator (the same inputs give the same report).
        age_bias: the model's mean age error on dev sets: the mean age is corrected by it and
            each replicate draws a new population's bias (:meth:`AgeBias.draw`); ``None``:
            uncorrected.
        band_counts: gender confusion counts per estimated age band, used for that band's
            female share (a ``None`` entry, or ``None`` for all, takes ``counts``).
        band_rate_sd: the between-population SD of the band rates (logit scale): each
            replicate moves a band's drawn rates by that much, so the interval allows for a
            population whose band rates differ from the dev sets' as theirs differ.

    Returns:
        ``{"n_faces_used", "female_share", "mean_age", "age_bands",
        "female_share_by_age_band"}`` as described in docs/report.md.
    """
    n = len(faces)
    assert n > 0
    rng = np.random.default_rng(seed)
    female = faces.female.astype(np.float64)
    mass = faces.band_mass()
    mean_ages = faces.expected_age()
    columns = np.column_stack([mean_ages, mass, mass * female[:, None]])
    point = columns.mean(0)
    boot = bootstrap_means(columns, n_boot, rng)
    # Drawn first: the age interval does not move when the share draws change.
    age = mean_age(point[0], boot[:, 0], float(faces.age.mean()), age_bias, rng, n)
    k = len(AGE_BANDS)
    share, fem = point[1:1 + k], point[1 + k:]
    overall_draws = counts.draw(n_boot, rng) if counts is not None else None

    by_band = {}
    for j, band in enumerate(AGE_BANDS):
        if share[j] * n < MIN_BAND_FACES:
            by_band[band] = {"estimate": None, "ci95": None, "naive": None, "naive_ci95": None,
                             "n_faces": float(share[j] * n), "rates": None}
            continue
        naive = fem[j] / share[j]
        # The share among the band's (soft) count of faces: posterior draws and Wilson's
        # interval, not the bootstrap ratio, which is a point when every face agrees.
        in_band, female_in_band = share[j] * n, fem[j] * n
        entry = {"estimate": None, "ci95": None, "naive": float(naive),
                 "naive_ci95": wilson_interval(female_in_band, in_band),
                 "n_faces": float(in_band), "rates": None}
        own = band_counts[j] if band_counts is not None and counts is not None else None
        if counts is not None:
            naive_boot = share_draws(female_in_band, in_band, n_boot, rng)
            rates, (tpr, fpr) = (own, own.draw(n_boot, rng, band_rate_sd)) if own is not None else \
                (counts, overall_draws)
            entry["estimate"] = float(adjusted_share(naive, rates.tpr, rates.fpr))
            entry["ci95"] = _interval(adjusted_share(naive_boot, tpr, fpr))
            entry["rates"] = "band" if own is not None else "overall"
        by_band[band] = entry

    return {
        "n_faces_used": n,
        "female_share": female_share(int(faces.female.sum()), n, counts, n_boot, rng),
        "mean_age": age,
        "age_bands": {band: {"share": float(share[j]), "n_faces": float(share[j] * n),
                             "ci95": wilson_interval(share[j] * n, n)}
                      for j, band in enumerate(AGE_BANDS)},
        "female_share_by_age_band": by_band,
    }


def mean_age(uncorrected: float, boot: np.ndarray, naive: float, age_bias: AgeBias | None,
             rng: np.random.Generator, n_faces: int = 2) -> dict:
    """The mean age entry: ``uncorrected - b`` with each bootstrap replicate shifted by its own
    draw of the bias when ``age_bias`` is known, else the uncorrected mean. One face says
    nothing about the spread of ages: its intervals are ``None`` (shown as "-")."""
    one_face = n_faces < 2
    sampling = None if one_face else _interval(boot)
    out = {"estimate": uncorrected, "ci95": sampling, "naive": naive,
           "uncorrected": uncorrected, "uncorrected_ci95": sampling}
    if age_bias is not None:
        out["estimate"] = uncorrected - age_bias.mean
        out["ci95"] = None if one_face else _interval(boot - age_bias.draw(len(boot), rng))
    return out
