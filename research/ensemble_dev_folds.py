"""Models alone and averaged, on the two dev sets of the release rule, in one pass.

The ceiling check behind the v3d teacher (docs/experiments/2026-12-06-model-v3.md): each
model scores the UTKFace val split (chips as aligned faces) and the AAF dev fold (photos
through the full pipeline, the largest face) as ``tools/compare_release.py`` does; the
ensemble averages the models' P(female) and age with equal weights. Unlike
``research/eval_ensemble.py`` (all of AAF, older manifest), it keeps to the dev folds.

    PYTHONPATH=src python research/ensemble_dev_folds.py \
        --model runs/teachers/genderage-v2.onnx --model runs/v3c/model.onnx
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


def add_dev_set_arguments(ap: argparse.ArgumentParser) -> None:
    """``--model`` (repeatable) and where the release rule's dev sets are: the arguments of
    the studies that score models on them (also ``research/age_recalibration.py``)."""
    ap.add_argument("--model", action="append", required=True, type=Path)
    ap.add_argument("--manifest", type=Path, default=ROOT / "splits" / "utkface_aaf_seed0.csv")
    ap.add_argument("--utkface", type=Path, default=SHARED / "UTKFace")
    ap.add_argument("--aaf", type=Path, default=SHARED / "AAF")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dev_set_arguments(ap)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)

    from genderage.contract import gender_index
    from genderage.evaluation.error_model import dev_set_faces
    from genderage.evaluation.metrics import label_scores
    from genderage.pipeline import GenderAge

    report = {"command": "PYTHONPATH=src python research/ensemble_dev_folds.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))}
    roots = {"utkface": args.utkface, "aaf": args.aaf}
    runs = [dev_set_faces(GenderAge(m), args.manifest, roots) for m in args.model]
    for sets in zip(*runs):  # one dev set, every model
        # file -> (row, P(female), age) of its largest face, per model
        found = [{row.file: (row, f.female_probability, f.age)
                  for row, f in zip(s.rows, s.found.faces)} for s in sets]
        keep = sorted(set.intersection(*(set(a) for a in found)))
        rows = [found[0][k][0] for k in keep]
        p = np.array([[a[k][1] for k in keep] for a in found])
        est = np.array([[a[k][2] for k in keep] for a in found])
        scores = {}
        for label, pf, ag in [*((str(m), p[i], est[i]) for i, m in enumerate(args.model)),
                              ("mean of all", p.mean(0), est.mean(0))]:
            s = label_scores([r.age for r in rows], [r.gender for r in rows], ag,
                             [gender_index("female" if v > 0.5 else "male") for v in pf])
            scores[label] = {k: s[k] for k in ("gender_accuracy", "age_mae")}
        report[sets[0].name] = {"n": len(keep), "scores": scores}
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
