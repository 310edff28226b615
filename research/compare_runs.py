"""Compare training runs epoch by epoch from their ``metrics.json`` logs.

Prints the monitored model's validation gender accuracy and age MAE (EMA weights when the
run kept them; the age-distribution expectation when the run has that head), every
``--every`` epochs and at the last epoch common to all runs. A run folder holding
``aaf.json`` (the ``metrics.json`` of ``genderage evaluate <run>/model.onnx --photos
../shared/data/AAF --out DIR``) also gets its All-Age-Faces gender accuracy and MAE.

    PYTHONPATH=src python research/compare_runs.py runs/abl20_standard runs/abl20_strong
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def headline(row: dict) -> tuple[float, float, float | None]:
    """(gender accuracy, age MAE, re-crop gender accuracy or None) of one epoch's row."""
    p = "ema_val_" if "ema_val_loss" in row else "val_"
    mae = row.get(f"{p}age_mae_expectation", row[f"{p}age_mae_regression"])
    return row[f"{p}gender_acc"], mae, row.get("recrop_val_gender_acc")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="training output folders")
    ap.add_argument("--every", type=int, default=5)
    args = ap.parse_args(argv)

    histories = {run.name: json.loads((run / "metrics.json").read_text()) for run in args.runs}
    last = min(len(h) for h in histories.values())
    epochs = sorted({e for e in range(args.every, last + 1, args.every)} | {last})
    print("epoch  " + "  ".join(f"{name:>28}" for name in histories))
    for epoch in epochs:
        cells = []
        for h in histories.values():
            acc, mae, rc = headline(h[epoch - 1])
            cells.append(f"{100 * acc:6.2f}% {mae:5.2f} y" + (f" rc {100 * rc:6.2f}%" if rc else ""))
        print(f"{epoch:5d}  " + "  ".join(f"{c:>28}" for c in cells))
    aaf = [run / "aaf.json" for run in args.runs]
    if any(path.is_file() for path in aaf):
        cells = []
        for path in aaf:
            report = json.loads(path.read_text()) if path.is_file() else None
            cells.append(f"{100 * report['gender_accuracy']:6.2f}% {report['age_mae']:5.2f} y"
                         if report else "-")
        print("  AAF  " + "  ".join(f"{c:>28}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
