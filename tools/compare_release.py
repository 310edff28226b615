"""Apply the v2 release rule: does a candidate model beat the shipped one on both dev sets?

Both models are scored on the same faces, with the same code:

* the UTKFace val split: each chip as an aligned face (``GenderAge.predict_batch(...,
  aligned=True)``: the chip resized to 112x112, as ``genderage evaluate`` does);
* the AAF dev fold of the manifest: each photo through the full pipeline (detection,
  alignment, model; the largest face), as ``genderage evaluate --photos ... --manifest`` does.

The rule (docs/training.md, "Release rule for v2"), per dev set, with paired standard errors
(the two models see the same faces): the candidate WINS a dev set if its gender accuracy is
higher by more than one SE and its MAE is not higher by more than one SE, or its MAE is lower
by more than one SE and its gender accuracy is not lower by more than one SE. It ships only
if it wins both dev sets.

    PYTHONPATH=src python tools/compare_release.py --baseline runs/teachers/genderage-v1.onnx \
        --candidate runs/v2_main/model.onnx --manifest splits/utkface_aaf_seed0.csv \
        --out runs/v2_main/release_rule.json
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


def predict(model: str, paths: list[Path], aligned: bool, batch: int = 64):
    """Per image: (gender index, age, P(female)) of its largest face, or None when no face
    was found."""
    from genderage.contract import gender_index
    from genderage.evaluation.photos import largest_faces
    from genderage.pipeline import GenderAge

    found = largest_faces(GenderAge(model), paths, aligned, batch)
    out = [None] * len(paths)
    for i, face in zip(found.index, found.faces):
        p = face.gender_probability
        out[i] = (gender_index(face.gender), face.age, p if face.gender == "female" else 1 - p)
    return out


def paired(gender, age, a, b) -> dict:
    """Accuracy and MAE of both models and their paired differences with standard errors;
    with P(female) as each prediction's third entry, also gender accuracy and ECE per band of
    true age (``gender_by_age_band``, :data:`genderage.evaluation.metrics.GENDER_BANDS`)."""
    keep = [i for i in range(len(gender)) if a[i] is not None and b[i] is not None]
    g, y = np.asarray(gender)[keep], np.asarray(age, float)[keep]
    ca = np.array([a[i][0] for i in keep]) == g
    cb = np.array([b[i][0] for i in keep]) == g
    ea = np.abs(np.array([a[i][1] for i in keep]) - y)
    eb = np.abs(np.array([b[i][1] for i in keep]) - y)
    n = len(keep)
    d_acc = cb.astype(float) - ca.astype(float)
    d_err = eb - ea
    from genderage.contract import AGE_BANDS, age_band, band_name

    bands = np.array([age_band(int(round(v))) for v in y])
    by_band = {}
    for k in range(len(AGE_BANDS)):
        m = bands == k
        if m.any():
            by_band[band_name(k)] = {"n": int(m.sum()),
                                     "baseline": [round(float(ca[m].mean()), 4), round(float(ea[m].mean()), 3)],
                                     "candidate": [round(float(cb[m].mean()), 4), round(float(eb[m].mean()), 3)]}
    from genderage.evaluation.metrics import label_scores

    scores = {name: label_scores(y, g, [m[i][1] for i in keep], [m[i][0] for i in keep])
              for name, m in (("baseline", a), ("candidate", b))}
    out = {"n": n,
            **{name: {k: s[k] for k in ("gender_accuracy", "age_mae")}
               for name, s in scores.items()},
            "delta_accuracy": round(float(d_acc.mean()), 4),
            "se_accuracy": round(float(d_acc.std(ddof=1) / np.sqrt(n)), 4),
            "delta_mae": round(float(d_err.mean()), 3),
            "se_mae": round(float(d_err.std(ddof=1) / np.sqrt(n)), 3),
            "by_age_band_accuracy_mae": by_band}
    if keep and len(a[keep[0]]) > 2:
        from genderage.evaluation.metrics import gender_by_band

        out["gender_by_age_band"] = {
            name: {band: {"n": v["n"], "accuracy": round(v["accuracy"], 4),
                          "ece": round(v["ece"], 4)}
                   for band, v in gender_by_band(y, g, [m[i][2] for i in keep]).items()}
            for name, m in (("baseline", a), ("candidate", b))}
    return out


def wins(d: dict) -> bool:
    better_gender = d["delta_accuracy"] > d["se_accuracy"] and d["delta_mae"] < d["se_mae"]
    better_age = d["delta_mae"] < -d["se_mae"] and d["delta_accuracy"] > -d["se_accuracy"]
    return bool(better_gender or better_age)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", required=True, help="the shipped model (ONNX)")
    ap.add_argument("--candidate", required=True, help="the candidate model (ONNX)")
    ap.add_argument("--manifest", type=Path, required=True, help="multi-source manifest")
    ap.add_argument("--utkface", type=Path, default=SHARED / "UTKFace")
    ap.add_argument("--aaf", type=Path, default=SHARED / "AAF")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)

    from genderage.data.split import read_manifest

    from genderage.detect.registry import detector_fingerprint

    report = {"command": "PYTHONPATH=src python tools/compare_release.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
              "baseline": str(args.baseline), "candidate": str(args.candidate),
              "detector": detector_fingerprint(None)}  # the default, for both models
    for name, root, source, aligned in (("utkface_val", args.utkface, "utkface", True),
                                        ("aaf_dev", args.aaf, "aaf", False)):
        rows = read_manifest(args.manifest, "val", source)
        paths = [root / r.file for r in rows]
        a = predict(args.baseline, paths, aligned)
        b = predict(args.candidate, paths, aligned)
        d = paired([r.gender for r in rows], [r.age for r in rows], a, b)
        d["detected"] = sum(x is not None for x in b)
        d["candidate_wins"] = wins(d)
        report[name] = d
    report["ship_candidate"] = report["utkface_val"]["candidate_wins"] and \
        report["aaf_dev"]["candidate_wins"]
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
