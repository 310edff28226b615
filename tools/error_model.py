"""Measure a model's age and gender errors on each dev set; write them into its metrics bundle.

The model runs as the product runs it (``GenderAge(model)``, default detector) on

* the UTKFace val split of the manifest: each chip as an aligned face (``aligned=True``);
* the AAF dev fold of the manifest: each photo through the full pipeline, its largest face;

and the ``error_model`` section of ``--bundle`` is (re)written with, per dev set, the mean
age error and its SE, the error per true age band, the gender confusion counts overall and
per estimated age band (soft), and the true x estimated age-band matrix
(:func:`genderage.evaluation.error_model.measure_error_model`). Every other key of the bundle is
kept. ``genderage report`` reads the section (docs/report.md, "Method").

    PYTHONPATH=src python tools/error_model.py --model src/genderage/models/genderage.int8.onnx \\
        --manifest splits/utkface_aaf_seed0.csv \\
        --bundle src/genderage/models/genderage.int8.metrics.json
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True, help="the ONNX model")
    ap.add_argument("--manifest", type=Path, required=True, help="multi-source manifest")
    ap.add_argument("--bundle", type=Path, required=True,
                    help="the model's metrics bundle (JSON) to write the section into")
    ap.add_argument("--utkface", type=Path, default=SHARED / "UTKFace")
    ap.add_argument("--aaf", type=Path, default=SHARED / "AAF")
    args = ap.parse_args(argv)

    from genderage.evaluation.error_model import measure_error_model
    from genderage.models.bundle import BundleError, read_model_bundle

    try:
        bundle = read_model_bundle(args.bundle, args.model)
    except BundleError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        section = measure_error_model(args.model, args.manifest,
                                      {"utkface": args.utkface, "aaf": args.aaf})
    except (OSError, ValueError) as exc:
        print(f"cannot measure the error model: {exc}", file=sys.stderr)
        return 2
    section = replace(section, command="PYTHONPATH=src python tools/error_model.py "
                      + shlex.join(argv if argv is not None else sys.argv[1:]))
    bundle.replace(error_model=section).write(args.bundle)
    for name, dev in section.dev_sets.items():
        right = dev.gender_confusion.tp + dev.gender_confusion.tn
        print(f"{name}: {dev.n} of {dev.images} images; age bias "
              f"{dev.age_bias.mean:+.3f} (SE {dev.age_bias.se:.3f}); gender "
              f"accuracy {right / dev.n:.4f}")
    print(f"wrote error_model into {args.bundle}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
