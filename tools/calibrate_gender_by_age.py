"""Gender accuracy and calibration per age band on both dev sets; fit (and embed) an
age-conditioned calibration of the gender probability.

The model runs as the product runs it (``GenderAge(model)``, default detector) on the UTKFace
val split (chips as aligned faces) and the AAF dev fold (full pipeline, largest face) of the
manifest, WITHOUT any age-conditioned calibration the file already holds (the fit starts from
the model's temperature-scaled probabilities). Per dev set and band of true age it prints
gender accuracy and ECE of the model as it is, and of the age-conditioned calibration
(:mod:`genderage.training.gender_calibration`) cross-fitted over 5 folds of the pooled dev
sets, so that no face is scored with parameters fitted on it.

The rule (docs/training.md, "Gender calibration by age"), fixed before it was applied: the
calibration is kept if, on BOTH dev sets, the mean ECE over the bands with at least 30 faces
is lower, and the overall gender accuracy is not lower by more than one paired SE.
``--write`` then embeds the spec fitted on all dev faces into the model's metadata
(``genderage.gender_calibration_by_age``), whatever the rule says (the rule's verdict is
printed and recorded; the caller decides).

    PYTHONPATH=src python tools/calibrate_gender_by_age.py \\
        --model src/genderage/models/genderage.onnx --manifest splits/utkface_aaf_seed0.csv \\
        --out runs/v2_gender_by_age.json
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
MIN_BAND = 30


def dev_predictions(model: Path, manifest: Path, roots: dict[str, Path]) -> dict:
    """Per dev set: true age, true female, P(female) (temperature only) and estimated age of
    each face the pipeline found."""
    from genderage.evaluation.error_model import dev_set_faces
    from genderage.pipeline import GenderAge

    analyzer = GenderAge(model)
    analyzer.model.gender_by_age = None  # fit on the model's own probabilities
    return {d.name: {"age": d.true_age, "female": d.true_female, "p_female": d.found.p_female,
                     "est_age": d.found.age, "images": d.images}
            for d in dev_set_faces(analyzer, manifest, roots)}


def summary(d: dict, p_female: np.ndarray) -> dict:
    from genderage.evaluation.metrics import calibration, gender_by_band

    gender = (~d["female"]).astype(int)  # model index: 0 = female
    probs = np.stack([p_female, 1 - p_female], axis=1)
    return {"accuracy": round(float((probs.argmax(1) == gender).mean()), 4),
            "ece": round(calibration(gender, probs)["ece"], 4),
            "by_age_band": {k: {"n": v["n"], "accuracy": round(v["accuracy"], 4),
                                "ece": round(v["ece"], 4)}
                            for k, v in gender_by_band(d["age"], gender, p_female).items()}}


def mean_band_ece(s: dict) -> float:
    eces = [v["ece"] for v in s["by_age_band"].values() if v["n"] >= MIN_BAND]
    return round(float(np.mean(eces)), 4)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True, help="the ONNX model")
    ap.add_argument("--manifest", type=Path, required=True, help="multi-source manifest")
    ap.add_argument("--utkface", type=Path, default=SHARED / "UTKFace")
    ap.add_argument("--aaf", type=Path, default=SHARED / "AAF")
    ap.add_argument("--out", type=Path, help="write the report (JSON) here")
    ap.add_argument("--write", action="store_true",
                    help="embed the calibration fitted on all dev faces into --model")
    args = ap.parse_args(argv)

    from genderage.models import file_sha256
    from genderage.training.gender_calibration import cross_fitted, fit_by_age, logit

    try:
        sets = dev_predictions(args.model, args.manifest, {"utkface": args.utkface,
                                                           "aaf": args.aaf})
    except (OSError, ValueError) as exc:
        print(f"cannot score {args.model}: {exc}", file=sys.stderr)
        return 2
    names = list(sets)
    cat = {k: np.concatenate([sets[n][k] for n in names]) for k in ("p_female", "female",
                                                                    "est_age")}
    groups = np.concatenate([np.full(len(sets[n]["age"]), i) for i, n in enumerate(names)])
    z = logit(cat["p_female"])
    p_cross = cross_fitted(z, cat["female"], cat["est_age"], groups)
    report = {"command": "PYTHONPATH=src python tools/calibrate_gender_by_age.py " + shlex.join(
        argv if argv is not None else sys.argv[1:]), "model": str(args.model),
              "model_sha256": file_sha256(args.model), "dev_sets": {}}
    keep = True
    for i, name in enumerate(names):
        d = sets[name]
        m = groups == i
        before, after = summary(d, d["p_female"]), summary(d, p_cross[m])
        gender = (~d["female"]).astype(int)
        hit_b = (d["p_female"] < 0.5).astype(int) == gender
        hit_a = (p_cross[m] < 0.5).astype(int) == gender
        diff = hit_a.astype(float) - hit_b
        se = float(diff.std(ddof=1) / np.sqrt(len(diff)))
        wins = mean_band_ece(after) < mean_band_ece(before) and diff.mean() >= -se
        keep &= wins
        report["dev_sets"][name] = {
            "n": len(d["age"]), "images": d["images"], "model": before,
            "cross_fitted_by_age": after, "mean_band_ece": [mean_band_ece(before),
                                                            mean_band_ece(after)],
            "delta_accuracy": round(float(diff.mean()), 4), "se_accuracy": round(se, 4),
            "calibration_wins": bool(wins)}
        print(f"{name} (n={len(d['age'])}): accuracy {before['accuracy']:.4f} -> "
              f"{after['accuracy']:.4f} ({diff.mean():+.4f}, SE {se:.4f}); ECE "
              f"{before['ece']:.4f} -> {after['ece']:.4f}; mean band ECE "
              f"{mean_band_ece(before):.4f} -> {mean_band_ece(after):.4f}")
        for band, b in before["by_age_band"].items():
            a = after["by_age_band"][band]
            print(f"  {band:>6} n={b['n']:5d}  accuracy {b['accuracy']:.4f} -> "
                  f"{a['accuracy']:.4f}  ECE {b['ece']:.4f} -> {a['ece']:.4f}")
    spec = fit_by_age(z, cat["female"], cat["est_age"])
    spec["fitted_on"] = {"manifest": str(args.manifest), "dev_sets": names,
                         "faces": int(len(z))}
    report.update(keep_calibration=bool(keep), spec=spec)
    print(f"rule: {'keep' if keep else 'do not keep'} the age-conditioned calibration")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    if args.write:
        from genderage.attribute import META_GENDER_BY_AGE
        from genderage.training.export import set_metadata

        set_metadata(args.model, {META_GENDER_BY_AGE: json.dumps(spec)})
        print(f"wrote {META_GENDER_BY_AGE} into {args.model}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
