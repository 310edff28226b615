"""Gender accuracy and age MAE of models on degraded UTKFace val chips, one kind at a time.

Each chip of the UTKFace val split (every ``--step``-th) is degraded by one of
:data:`genderage.training.robust.KINDS` (the training-time degradations, seeded per kind),
and every model given is scored on the same degraded faces.

    PYTHONPATH=src python research/robustness.py --model runs/teachers/genderage-v1.onnx \
        --model runs/v2_s2/model.onnx --step 2
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--manifest", type=Path, default=ROOT / "splits" / "utkface_seed0.csv")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "UTKFace")
    ap.add_argument("--step", type=int, default=2)
    args = ap.parse_args(argv)

    from genderage.attribute import AttributeModel
    from genderage.data.split import read_manifest
    from genderage.evaluation.metrics import label_scores
    from genderage.imageio import read_image
    from genderage.preprocess import resize_face
    from genderage.training.robust import _APPLY, KINDS

    rows = read_manifest(args.manifest, "val", "utkface")[::args.step]
    faces = np.stack([resize_face(read_image(args.data / r.file)) for r in rows])
    gender = np.array([r.gender for r in rows])
    age = np.array([r.age for r in rows], float)
    sets = {"none": faces}
    for k, kind in enumerate(KINDS):
        rng = np.random.default_rng(k)
        sets[kind] = np.stack([_APPLY[kind](f, rng) for f in faces])
    report = {"n": len(rows), "models": {}}
    for path in args.model:
        model = AttributeModel(path)
        res = {}
        for name, x in sets.items():
            b = model.predict(x)
            s = label_scores(age, gender, b.age, b.gender_probs.argmax(1))
            res[name] = {k: s[k] for k in ("gender_accuracy", "age_mae")}
        report["models"][path] = res
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
