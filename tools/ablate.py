"""Measure, on the validation split, the choices available from one training run.

For raw vs EMA weights, with and without mirror test-time augmentation, and for the three
age estimates (regression head, expectation of the age distribution, their mean), prints
gender accuracy, age MAE and within-5-years, and writes them as JSON.

Usage: PYTHONPATH=src python tools/ablate.py --run runs/shipped --out runs/ablations.json
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from genderage.contract import AGE_SCALE
from genderage.data.split import read_manifest
from genderage.evaluation.evaluate import load_faces_plain
from genderage.preprocess import to_input
from genderage.training.checkpoint import (
    checkpoint_preprocessing,
    load_checkpoint,
    model_from_checkpoint,
)

ROOT = Path(__file__).resolve().parents[1]


@torch.no_grad()
def heads(net, x: np.ndarray, flip: bool) -> dict[str, np.ndarray]:
    """Gender probabilities and the age estimates, averaged over the mirror image if asked."""
    def once(t):
        out = net(t)
        res = {"gender": torch.softmax(out["gender_logits"], 1), "regression": out["age_reg"] * AGE_SCALE}
        if "age_logits" in out:
            res["expectation"] = (torch.softmax(out["age_logits"], 1) * net.ages).sum(1)
        return res

    results = []
    for i in range(0, len(x), 256):
        t = torch.from_numpy(x[i:i + 256])
        r = once(t)
        if flip:
            r2 = once(torch.flip(t, dims=[3]))
            r = {k: 0.5 * (v + r2[k]) for k, v in r.items()}
        results.append(r)
    out = {k: torch.cat([r[k] for r in results]).numpy() for k in results[0]}
    if "expectation" in out:
        out["mean"] = 0.5 * (out["regression"] + out["expectation"])
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, default=ROOT / "runs" / "shipped")
    p.add_argument("--checkpoint", default="best.pt")
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "UTKFace")
    p.add_argument("--manifest", type=Path, default=ROOT / "splits" / "utkface_seed0.csv")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "ablations.json")
    args = p.parse_args()

    state = load_checkpoint(args.run / args.checkpoint)
    rows = read_manifest(args.manifest, "val")
    spec = checkpoint_preprocessing(state)
    x = to_input(load_faces_plain(args.data, rows, spec), spec)
    age = np.array([r.age for r in rows], float)
    gender = np.array([r.gender for r in rows])
    table = []
    for weights in ("raw", "ema"):
        if weights == "ema" and not state.get("ema_state"):
            continue
        net = model_from_checkpoint(state, weights)
        for flip in (False, True):
            h = heads(net, x, flip)
            acc = float((h["gender"].argmax(1) == gender).mean())
            for est in ("regression", "expectation", "mean"):
                if est not in h:
                    continue
                err = np.abs(h[est] - age)
                row = {"weights": weights, "flip_tta": flip, "age_output": est,
                       "gender_accuracy": acc, "age_mae": float(err.mean()),
                       "within_5": float((err <= 5).mean()), "epoch": state["epoch"]}
                table.append(row)
                print(f"{weights:4} flip={flip!s:5} {est:11} acc {100 * acc:.2f}%  "
                      f"MAE {row['age_mae']:.3f}  <=5y {100 * row['within_5']:.1f}%")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(table, indent=2) + "\n")


if __name__ == "__main__":
    main()
