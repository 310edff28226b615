"""Measure a model's age and gender errors on each dev set; write them into its metrics bundle.

The model runs as the product runs it (``GenderAge(model)``, default detector) on

* the UTKFace val split of the manifest: each chip as an aligned face (``aligned=True``);
* the AAF dev fold of the manifest: each photo through the full pipeline, its largest face;

and the ``error_model`` section of ``--bundle`` is (re)written with, per dev set, the mean
age error and its SE, the error per true age band, the gender confusion counts overall and
per estimated age band (soft), and the true x estimated age-band matrix
(:func:`genderage.evaluation.error_model.dev_set_errors`). Every other key of the bundle is
kept. ``genderage report`` reads the section (docs/report.md, "Method").

    PYTHONPATH=src python tools/error_model.py --model src/genderage/models/genderage.int8.onnx \\
        --manifest splits/utkface_aaf_seed0.csv \\
        --bundle src/genderage/models/genderage.int8.metrics.json
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
DEV_SETS = (  # name, source in the manifest, aligned chips?, description
    ("utkface_val", "utkface", True, "UTKFace val split, chips as aligned faces"),
    ("aaf_dev", "aaf", False, "AAF dev fold, photos through the full pipeline, largest face"),
)


def largest_faces(analyzer, paths: list[Path], aligned: bool, batch: int = 64):
    """For each image with a face: its index, predicted female, age and ``age_probs`` row
    (``None`` when the model has none) of its largest face."""
    keep, female, age, probs = [], [], [], []
    for start in range(0, len(paths), batch):
        located = [analyzer.locate_image(p, aligned) for p in paths[start:start + batch]]
        results, out = analyzer.analyse(located)
        row = 0
        for i, result in enumerate(results):
            if result.faces:  # largest first: row `row` of the batch output is faces[0]
                keep.append(start + i)
                female.append(result.faces[0].gender == "female")
                age.append(result.faces[0].age)
                probs.append(None if out.age_probs is None else out.age_probs[row])
            row += len(result.faces)
    age_probs = None if not probs or probs[0] is None else np.stack(probs)
    return np.array(keep, int), np.array(female, bool), np.array(age, float), age_probs


def measure(model: Path, manifest: Path, roots: dict[str, Path]) -> dict:
    """The ``error_model`` section (without ``command``) of ``model`` on the manifest's dev sets."""
    from genderage import __version__
    from genderage.contract import gender_label
    from genderage.data.split import manifest_hash, read_manifest
    from genderage.evaluation.error_model import dev_set_errors
    from genderage.models import file_sha256
    from genderage.pipeline import GenderAge
    from genderage.report.stats import AGE_BANDS

    analyzer = GenderAge(model)
    sets = {}
    for name, source, aligned, description in DEV_SETS:
        rows = read_manifest(manifest, "val", source)
        if not rows:
            raise SystemExit(f"{manifest}: no {source} rows in split val")
        keep, female, age, age_probs = largest_faces(
            analyzer, [roots[source] / r.file for r in rows], aligned)
        kept = [rows[i] for i in keep]
        sets[name] = {"description": description, "images": len(rows),
                      **dev_set_errors(np.array([r.age for r in kept], float),
                                       np.array([gender_label(r.gender) == "female" for r in kept]),
                                       female, age, age_probs)}
    return {"model_sha256": file_sha256(model), "genderage_version": __version__,
            "flip_tta": False, "age_bands": list(AGE_BANDS),
            "age": "each face's mean of age_probs (the report's age), else its point age",
            "manifest": str(manifest), "manifest_sha256": manifest_hash(manifest),
            "dev_sets": sets}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True, help="the ONNX model")
    ap.add_argument("--manifest", type=Path, required=True, help="multi-source manifest")
    ap.add_argument("--bundle", type=Path, required=True,
                    help="the model's metrics bundle (JSON) to write the section into")
    ap.add_argument("--utkface", type=Path, default=SHARED / "UTKFace")
    ap.add_argument("--aaf", type=Path, default=SHARED / "AAF")
    args = ap.parse_args(argv)

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
    section = measure(args.model, args.manifest, {"utkface": args.utkface, "aaf": args.aaf})
    section["command"] = "PYTHONPATH=src python tools/error_model.py " + shlex.join(
        argv if argv is not None else sys.argv[1:])
    bundle["error_model"] = section
    args.bundle.write_text(json.dumps(bundle, indent=2) + "\n")
    for name, dev in section["dev_sets"].items():
        (ff, fm), (mf, mm) = dev["gender_confusion"]["rows_true"]
        print(f"{name}: {dev['n']} of {dev['images']} images; age bias "
              f"{dev['age_bias']['mean']:+.3f} (SE {dev['age_bias']['se']:.3f}); gender "
              f"accuracy {(ff + mm) / dev['n']:.4f}")
    print(f"wrote error_model into {args.bundle}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
