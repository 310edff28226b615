"""Would a monotone recalibration of the estimated age lower the MAE on both dev sets?

Each model runs as the product runs it (``GenderAge(model)``) on the release rule's dev sets
(:func:`genderage.evaluation.error_model.dev_set_faces`: the UTKFace val split as aligned
chips, the AAF dev fold through the full pipeline). A mapping from the estimated age to the
true age is fitted on the pooled dev faces and scored cross-fitted (5 folds, seed 0: no face
is scored by a mapping fitted on it), in log1p space: isotonic regression
(scikit-learn) and a straight line. Printed per dev set: the MAE before and after.

    PYTHONPATH=src python research/age_recalibration.py --model src/genderage/models/genderage.onnx \\
        --model runs/v3f/model.onnx
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ensemble_dev_folds import add_dev_set_arguments  # research/ is the script's folder

FOLDS = 5


def cross_fitted(est: np.ndarray, true: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    """Each face's recalibrated age from a ``kind`` ("isotonic" or "linear") mapping fitted
    on the other folds."""
    from sklearn.isotonic import IsotonicRegression

    folds = np.random.default_rng(seed).integers(0, FOLDS, len(est))
    x, y = np.log1p(est), np.log1p(true)
    out = np.empty_like(x)
    for f in range(FOLDS):
        fit, score = folds != f, folds == f
        if kind == "isotonic":
            out[score] = IsotonicRegression(out_of_bounds="clip").fit(x[fit], y[fit]).predict(
                x[score])
        else:
            out[score] = np.polyval(np.polyfit(x[fit], y[fit], 1), x[score])
    return np.expm1(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dev_set_arguments(ap)
    args = ap.parse_args(argv)

    from genderage.evaluation.error_model import dev_set_faces
    from genderage.pipeline import GenderAge

    print("| model | mapping | " + " | ".join(["UTKFace val MAE", "AAF dev MAE"]) + " |")
    print("|---|---|---|---|")
    for model in args.model:
        sets = dev_set_faces(GenderAge(model), args.manifest,
                             {"utkface": args.utkface, "aaf": args.aaf})
        true = np.concatenate([d.true_age for d in sets]).astype(float)
        est = np.concatenate([d.found.age for d in sets]).astype(float)
        which = np.concatenate([np.full(len(d.true_age), i) for i, d in enumerate(sets)])
        for kind in ("none", "isotonic", "linear"):
            age = est if kind == "none" else cross_fitted(est, true, kind)
            maes = [np.abs(age - true)[which == i].mean() for i in range(len(sets))]
            print(f"| {model} | {kind} | " + " | ".join(f"{m:.3f}" for m in maes) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
