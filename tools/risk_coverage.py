"""Measure a model's gender risk-coverage per age band on each dev set; write it into its
metrics bundle, where the model card and users find the ``--min-gender-probability`` to use.

The model runs as the product runs it (``GenderAge(model)``, default detector) on the UTKFace
val split of the manifest (chips as aligned faces) and the AAF dev fold (photos through the
full pipeline, largest face), as ``tools/error_model.py`` does; the ``risk_coverage``
section of ``--bundle`` is (re)written (:func:`genderage.evaluation.risk_coverage.
measure_risk_coverage`): per dev set and age band, the gender accuracy when answering
100/95/90/80/70% of the faces (most confident first) and the threshold P that does it, and
the recommended P. Every other key of the bundle is kept. After a release, one command
measures both shipped files (fp32, whose bundle the model card renders, and int8, which
``GenderAge()`` runs by default) and re-renders MODEL_CARD.md:

    PYTHONPATH=src python tools/risk_coverage.py --shipped

or one model and its bundle:

    PYTHONPATH=src python tools/risk_coverage.py --model src/genderage/models/genderage.onnx \\
        --manifest splits/utkface_aaf_seed0.csv --bundle src/genderage/models/genderage.metrics.json
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
MODELS = ROOT / "src" / "genderage" / "models"
SHIPPED = [(MODELS / "genderage.onnx", MODELS / "genderage.metrics.json"),
           (MODELS / "genderage.int8.onnx", MODELS / "genderage.int8.metrics.json")]
DEFAULT_MANIFEST = ROOT / "splits" / "utkface_aaf_seed0.csv"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = ap.add_mutually_exclusive_group(required=True)
    which.add_argument("--shipped", action="store_true",
                       help="both shipped models into their bundles, then MODEL_CARD.md")
    which.add_argument("--model", type=Path, help="the ONNX model")
    ap.add_argument("--bundle", type=Path,
                    help="with --model: its metrics bundle (JSON) to write the section into")
    ap.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST,
                    help="multi-source manifest (default: splits/utkface_aaf_seed0.csv)")
    ap.add_argument("--utkface", type=Path, default=SHARED / "UTKFace")
    ap.add_argument("--aaf", type=Path, default=SHARED / "AAF")
    args = ap.parse_args(argv)
    if args.model is not None and args.bundle is None:
        ap.error("--model needs --bundle")
    command = "PYTHONPATH=src python tools/risk_coverage.py " + shlex.join(
        argv if argv is not None else sys.argv[1:])
    pairs = [p for p in SHIPPED if p[0].is_file()] if args.shipped \
        else [(args.model, args.bundle)]
    for model, bundle in pairs:
        code = measure_into(model, bundle, args, command)
        if code:
            return code
    if args.shipped:
        from genderage.models.bundle import MetricsBundle
        from genderage.training.modelcard import render

        card = ROOT / "MODEL_CARD.md"
        card.write_text(render(MetricsBundle.read(SHIPPED[0][1]).sections))
        print(f"wrote {card}")
    return 0


def measure_into(model: Path, bundle_path: Path, args, command: str) -> int:
    """Measure ``model`` and write the section into ``bundle_path``; an exit status."""
    from genderage.evaluation.risk_coverage import measure_risk_coverage
    from genderage.models.bundle import BundleError, read_model_bundle

    try:
        bundle = read_model_bundle(bundle_path, model)
    except BundleError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        section = measure_risk_coverage(model, args.manifest,
                                        {"utkface": args.utkface, "aaf": args.aaf})
    except (OSError, ValueError) as exc:
        print(f"cannot measure risk-coverage: {exc}", file=sys.stderr)
        return 2
    section["command"] = command
    if Path(section["manifest"]).resolve().is_relative_to(ROOT):  # as the repo names it
        section["manifest"] = str(Path(section["manifest"]).resolve().relative_to(ROOT))
    bundle.replace(risk_coverage=section).write(bundle_path)
    rec = section["recommended"]
    print(f"recommended --min-gender-probability {rec['min_gender_probability']:.4f} "
          f"({rec['rule']})")
    for name, dev in section["dev_sets"].items():
        full, eighty = dev["all"][0], dev["all"][3]
        print(f"{name}: {dev['n']} faces; gender accuracy {full['accuracy']:.4f} answering all, "
              f"{eighty['accuracy']:.4f} answering {eighty['coverage']:.1%} "
              f"(P >= {eighty['threshold']:.4f})")
    print(f"wrote risk_coverage into {bundle_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
