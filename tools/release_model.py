"""Export, calibrate and evaluate a trained checkpoint as the shipped default model.

Writes src/genderage/models/genderage.onnx, its metrics bundle genderage.metrics.json
(everything MODEL_CARD.md reports, and the error model `genderage report` corrects with:
measured on the dev sets of --dev-manifest as tools/error_model.py measures it), the
evaluation plots under docs/img/, and MODEL_CARD.md. The int8 model's bundle, error model
included, is written by `tools/quantize_model.py check --bundle` (docs/training.md).

Usage (the shipped model):
  PYTHONPATH=src python tools/release_model.py --run runs/shipped --weights ema \
      --age-output expectation --aaf-json runs/aaf_eval/metrics.json \
      --ablations-json runs/ablations.json
(the whole sequence is the "commands" list of genderage.metrics.json).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import shlex
import shutil
import statistics
from dataclasses import replace
from pathlib import Path

import numpy as np

from genderage import __version__
from genderage.attribute import AttributeModel, softmax
from genderage.data.split import manifest_hash, read_manifest
from genderage.evaluation.error_model import measure_error_model
from genderage.evaluation.evaluate import evaluate, load_faces_plain
from genderage.evaluation.metrics import calibration
from genderage.models.bundle import MetricsBundle
from genderage.training.modelcard import recipe_summary, render
from genderage.training.record import read_run_record
from genderage.training.calibration import calibrate_checkpoint
from genderage.training.checkpoint import load_checkpoint
from genderage.training.export import export_onnx

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "src" / "genderage" / "models"


def data_summary(check: dict, manifest: Path, seed: int) -> dict:
    rows = read_manifest(manifest)
    return {"files": check["files"], "malformed": check["skipped"].get("malformed_name", 0),
            "unreadable": check["skipped"].get("unreadable", 0),
            "exact_groups": check["exact_duplicates"]["groups"],
            "exact_files": check["exact_duplicates"]["files"],
            "near_groups": check["near_duplicates"]["groups"],
            "near_files": check["near_duplicates"]["files"],
            "conflict_groups": check["label_conflicts"]["groups"],
            "conflict_files": check["label_conflicts"]["files"],
            "gender_conflicts": check["label_conflicts"]["gender_conflicts"],
            "race": check["race"], "age_band": check["age_band"], "gender": check["gender"],
            "train": sum(r.split == "train" for r in rows),
            "val": sum(r.split == "val" for r in rows),
            "seed": seed, "manifest": str(manifest.relative_to(ROOT)),
            "manifest_sha256": manifest_hash(manifest)}


def sources_summary(manifest: Path) -> dict | None:
    """Per source of a multi-source training manifest: name, terms, train and dev counts;
    ``None`` for a manifest with one source."""
    from genderage.data.sources import SOURCE_TERMS

    rows = read_manifest(ROOT / manifest)
    names = sorted({r.source for r in rows}, key=lambda n: (n != "utkface", n))
    if len(names) < 2:
        return None
    return {"manifest": str(manifest), "manifest_sha256": manifest_hash(ROOT / manifest),
            "sources": {n: {**SOURCE_TERMS[n],
                            "train": sum(r.source == n and r.split == "train" for r in rows),
                            "dev": sum(r.source == n and r.split == "val" for r in rows)}
                        for n in names}}


def init_summary(init: str | None, previous: dict | None) -> dict | None:
    """The weights a run started from; with the training time behind them when they are the
    previous release's file (its bundle given)."""
    if not init:
        return None
    from genderage.models import file_sha256

    sha = file_sha256(ROOT / init)
    out = {"file": Path(init).name, "sha256": sha}
    if previous and previous.get("model", {}).get("sha256") == sha:
        out["train_seconds"] = previous["training"]["train_seconds"]
        out["release"] = previous.get("genderage_version")
    return out


