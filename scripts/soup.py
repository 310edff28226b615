"""Average the weights of checkpoints from one trajectory into one checkpoint ("model soup").

    PYTHONPATH=src python scripts/soup.py runs/cos_rc/last.pt runs/warm30/last.pt \
        --out runs/soup/last.pt

The result loads like any checkpoint: `genderage evaluate runs/soup/last.pt ...`,
`genderage export runs/soup/last.pt --out model.onnx`.
"""

from __future__ import annotations

import argparse
import sys

from genderage.training.checkpoint import (
    average_checkpoints,
    load_checkpoint,
    save_checkpoint,
)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--weights", choices=("auto", "ema", "raw"), default="auto")
    args = ap.parse_args(argv)
    soup = average_checkpoints([load_checkpoint(p) for p in args.checkpoints], args.weights)
    soup["soup_sources"] = list(args.checkpoints)
    save_checkpoint(soup, args.out)
    print(f"averaged {len(args.checkpoints)} checkpoints into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
