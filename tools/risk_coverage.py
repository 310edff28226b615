"""Measure a model's gender risk-coverage per age band on each dev set; write it into its
metrics bundle, where the model card and users find the ``--min-gender-probability`` to use.

The model runs as the product runs it (``GenderAge(model)``, default detector) on the UTKFace
val split of the manifest (chips as aligned faces) and the AAF dev fold (photos through the
full pipeline, largest face), as ``tools/error_model.py`` does; the ``risk_coverage``
section of ``--bundle`` is (re)written (:func:`genderage.evaluation.risk_coverage.
measure_risk_coverage`): per dev set and age band, the gender accuracy when answering
100/95/90/80/70% of the faces (most confident first) and the threshold P that does it, and
the recommended P. Every other key of the bundle is kept. For a new model, run it on the
fp32 bundle (the model card's) and on the int8 bundle, then ``tools/make_model_card.py``:

    PYTHONPATH=src python tools/risk_coverage.py --model src/genderage/models/genderage.onnx \\
        --manifest splits/utkface_aaf_seed0.csv --bundle src/genderage/models/genderage.metrics.json
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
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

    from genderage.evaluation.risk_coverage import measure_risk_coverage
    from genderage.models import file_sha256

    try:
        bundle = json.loads(args.bundle.read_text())
    except (OSError, ValueError) as exc:
        print(f"{args.bundle}: cannot read the metrics bundle ({exc})", file=sys.stderr)
        return 2
    recorded = bundle.get("model", {}).get("sha256")
    if recorded != file_sha256(args.model):
        print(f"{args.bundle}: records model sha256 {recorded}, not that of {args.model}",
              file=sys.stderr)
        return 2
    try:
        section = measure_risk_coverage(args.model, args.manifest,
                                        {"utkface": args.utkface, "aaf": args.aaf})
    except (OSError, ValueError) as exc:
        print(f"cannot measure risk-coverage: {exc}", file=sys.stderr)
        return 2
    section["command"] = "PYTHONPATH=src python tools/risk_coverage.py " + shlex.join(
        argv if argv is not None else sys.argv[1:])
    bundle["risk_coverage"] = section
    args.bundle.write_text(json.dumps(bundle, indent=2) + "\n")
    rec = section["recommended"]
    print(f"recommended --min-gender-probability {rec['min_gender_probability']:.4f} "
          f"({rec['rule']})")
    for name, dev in section["dev_sets"].items():
        full, eighty = dev["all"][0], dev["all"][3]
        print(f"{name}: {dev['n']} faces; gender accuracy {full['accuracy']:.4f} answering all, "
              f"{eighty['accuracy']:.4f} answering {eighty['coverage']:.1%} "
              f"(P >= {eighty['threshold']:.4f})")
    print(f"wrote risk_coverage into {args.bundle}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
