"""Int8 attribute model: onnxruntime static quantisation (QDQ), and its accuracy check.

Two commands; run them on whatever fp32 model ships (they read everything they need from
the file, and the int8 file records which fp32 file it came from):

    # fp32 -> int8, calibrated on UTKFace training chips (default: the shipped model ->
    # src/genderage/models/genderage.int8.onnx)
    PYTHONPATH=src python tools/quantize_model.py quantize

    # fp32 vs int8 on UTKFace val chips and on AAF through the pipeline; exit 1 if the int8
    # model loses more than 0.2 points of gender accuracy or 0.05 years of age MAE
    PYTHONPATH=src python tools/quantize_model.py check --bundle --out runs/int8_check.json

``--bundle`` also writes ``src/genderage/models/genderage.int8.metrics.json``: the int8
model's own validation metrics and confusion matrix under its own hash, which is where
``genderage report`` looks up the error rates of the model that made the predictions, and
its error model on the dev sets of ``--dev-manifest`` (the UTKFace val split and the AAF dev
fold; :func:`genderage.evaluation.error_model.measure_error_model`, as
``tools/error_model.py`` measures it), which the report corrects the mean age and the female
share per age band with.

The quantisation itself is :mod:`genderage.training.quantize` (the ``[train]`` extra brings
``onnx``); calibration faces go through the very preprocessing the model was trained with.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from genderage.models.bundle import MetricsBundle

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DEFAULT_SPLIT_CSV = ROOT / "splits" / "utkface_seed0.csv"

MAX_GENDER_DROP_POINTS = 0.2
MAX_MAE_INCREASE_YEARS = 0.05


def aaf_metrics(model, rows: list, crops: np.ndarray) -> dict:
    from genderage.evaluation.metrics import interval_coverage, label_scores

    out = [model.predict(crops[i:i + 256]) for i in range(0, len(crops), 256)]
    probs = np.concatenate([o.gender_probs for o in out])
    age = np.concatenate([o.age for o in out]).astype(float)
    interval = np.concatenate([o.age_interval for o in out])
    true_age = np.array([float(r.age) for r in rows])
    s = label_scores(true_age, [r.gender for r in rows], age, probs.argmax(1), rounded=False)
    return {**{k: s[k] for k in ("n", "gender_accuracy", "age_mae", "age_bias")},
            "age_interval_coverage": interval_coverage(true_age, interval)["coverage"]}


def batch1_ms(models: dict, faces: np.ndarray, rounds: int = 10, runs: int = 30) -> dict:
    """Median and p90 ms of ``predict`` on one face, the models interleaved round by round."""
    times = {name: [] for name in models}
    for m in models.values():
        for _ in range(10):
            m.predict(faces[:1])
    for r in range(rounds):
        for name, m in models.items():
            face = faces[r % len(faces)][None]
            for _ in range(runs):
                t0 = time.perf_counter()
                m.predict(face)
                times[name].append(1000 * (time.perf_counter() - t0))
    return {name: {"median": round(float(np.median(t)), 3),
                   "p90": round(float(np.percentile(t, 90)), 3)} for name, t in times.items()}


def check(fp32: Path, int8: Path, data_dir: Path, split_csv: Path, aaf: Path,
          aaf_limit: int | None) -> dict:
    """fp32 vs int8: UTKFace val chips (accuracy, MAE, gender ECE, interval coverage), AAF
    through detection + alignment, and batch-1 latency."""
    from genderage.attribute import AttributeModel
    from genderage.evaluation.evaluate import evaluate
    from genderage.models import file_sha256 as sha256
    from genderage.onnx_runtime import RuntimeOptions

    report: dict = {"fp32": str(fp32), "int8": str(int8), "int8_utkface_val_full": None}
    meta = AttributeModel(int8).metadata
    report["int8_made_from_this_fp32"] = meta.get("genderage.quantized_from_sha256") == sha256(fp32)
    for name, path in (("fp32", fp32), ("int8", int8)):
        r = evaluate(path, data_dir, split_csv, "val", plots=False)
        if name == "int8":
            report["int8_utkface_val_full"] = r
        report.setdefault("utkface_val", {})[name] = {
            "n": r["n"], "gender_accuracy": r["gender"]["accuracy"], "age_mae": r["age"]["mae"],
            "gender_ece": r["calibration"]["ece"],
            "age_interval_coverage": r["age_interval"]["coverage"],
            "age_interval_nominal": r["age_interval"]["nominal"]}
    two_threads = RuntimeOptions(threads=2)
    models = {"fp32": AttributeModel(fp32, two_threads), "int8": AttributeModel(int8, two_threads)}
    if (aaf / "labels.csv").is_file():
        # The pipeline's crops of each photo's largest face, so both models see the same.
        from genderage.evaluation.photos import largest_face_crops, load_labels

        labels = load_labels(aaf / "labels.csv", aaf_limit)
        rows, crops = largest_face_crops(aaf, labels)
        report["aaf"] = {name: aaf_metrics(m, rows, crops) for name, m in models.items()}
        report["aaf"]["images"] = len(labels)
        report["aaf"]["detection_rate"] = len(rows) / len(labels)
        faces = crops[:10]
    else:
        from genderage.imageio import read_image
        from genderage.preprocess import resize_face
        from genderage.data.split import read_manifest
        faces = np.stack([resize_face(read_image(data_dir / r.file), models["fp32"].preprocessing)
                          for r in read_manifest(split_csv, "val")[:10]])
    report["batch1_ms"] = batch1_ms(models, faces)
    verdict = []
    for dataset in ("utkface_val", "aaf"):
        if dataset not in report:
            continue
        a, b = report[dataset]["fp32"], report[dataset]["int8"]
        drop = 100 * (a["gender_accuracy"] - b["gender_accuracy"])
        worse = b["age_mae"] - a["age_mae"]
        report[dataset]["gender_drop_points"] = round(drop, 3)
        report[dataset]["age_mae_increase"] = round(worse, 4)
        verdict.append(drop <= MAX_GENDER_DROP_POINTS and worse <= MAX_MAE_INCREASE_YEARS)
    report["passed"] = bool(verdict) and all(verdict)
    return report


def metrics_bundle(int8: Path, report: dict) -> MetricsBundle:
    """The int8 model's metrics bundle (``<model>.metrics.json``, the form ``genderage report``
    reads its error rates from): its file and hash, the full UTKFace validation metrics and
    the AAF figures of ``report``. Flip-TTA mode is not measured for it."""
    from genderage.attribute import AttributeModel
    from genderage.models import file_sha256 as sha256

    meta = AttributeModel(int8).metadata
    val = dict(report["int8_utkface_val_full"])
    val.pop("model", None)
    bundle = {"model": {"file": int8.name, "sha256": sha256(int8), "bytes": int8.stat().st_size,
                        "precision": "int8",
                        "quantized_from_sha256": meta.get("genderage.quantized_from_sha256"),
                        "quantization": json.loads(meta.get("genderage.quantization", "{}"))},
              "utkface_val": val,
              "commands": {"check": report["command"]}}
    if "aaf" in report:
        aaf = report["aaf"]["int8"]
        bundle["aaf"] = {**aaf, "detection_rate": report["aaf"]["detection_rate"],
                         "images": report["aaf"]["images"]}
    return MetricsBundle(bundle)


def main(argv=None) -> int:
    from genderage.attribute import AttributeModel
    from genderage.models import DEFAULT_MODEL, INT8_MODEL
    from genderage.training.quantize import CALIBRATION_METHODS, calibration_faces, quantize

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    q = sub.add_parser("quantize", help="fp32 ONNX -> int8 QDQ ONNX")
    q.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="fp32 model (default: shipped)")
    q.add_argument("--out", type=Path, default=INT8_MODEL)
    q.add_argument("--calibration-faces", type=int, default=512)
    q.add_argument("--method", choices=CALIBRATION_METHODS, default="minmax")
    q.add_argument("--keep-float", nargs="*", default=None, metavar="NODE",
                   help="names of nodes to leave in float (default: the first convolution)")
    c = sub.add_parser("check", help="accuracy of the int8 model against its fp32 source")
    c.add_argument("--fp32", type=Path, default=DEFAULT_MODEL)
    c.add_argument("--int8", type=Path, default=INT8_MODEL)
    c.add_argument("--aaf", type=Path, default=SHARED / "AAF")
    c.add_argument("--aaf-limit", type=int, default=None, help="AAF images (evenly spaced)")
    c.add_argument("--out", type=Path, help="write the report as JSON here")
    c.add_argument("--bundle", type=Path, nargs="?", const=INT8_MODEL.with_suffix(".metrics.json"),
                   metavar="PATH", help="also write the int8 model's metrics bundle (default "
                   "path: beside the shipped int8 model, where `genderage report` finds it)")
    c.add_argument("--dev-manifest", type=Path, default=ROOT / "splits" / "utkface_aaf_seed0.csv",
                   help="multi-source manifest whose val rows the bundle's error model is "
                        "measured on (with --bundle)")
    for p in (q, c):
        p.add_argument("--data", type=Path, default=SHARED / "UTKFace")
        p.add_argument("--split-csv", type=Path, default=DEFAULT_SPLIT_CSV)
    args = ap.parse_args(argv)

    if args.command == "quantize":
        spec = AttributeModel(args.model).preprocessing
        faces = calibration_faces(args.data, args.split_csv, args.calibration_faces, spec)
        keep = None if args.keep_float is None else tuple(args.keep_float)
        print(json.dumps(quantize(args.model, args.out, faces, args.method, keep), indent=2))
        return 0
    report = check(args.fp32, args.int8, args.data, args.split_csv, args.aaf, args.aaf_limit)
    report["command"] = "PYTHONPATH=src python tools/quantize_model.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    full_val = report.pop("int8_utkface_val_full")
    print(json.dumps(report, indent=2))
    if args.bundle:
        report["int8_utkface_val_full"] = full_val
        bundle = metrics_bundle(args.int8, report)
        report.pop("int8_utkface_val_full")
        from dataclasses import replace

        from genderage.evaluation.error_model import measure_error_model

        errors = measure_error_model(args.int8, args.dev_manifest,
                                     {"utkface": args.data, "aaf": args.aaf})
        bundle.replace(error_model=replace(errors, command=report["command"])).write(args.bundle)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
