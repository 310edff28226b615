"""Would averaging the weights of v2 and a model warm-started from it (v3f) beat both?

A "model soup" (Wortsman et al. 2022): two exported attribute models with the same graph
(one fine-tuned from the other, so in one basin) are averaged initializer by initializer,
``(1 - w) * first + w * second``. The export folds each BatchNorm into its convolution, so the
average is taken over the folded weights. The result keeps the first file's metadata
(contract, preprocessing) and drops its calibration entries (gender temperature, age
interval), which belong to the first model alone; accuracy and MAE do not depend on them.
Score it with ``tools/compare_release.py`` (docs/experiments/2026-12-06-model-v3.md).

    PYTHONPATH=src python research/weight_soup.py --first runs/teachers/genderage-v2.onnx \\
        --second runs/v3f/model.onnx --weight 0.5 --out runs/soup/model.onnx
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

CALIBRATION_KEYS = ("genderage.gender_temperature", "genderage.age_interval",
                    "genderage.gender_calibration_by_age")


def soup(first: Path, second: Path, weight: float):
    """The averaged model (an ``onnx.ModelProto``). ValueError: the graphs differ."""
    import onnx
    from onnx import numpy_helper

    a, b = onnx.load(str(first)), onnx.load(str(second))
    if [n.op_type for n in a.graph.node] != [n.op_type for n in b.graph.node]:
        raise ValueError(f"{first} and {second} have different graphs")
    other = {i.name: numpy_helper.to_array(i) for i in b.graph.initializer}
    for init in a.graph.initializer:
        x = numpy_helper.to_array(init)
        y = other.get(init.name)
        if y is None or y.shape != x.shape:
            raise ValueError(f"{second}: no initializer {init.name} of shape {x.shape}")
        if x.dtype == np.float32:
            init.CopyFrom(numpy_helper.from_array(
                ((1 - weight) * x + weight * y).astype(np.float32), init.name))
        elif not np.array_equal(x, y):
            raise ValueError(f"{init.name}: non-float initializers differ")
    kept = [p for p in a.metadata_props if p.key not in CALIBRATION_KEYS]
    del a.metadata_props[:]
    a.metadata_props.extend(kept)
    return a


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--first", type=Path, required=True)
    ap.add_argument("--second", type=Path, required=True)
    ap.add_argument("--weight", type=float, default=0.5, help="the second model's share")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    if not 0 <= args.weight <= 1:
        ap.error(f"--weight must be in [0, 1], got {args.weight}")
    import onnx

    try:
        model = soup(args.first, args.second, args.weight)
    except (OSError, ValueError) as exc:
        print(f"weight_soup: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(args.out))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
