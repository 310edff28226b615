"""Screen time: the female share of on-screen seconds in a collection of videos, corrected
for the model's errors, with a 95% interval that resamples videos.

Each track (one person in one shot, ``genderage video``) has ``on_screen_s`` seconds, a
predicted gender and an estimated age. Within each band ``j`` of estimated age:

- ``S_j``: seconds of tracks in the band (a track with ``age_probs`` spreads its seconds
  over the bands by its age distribution), ``F_j``: of those, seconds of tracks predicted
  female; the naive share is ``F_j / S_j``.
- Adjusted classify-and-count on seconds: if tracks of women are predicted female with
  probability ``tpr_j`` and men's with ``fpr_j``, whatever their length, then
  ``E[F_j / S_j] = tpr_j p_j + fpr_j (1 - p_j)`` with ``p_j`` the women's share of the band's
  seconds, so ``p_j = (F_j / S_j - fpr_j) / (tpr_j - fpr_j)``, clipped to [0, 1]. The rates
  are the model's per-band rates from its error model, as for photos
  (:mod:`genderage.report.estimate`); without an error model, the overall rates.
- The collection's share is ``sum_j (S_j / S) p_j``.

Intervals: percentile bootstrap over VIDEOS (all tracks of a resampled video come along:
the people of one programme are not independent draws), each replicate with rates drawn
from their posteriors and moved by the between-population SD, as the photo report does.
A single video has nothing to resample but its tracks; its interval resamples tracks and
says so. The rates' between-population SD is widened to a predictive one
(:func:`predictive_rate_sd`): the collection is a new population, and the dev sets' pooled
rates are themselves only an estimate of the populations' centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .stats import (AGE_BANDS, ConfusionCounts, adjusted_share, band_mass, bootstrap_means,
                    percentile_interval)

MIN_BAND_SECONDS = 1.0
"""A band's female share is left out (``None``) below this many seconds."""


@dataclass(frozen=True)
class Tracks:
    """Per-track data of a collection, as arrays (``N`` tracks over ``V`` videos).

    Attributes:
        video: int ``[N]``, index of each track's video in ``videos``.
        videos: ``[V]`` video paths (every video of the collection, with or without tracks).
        video_s: float ``[V]``, seconds of each video decoded.
        seconds: float ``[N]``, on-screen seconds of each track.
        female: bool ``[N]``, predicted female.
        age: float ``[N]``, point age.
        age_probs: float ``[N, K]`` age distributions, or ``None``.
    """

    video: np.ndarray
    videos: np.ndarray
    video_s: np.ndarray
    seconds: np.ndarray
    female: np.ndarray
    age: np.ndarray
    age_probs: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.seconds)


def predictive_rate_sd(rate_sd: float, n_sets: int) -> float:
    """How far a NEW population's band rates may lie from the rates pooled over ``n_sets``
    dev populations, logit scale: ``rate_sd * sqrt(1 + 1 / n_sets)`` (the population's own
    spread plus the pooled centre's uncertainty, ``rate_sd^2 / n_sets``)."""
    return rate_sd * float(np.sqrt(1.0 + 1.0 / max(1, n_sets)))


def _interval(values: np.ndarray) -> list[float]:
    return [float(v) for v in percentile_interval(values)]