def embed_gender_by_age(onnx_path: Path, report_path: Path) -> dict:
    """Write the calibration spec of a ``tools/calibrate_gender_by_age.py`` report into the
    freshly exported file; returns what the bundle records (spec, cross-fitted figures)."""
    from genderage.attribute import META_GENDER_BY_AGE
    from genderage.models import file_sha256
    from genderage.training.export import set_metadata

    report = json.loads(report_path.read_text())
    if report.get("model_sha256") != file_sha256(onnx_path):
        raise SystemExit(f"{report_path}: fitted on a file with sha256 "
                         f"{report.get('model_sha256')}, not this export of {onnx_path}")
    if not report.get("keep_calibration"):
        raise SystemExit(f"{report_path}: its rule did not keep the calibration")
    set_metadata(onnx_path, {META_GENDER_BY_AGE: json.dumps(report["spec"])})
    return {"spec": report["spec"], "command": report["command"],
            "dev_sets": report["dev_sets"]}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def with_first_pass(commands: list[str]) -> list[str]:
    """The AAF evaluations score the shipped file, so the release runs twice: once to write
    the ONNX file (export is deterministic: same bytes), then again with their reports."""
    release = next(c for c in commands if "tools/release_model.py" in c)
    first = release.split(" --aaf-json")[0] + "   # first pass: writes the ONNX file"
    at = next(i for i, c in enumerate(commands) if "--photos" in c)
    return commands[:at] + [first] + commands[at:]


