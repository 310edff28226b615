"""How well the screen-time report's intervals hold on simulated video collections with a
known female share of screen time.

Each collection differs from the dev sets in composition and in how the model errs on it:

- its own age-band mix (a Dirichlet draw: some collections are mostly children, some
  mostly older people) and its own female share of seconds per band (uniform 10-90%);
- 10 to 150 videos, each with its own female share around the collection's (programmes
  are not alike: a Beta spread), 1 to 25 tracks per video of log-normal length (median 4 s,
  some of a minute or more);
- gender predicted with the collection's own band rates, drawn around the shipped error
  model's as ``ErrorWorld`` (``report_simulation.py``) draws a population's; the
  report corrects with an error model measured on two other populations (the dev sets).

The truth is the collection's own share of on-screen seconds of women. Prints the coverage
of the corrected 95% interval and of the naive one (the figures of docs/report.md,
"Simulation"; tests/test_report_screen.py asserts them)::

    PYTHONPATH=src python research/screen_simulation.py
"""

from __future__ import annotations

import sys

import numpy as np

# research/ is the script's folder (and on the tests' path: pyproject.toml)
from report_simulation import BAND_AGES, ErrorWorld, shipped_counts, shipped_world

from genderage.report.screen import Tracks, predictive_rate_sd, screen_time
from genderage.report.stats import AGE_BANDS, ConfusionCounts


def collection(rng: np.random.Generator, tpr: np.ndarray, fpr: np.ndarray
               ) -> tuple[Tracks, float]:
    """One simulated collection classified with band rates ``tpr``, ``fpr`` (``[5]``);
    returns it and its true female share of on-screen seconds."""
    k = len(AGE_BANDS)
    band_mix = rng.dirichlet(np.full(k, 0.8))
    band_female = rng.uniform(0.1, 0.9, k)
    n_videos = int(rng.integers(10, 151))
    video, seconds, band, female = [], [], [], []
    for v in range(n_videos):
        n = int(rng.integers(1, 26))
        b = rng.choice(k, n, p=band_mix)
        # Each video's female share per band is a Beta draw around the collection's
        # (concentration 4: programmes differ a lot).
        p = rng.beta(4 * band_female[b], 4 * (1 - band_female[b]))
        video.append(np.full(n, v))
        seconds.append(rng.lognormal(np.log(4.0), 1.0, n))
        band.append(b)
        female.append(rng.random(n) < p)
    video, seconds, band, female = map(np.concatenate, (video, seconds, band, female))
    predicted = rng.random(len(female)) < np.where(female, tpr[band], fpr[band])
    age = rng.uniform(BAND_AGES[band, 0], BAND_AGES[band, 1] + 1)
    video_s = np.bincount(video, seconds, n_videos) * 1.5
    tracks = Tracks(video, np.array([f"v{i}" for i in range(n_videos)], object), video_s,
                    seconds, predicted, age)
    return tracks, float((seconds * female).sum() / seconds.sum())


def simulate_screen_share(world: ErrorWorld, counts: ConfusionCounts,
                          n_collections: int = 200, n_boot: int = 400,
                          seed: int = 26) -> dict:
    """Coverage of the corrected and naive 95% intervals of the female share of screen
    time over ``n_collections`` collections (see the module docstring)."""
    rng = np.random.default_rng(seed)
    hit, naive_hit, error, naive_error = [], [], [], []
    for _ in range(n_collections):
        errors = world.measure(rng)
        _, tpr, fpr = world.population(rng)
        tracks, truth = collection(rng, tpr, fpr)
        out = screen_time(tracks, counts, n_boot, int(rng.integers(1 << 30)),
                          errors.band_counts,
                          predictive_rate_sd(errors.rate_sd, len(world.dev_faces))
                          )["female_share"]
        hit.append(out["ci95"][0] <= truth <= out["ci95"][1])
        naive_hit.append(out["naive_ci95"][0] <= truth <= out["naive_ci95"][1])
        error.append(out["estimate"] - truth)
        naive_error.append(out["naive"] - truth)
    return {"collections": n_collections, "coverage": float(np.mean(hit)),
            "naive_coverage": float(np.mean(naive_hit)),
            "mean_abs_error": float(np.mean(np.abs(error))),
            "naive_mean_abs_error": float(np.mean(np.abs(naive_error)))}


def main() -> int:
    figures = simulate_screen_share(shipped_world(), shipped_counts())
    for name, value in figures.items():
        print(f"{name}: {value:.4f}" if isinstance(value, float) else f"{name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
