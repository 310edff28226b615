"""Fit the shipped model's calibration on the validation split of a manifest."""

from __future__ import annotations

import numpy as np

from ..attribute import decode_outputs
from ..calibration import cross_fitted_coverage, fit_age_interval, fit_temperature
from ..data.split import read_manifest
from ..evaluate import load_faces_plain
from ..preprocess import to_input
from .predictor import CheckpointModel


def calibrate_checkpoint(checkpoint, data_dir, manifest, weights="auto", flip_tta=False,
                         age_output=None, coverage=0.8) -> dict:
    """Temperature and age-interval parameters from the manifest's ``val`` rows."""
    rows = read_manifest(manifest, "val")
    if not rows:
        raise ValueError(f"{manifest}: no val rows to calibrate on")
    model = CheckpointModel(checkpoint, weights, flip_tta)
    if age_output is not None:
        from .export import _with_age_output
        model.module.net = _with_age_output(model.module.net, age_output)
    out = model.run(to_input(load_faces_plain(data_dir, rows)))
    gender = np.array([r.gender for r in rows])
    age = np.array([r.age for r in rows], float)
    temperature = fit_temperature(out["output"][:, :2].astype(float), gender)
    pred_age = decode_outputs(out["output"]).age.astype(float)
    interval = fit_age_interval(age, pred_age, coverage)
    return {"gender_temperature": temperature, "age_interval": interval,
            "fitted_on": {"manifest": str(manifest), "split": "val", "n": len(rows)},
            "cross_fitted_coverage": cross_fitted_coverage(age, pred_age, coverage)}