def source_commands(cfg: dict, sources: dict | None, previous_commit: str,
                    split_detector: str | None = None) -> list[str]:
    """The commands that make a multi-source run's inputs: its manifest and the previous
    model's file it starts from."""
    out = []
    if sources:
        extra = " ".join(f"{k}={v}" for k, v in cfg.get("sources", {}).items())
        det = f" --detector {split_detector}" if split_detector else ""
        out.append(f"genderage data split {cfg['data_dir']} {extra}{det} --out {sources['manifest']}")
    if (cfg.get("init") or "").endswith(".onnx"):
        out.append(f"git show {previous_commit}:src/genderage/models/genderage.onnx > "
                   f"{cfg['init']}")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, default=ROOT / "runs" / "shipped")
    p.add_argument("--checkpoint", default="best.pt")
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "UTKFace")
    p.add_argument("--manifest", type=Path, default=ROOT / "splits" / "utkface_seed0.csv")
    p.add_argument("--check-report", type=Path, default=ROOT / "splits" / "utkface_check.json")
    p.add_argument("--weights", default="ema")
    p.add_argument("--age-output", default=None)
    p.add_argument("--flip-tta", action="store_true")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--aaf-json", type=Path)
    p.add_argument("--ablations-json", type=Path)
    p.add_argument("--aaf-flip-json", type=Path,
                   help="`genderage evaluate --photos --flip-tta` report (metrics.json), for the "
                        "accuracy-mode table")
    p.add_argument("--previous-bundle", type=Path,
                   help="metrics bundle of the release this one replaces, for the recipe table")
    p.add_argument("--previous-name", default="previous release")
    p.add_argument("--recipe", help="a recipe file that reproduces the run (e.g. configs/v2.json), "
                                    "for the card and the commands, when the run was started "
                                    "with flags")
    p.add_argument("--split-detector", help="the detector `genderage data split` used for the "
                                            "manifest's landmarks (e.g. mtcnn-v1)")
    p.add_argument("--previous-commit", default="<previous release>",
                   help="git commit of the release this one replaces (for the commands)")
    p.add_argument("--dev-manifest", type=Path, default=ROOT / "splits" / "utkface_aaf_seed0.csv",
                   help="multi-source manifest whose val rows (UTKFace val, AAF dev fold) the "
                        "bundle's error model is measured on")
    p.add_argument("--aaf", type=Path, default=ROOT.parent / "shared" / "data" / "AAF")
    p.add_argument("--gender-by-age", type=Path, metavar="REPORT",
                   help="embed the age-conditioned gender calibration of this report of "
                        "tools/calibrate_gender_by_age.py, run on this release's first-pass "
                        "export (refused unless the file is the one it was fitted on and its "
                        "rule kept it)")
    args = p.parse_args()

    ckpt = args.run / args.checkpoint
    onnx_path = MODELS / "genderage.onnx"
    cal = calibrate_checkpoint(ckpt, args.data, args.manifest, args.weights, args.flip_tta,
                               args.age_output)
    exp = export_onnx(ckpt, onnx_path, args.opset, args.weights, args.flip_tta,
                      args.age_output, cal)
    if args.gender_by_age:
        cal["gender_by_age"] = embed_gender_by_age(onnx_path, args.gender_by_age)

    # ECE before temperature scaling, for the card.
    val_rows = read_manifest(args.manifest, "val")
    model = AttributeModel(onnx_path)
    raw = model.predict(load_faces_plain(args.data, val_rows, model.preprocessing)).logits
    genders = np.array([r.gender for r in val_rows])
    cal["uncalibrated_ece"] = calibration(genders, softmax(raw[:, :2].astype(float)))["ece"]

    eval_dir = ROOT / "runs" / "release_eval"
    val = evaluate(onnx_path, args.data, args.manifest, "val", eval_dir)
    val_flip = None
    if not args.flip_tta:  # the accuracy mode: the same file with flip_tta=True at run time
        val_flip = evaluate(onnx_path, args.data, args.manifest, "val",
                            ROOT / "runs" / "release_eval_flip", flip_tta=True, plots=False)
    img = ROOT / "docs" / "img"
    img.mkdir(parents=True, exist_ok=True)
    for png in eval_dir.glob("*.png"):
        shutil.copy(png, img / png.name)
    shutil.copy(args.run / "learning_curves.png", img / "learning_curves.png")

    summary = json.loads((args.run / "summary.json").read_text())
    record = read_run_record(args.run)
    cfg = record["train_config"]
    command = ("genderage " + shlex.join(record["argv"]) if record["argv"] else
               f"genderage train --config {args.run}/run.json")
    argv = record["argv"] or []
    recipe = argv[argv.index("--config") + 1] if "--config" in argv[:-1] else args.recipe
    training = {"command": command, "recipe": recipe, "config": cfg,
                "git_commit": record["git_commit"],
                "genderage_version": record["genderage_version"],
                "epochs_run": summary["epochs_run"],
                "best_epoch": summary["best_epoch"], "train_seconds": summary["train_seconds"],
                "checkpoint": args.checkpoint, "checkpoint_epoch": load_checkpoint(ckpt)["epoch"],
                "images_per_s": statistics.median(r["train_images_per_s"]
                                                  for r in summary["history"]),
                "precision": summary["precision"], "threads": summary["threads"],
                "hardware": f"{cpu_name()}, {summary['threads']} threads",
                "parameters": summary["parameters"]}
    previous = MetricsBundle.read(args.previous_bundle).sections if args.previous_bundle \
        else None
    sources = sources_summary(Path(cfg["manifest"]))
    training["init"] = init_summary(cfg.get("init"), previous)
    check = json.loads(args.check_report.read_text())
    run_name = args.run.relative_to(ROOT) if args.run.is_absolute() else args.run
    aaf_subset = (f" --manifest {sources['manifest']} --split val" if sources else "")
    blob = onnx_path.read_bytes()
    contract = json.loads(model.metadata["genderage.contract"])
    bundle = {
        "genderage_version": __version__,
        "model": {"file": onnx_path.name, "sha256": hashlib.sha256(blob).hexdigest(),
                  "bytes": len(blob), "opset": args.opset, "parameters": summary["parameters"],
                  "arch": contract["arch"], "weights": args.weights,
                  "age_output": contract["age_output"], "flip_tta": args.flip_tta,
                  "parity_max_abs_diff": exp["parity_max_abs_diff"]},
        "data": data_summary(check, args.manifest, 0),
        "training": training,
        "calibration": cal,
        "utkface_val": {k: v for k, v in val.items() if k not in ("model", "data")},
        "aaf": json.loads(args.aaf_json.read_text()) if args.aaf_json else None,
        "ablations": json.loads(args.ablations_json.read_text()) if args.ablations_json else None,
        "flip_tta_mode": None if val_flip is None else {
            "utkface_val": {k: v for k, v in val_flip.items() if k not in ("model", "data")},
            "aaf": json.loads(args.aaf_flip_json.read_text()) if args.aaf_flip_json else None},
        "sources": sources,
        "commands": [
            "genderage data split ../shared/data/UTKFace --out splits/utkface_seed0.csv "
            "--report splits/utkface_check.json",
            *source_commands(cfg, sources, args.previous_commit, args.split_detector),
            command if recipe is None or "--config" in argv else
            f"genderage train --config {recipe} --out {run_name}",
            f"PYTHONPATH=src python tools/ablate.py --run {args.run} --checkpoint "
            f"{args.checkpoint} --out runs/ablations.json",
            f"genderage evaluate --photos ../shared/data/AAF{aaf_subset} --out runs/aaf_eval",
            f"genderage evaluate --photos ../shared/data/AAF{aaf_subset} --flip-tta "
            "--out runs/aaf_eval_flip",
            f"PYTHONPATH=src python tools/release_model.py --run {args.run} "
            f"--checkpoint {args.checkpoint} " + " ".join(
                f"--{k.replace('_', '-')} {v}" for k, v in (
                    ("weights", args.weights), ("age_output", args.age_output))
                if v) + (" --flip-tta" if args.flip_tta else "")
            + (" --aaf-json runs/aaf_eval/metrics.json" if args.aaf_json else "")
            + (" --ablations-json runs/ablations.json" if args.ablations_json else "")
            + (" --aaf-flip-json runs/aaf_eval_flip/metrics.json" if args.aaf_flip_json else "")
            + (f" --recipe {args.recipe}" if args.recipe else "")
            + (f" --split-detector {args.split_detector}" if args.split_detector else ""),
            "genderage evaluate src/genderage/models/genderage.onnx --data "
            "../shared/data/UTKFace --manifest splits/utkface_seed0.csv --split val",
        ],
    }
    if previous:
        prev = previous
        rows = prev.get("recipes") or [recipe_summary(prev, args.previous_name)]
        rows[-1] = {**rows[-1], "name": args.previous_name}
        bundle["recipes"] = [*rows, recipe_summary(bundle, "this release")]
        bundle["commands"].insert(-2, f"git show {args.previous_commit}:src/genderage/models/"
                                      "genderage.metrics.json > runs/previous_metrics.json")
        bundle["commands"][-2] += (f" --previous-bundle runs/previous_metrics.json "
                                   f"--previous-name '{args.previous_name}'"
                                   + (f" --previous-commit {args.previous_commit}"
                                      if args.previous_commit != "<previous release>" else ""))
    bundle["commands"] = with_first_pass(bundle["commands"])
    dev_manifest = args.dev_manifest.resolve()
    if dev_manifest.is_relative_to(ROOT):
        dev_manifest = dev_manifest.relative_to(ROOT)
    errors = replace(
        measure_error_model(onnx_path, args.dev_manifest, {"utkface": args.data,
                                                           "aaf": args.aaf}),
        command="PYTHONPATH=src python tools/error_model.py --model src/genderage/models/"
                f"genderage.onnx --manifest {dev_manifest} --bundle "
                "src/genderage/models/genderage.metrics.json")
    written = MetricsBundle(bundle).replace(error_model=errors)
    written.write(MODELS / "genderage.metrics.json")
    (ROOT / "MODEL_CARD.md").write_text(render(written.sections))
    print(f"wrote {onnx_path}, genderage.metrics.json and MODEL_CARD.md: gender "
          f"{100 * val['gender']['accuracy']:.2f}%, age MAE {val['age']['mae']:.2f}")


if __name__ == "__main__":
    main()
