"""Score models alone and averaged together, on UTKFace validation and on AAF, in one pass.

The ceiling check of docs/experiments (see research/README.md); the scoring lives in
:mod:`genderage.evaluation.ensemble`. The AAF detections are computed once and kept in
``--aaf-cache`` (about 250 MB of aligned crops; delete it after a detector change).

    PYTHONPATH=src python research/eval_ensemble.py --model src/genderage/models/genderage.onnx \
        --model runs/first_release.onnx --out runs/ensemble.json
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from genderage.evaluation.ensemble import evaluate_ensemble

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", required=True, type=Path,
                    help="an ONNX model (repeat to average several)")
    ap.add_argument("--flip-tta", action="store_true", help="also average each mirror image")
    ap.add_argument("--data", type=Path, default=SHARED / "UTKFace")
    ap.add_argument("--manifest", type=Path, default=ROOT / "splits" / "utkface_seed0.csv")
    ap.add_argument("--aaf", type=Path, default=SHARED / "AAF")
    ap.add_argument("--aaf-cache", type=Path, default=ROOT / "runs" / "aaf_crops.npz")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)

    report = evaluate_ensemble(args.model, args.data, args.manifest, args.aaf,
                               args.aaf / "labels.csv", args.aaf_cache, args.flip_tta)
    report["command"] = "PYTHONPATH=src python research/eval_ensemble.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))

    rows_out = [(m["model"], m) for m in report["models"]] + (
        [("average", report["average"])] if "average" in report else [])
    print(f"{'model':44s} {'val gender':>10s} {'MAE':>6s} {'within 5':>8s} "
          f"{'AAF gender':>10s} {'MAE':>6s} {'0-17 gender':>11s}")
    for name, r in rows_out:
        v, a = r["utkface_val"], r["aaf"]
        print(f"{name[-44:]:44s} {100 * v['gender_accuracy']:9.2f}% {v['age_mae']:6.2f} "
              f"{100 * v['within_5']:7.2f}% {100 * a['gender_accuracy']:9.2f}% {a['age_mae']:6.2f} "
              + (f"{100 * a['gender_accuracy_0_17']:10.1f}%" if a["gender_accuracy_0_17"]
                 is not None else f"{'-':>11s}"))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
