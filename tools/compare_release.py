"""Apply the v2 release rule: does a candidate model beat the shipped one on both dev sets?

Both models are scored on the same faces, with the same code: the dev sets of the error
model (:func:`genderage.evaluation.error_model.dev_set_faces`), the largest face of each image:

* the UTKFace val split: each chip as an aligned face (resized to 112x112, as ``genderage
  evaluate`` does);
* the AAF dev fold of the manifest: each photo through the full pipeline (detection,
  alignment, model), as ``genderage evaluate --photos ... --manifest`` does.

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


def faces_by_image(dev_set) -> dict[int, tuple]:
    """Image index -> (manifest row, (gender index, age, P(female)) of its largest face), for
    the images of a :class:`~genderage.evaluation.error_model.DevSetFaces` with a face."""
    from genderage.contract import gender_index

    out = {}
    for i, row, face in zip(dev_set.found.index, dev_set.rows, dev_set.found.faces):
        p = face.gender_probability
        out[int(i)] = row, (gender_index(face.gender), face.age,
                            p if face.gender == "female" else 1 - p)
    return out


def compare(baseline, candidate) -> dict:
    """The paired comparison of one dev set run through both models (the images in which
    both found a face), with the candidate's detections and whether it wins."""
    a, b = faces_by_image(baseline), faces_by_image(candidate)
    rows = {i: row for i, (row, _) in (a | b).items()}
    images = sorted(rows)
    d = paired([rows[i].gender for i in images], [rows[i].age for i in images],
               [a[i][1] if i in a else None for i in images],
               [b[i][1] if i in b else None for i in images])
    d["detected"] = len(b)
    d["candidate_wins"] = wins(d)
    return d


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

    from genderage.detect.registry import detector_fingerprint
    from genderage.evaluation.error_model import dev_set_faces
    from genderage.pipeline import GenderAge

    report = {"command": "PYTHONPATH=src python tools/compare_release.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
              "baseline": str(args.baseline), "candidate": str(args.candidate),
              "detector": detector_fingerprint(None)}  # the default, for both models
    roots = {"utkface": args.utkface, "aaf": args.aaf}
    try:
        baseline, candidate = [dev_set_faces(GenderAge(model), args.manifest, roots)
                               for model in (args.baseline, args.candidate)]
    except (OSError, ValueError) as exc:
        print(f"cannot compare the models: {exc}", file=sys.stderr)
        return 2
    for a, b in zip(baseline, candidate):
        report[a.name] = compare(a, b)
    report["ship_candidate"] = report["utkface_val"]["candidate_wins"] and \
        report["aaf_dev"]["candidate_wins"]
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