def screen_time(tracks: Tracks, counts: ConfusionCounts | None, n_boot: int = 1000,
                seed: int = 0, band_counts: tuple[ConfusionCounts | None, ...] | None = None,
                band_rate_sd: float = 0.0) -> dict:
    """The screen-time estimates of a collection (see the module docstring).

    Args:
        tracks: the collection (at least one video).
        counts: the model's overall gender confusion counts; ``None``: naive shares only.
        n_boot: bootstrap replicates.
        seed: random seed (the same input gives the same numbers).
        band_counts: per-band confusion counts from the error model (an entry ``None``
            takes ``counts``); ``None``: the overall rates in every band.
        band_rate_sd: how far this collection's band rates may lie from the measured
            ones, logit scale (:func:`predictive_rate_sd`).

    Returns:
        the ``screen_time`` section of report.json (docs/report.md).
    """
    rng = np.random.default_rng(seed)
    k = len(AGE_BANDS)
    n_videos = len(tracks.videos)
    mass = band_mass(tracks.age, tracks.age_probs) if len(tracks) else np.zeros((0, k))
    secs = mass * tracks.seconds[:, None]
    per_track = np.column_stack([secs, secs * tracks.female[:, None]])
    by_videos = n_videos > 1
    if by_videos:
        units = np.zeros((n_videos, 2 * k))
        np.add.at(units, tracks.video, per_track)
    else:
        units = per_track
    total_s = float(tracks.seconds.sum())
    out = {"n_videos": n_videos, "n_tracks": len(tracks),
           "video_s": float(tracks.video_s.sum()), "on_screen_s": total_s,
           "resampled": "videos" if by_videos else "tracks (one video)",
           "seconds": {"female_predicted": float((tracks.seconds * tracks.female).sum()),
                       "male_predicted": float((tracks.seconds * ~tracks.female).sum()),
                       "female_corrected": None, "male_corrected": None},
           "female_share": {"estimate": None, "ci95": None, "naive": None, "naive_ci95": None},
           "age_bands": {}, "female_share_by_age_band": {}}
    if total_s <= 0 or len(units) == 0:
        return out
    point = units.sum(0)
    boot = bootstrap_means(units, n_boot, rng) * len(units)
    s, f, s_boot, f_boot = point[:k], point[k:], boot[:, :k], boot[:, k:]
    total_boot = s_boot.sum(1)
    naive = f.sum() / s.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        naive_boot = np.nan_to_num(f_boot.sum(1) / total_boot, nan=naive)
    out["female_share"].update(naive=float(naive), naive_ci95=_interval(naive_boot))
    for j, band in enumerate(AGE_BANDS):
        with np.errstate(invalid="ignore", divide="ignore"):
            share_boot = np.nan_to_num(s_boot[:, j] / total_boot, nan=0.0)
        out["age_bands"][band] = {"seconds": float(s[j]), "share": float(s[j] / s.sum()),
                                  "ci95": _interval(share_boot)}
    if counts is None:
        for j, band in enumerate(AGE_BANDS):
            out["female_share_by_age_band"][band] = _band_naive(s[j], f[j], s_boot[:, j],
                                                                f_boot[:, j])
        return out

    overall = counts.draw(n_boot, rng)
    corrected = np.zeros(k)
    corrected_boot = np.zeros((n_boot, k))
    for j, band in enumerate(AGE_BANDS):
        own = band_counts[j] if band_counts is not None else None
        rates, (tpr, fpr) = (own, own.draw(n_boot, rng, band_rate_sd)) if own is not None \
            else (counts, overall)
        entry = _band_naive(s[j], f[j], s_boot[:, j], f_boot[:, j])
        naive_j = f[j] / s[j] if s[j] > 0 else 0.0
        with np.errstate(invalid="ignore", divide="ignore"):
            naive_j_boot = np.nan_to_num(f_boot[:, j] / s_boot[:, j], nan=naive_j)
        corrected[j] = adjusted_share(naive_j, rates.tpr, rates.fpr)
        corrected_boot[:, j] = adjusted_share(naive_j_boot, tpr, fpr)
        if entry["naive"] is not None:
            entry.update(estimate=float(corrected[j]),
                         ci95=_interval(corrected_boot[:, j]),
                         rates="band" if own is not None else "overall")
        out["female_share_by_age_band"][band] = entry
    estimate = float((s * corrected).sum() / s.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate_boot = np.nan_to_num((s_boot * corrected_boot).sum(1) / total_boot,
                                      nan=estimate)
    out["female_share"].update(estimate=estimate, ci95=_interval(estimate_boot))
    out["seconds"].update(female_corrected=estimate * total_s,
                          male_corrected=(1 - estimate) * total_s)
    return out


def _band_naive(s: float, f: float, s_boot: np.ndarray, f_boot: np.ndarray) -> dict:
    entry = {"seconds": float(s), "estimate": None, "ci95": None, "naive": None,
             "naive_ci95": None, "rates": None}
    if s >= MIN_BAND_SECONDS:
        with np.errstate(invalid="ignore", divide="ignore"):
            boot = np.nan_to_num(f_boot / s_boot, nan=f / s)
        entry.update(naive=float(f / s), naive_ci95=_interval(boot))
    return entry
