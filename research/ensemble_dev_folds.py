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


def answers(model: Path, paths: list[Path], aligned: bool) -> dict[int, tuple[float, float]]:
    """Photo index -> (P(female), age) of its largest face."""
    from genderage.evaluation.photos import largest_faces
    from genderage.pipeline import GenderAge

    found = largest_faces(GenderAge(model), paths, aligned)
    return {int(i): (f.gender_probability if f.gender == "female" else 1 - f.gender_probability,
                     f.age) for i, f in zip(found.index, found.faces)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", required=True, type=Path)
    ap.add_argument("--manifest", type=Path, default=ROOT / "splits" / "utkface_aaf_seed0.csv")
    ap.add_argument("--utkface", type=Path, default=SHARED / "UTKFace")
    ap.add_argument("--aaf", type=Path, default=SHARED / "AAF")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)

    from genderage.contract import GENDER_LABELS
    from genderage.data.split import read_manifest

    report = {"command": "PYTHONPATH=src python research/ensemble_dev_folds.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))}
    for name, root, source, aligned in (("utkface_val", args.utkface, "utkface", True),
                                        ("aaf_dev", args.aaf, "aaf", False)):
        rows = read_manifest(args.manifest, "val", source)
        paths = [root / r.file for r in rows]
        per_model = [answers(m, paths, aligned) for m in args.model]
        keep = sorted(set.intersection(*(set(a) for a in per_model)))
        female = np.array([GENDER_LABELS[rows[i].gender] == "female" for i in keep])
        age = np.array([rows[i].age for i in keep], float)
        p = np.array([[a[i][0] for i in keep] for a in per_model])
        est = np.array([[a[i][1] for i in keep] for a in per_model])
        scores = {}
        for label, pf, ag in [*((str(m), p[k], est[k]) for k, m in enumerate(args.model)),
                              ("mean of all", p.mean(0), est.mean(0))]:
            scores[label] = {"gender_accuracy": round(float(((pf > 0.5) == female).mean()), 4),
                             "age_mae": round(float(np.abs(ag - age).mean()), 3)}
        report[name] = {"n": len(keep), "scores": scores}
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
