"""Would five-class adjusted counts fix the report's age-band shares on AAF?

The report's band shares are shares of ESTIMATED age. With the error model's soft
true-band x estimated-band matrix ``C`` (pooled over the dev sets; row ``i`` normalised gives
``M[i, j] = P(estimated band j | true band i)``), the estimated shares are ``q = M^T p`` for
true shares ``p``; this solves for ``p`` on the simplex (non-negative least squares with the
sum held at 1 by a heavily weighted extra row) and gives a 95% interval from a bootstrap over
faces with each replicate's rows of ``M`` drawn from ``Dirichlet(C[i] + 1/2)``. It prints the
true, reported and adjusted shares of labelled photos side by side.

    PYTHONPATH=src python research/band_share_adjustment.py --results runs/aaf_train_report/results \
        --manifest splits/utkface_aaf_seed0.csv --split train
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from genderage.evaluation.photos import load_labels
from genderage.evaluation.population import truth
from genderage.models.bundle import MetricsBundle, find_bundle
from genderage.report.stats import AGE_BANDS, band_mass, bootstrap_means, percentile_interval
from genderage.report.table import read_results

SUM_WEIGHT = 1e3


def on_simplex(q: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``p >= 0``, ``sum(p) = 1`` (up to 1/SUM_WEIGHT) minimising ``|M^T p - q|``."""
    a = np.vstack([m.T, SUM_WEIGHT * np.ones(len(q))])
    p, _ = nnls(a, np.append(q, SUM_WEIGHT))
    return p / p.sum()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, required=True)
    ap.add_argument("--aaf", type=Path, default=Path("../shared/data/AAF"))
    ap.add_argument("--manifest", type=Path)
    ap.add_argument("--split", default="val")
    ap.add_argument("--bundle", type=Path, help="default: the shipped bundle of the results' model")
    ap.add_argument("--n-boot", type=int, default=1000)
    args = ap.parse_args(argv)

    results = read_results(args.results)
    path = args.bundle or find_bundle(results.model_sha256)[0]
    sets = MetricsBundle.read(path).error_model(path.name).dev_sets
    counts = np.sum([d.age_band_matrix["counts"] for d in sets.values()], axis=0)
    m = (counts + 0.5) / (counts + 0.5).sum(1, keepdims=True)  # the Dirichlet mean

    mass = band_mass(results.faces.age, results.faces.age_probs)
    q = mass.mean(0)
    rng = np.random.default_rng(0)
    q_boot = bootstrap_means(mass, args.n_boot, rng)
    adjusted = on_simplex(q, m)
    draws = np.array([on_simplex(qb, np.array([rng.dirichlet(row + 0.5) for row in counts]))
                      for qb in q_boot])
    ci = percentile_interval(draws)
    true = truth(load_labels(args.aaf / "labels.csv", None, args.manifest, args.split))
    print(f"{len(results.faces)} faces; matrix from {path.name}: {', '.join(sets)}")
    print("| band | truth | reported (estimated-age band) | adjusted | 95% interval | inside |")
    print("|---|---|---|---|---|---|")
    for j, band in enumerate(AGE_BANDS):
        t = true["age_bands"][band]
        inside = "yes" if ci[0, j] <= t <= ci[1, j] else "**no**"
        print(f"| {band} | {100 * t:.1f}% | {100 * q[j]:.1f}% | {100 * adjusted[j]:.1f}% | "
              f"{100 * ci[0, j]:.1f}-{100 * ci[1, j]:.1f}% | {inside} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
