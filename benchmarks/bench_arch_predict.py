"""Predict-stage time of architectures against a reference ONNX model, in one run.

Each architecture is built with random weights and exported to ONNX (weights do not change
the time); then every model's onnxruntime session predicts one 112x112 face, the models
interleaved round by round so a loaded host slows them alike. Prints the median
milliseconds and the ratio to the reference (the shipped model by default).

    PYTHONPATH=src python benchmarks/bench_arch_predict.py --archs card resnet_s --rounds 30

``--models NAME=PATH ...`` adds existing ONNX files (e.g. an int8 copy, which a random
export cannot give) to the same interleaved rounds; ``--archs`` may then be empty.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path


def export_random(arch: str, out: Path) -> Path:
    import torch

    from genderage.training.arch import ContractModule, build_model, model_config

    net = build_model(model_config(arch, age_distribution=True, age_output="expectation")).eval()
    torch.onnx.export(ContractModule(net), (torch.rand(1, 3, 112, 112),), str(out), dynamo=False,
                      opset_version=17, input_names=["input"], output_names=["output", "age_probs"],
                      dynamic_axes={n: {0: "N"} for n in ("input", "output", "age_probs")})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", nargs="*", default=["card", "resnet_s"])
    ap.add_argument("--models", nargs="*", default=[], metavar="NAME=PATH",
                    help="existing ONNX files to time too")
    ap.add_argument("--reference", default=None, help="ONNX model (default: the shipped one)")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--runs", type=int, default=20, help="predictions per model per round")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    import numpy as np
    import onnxruntime as ort

    from genderage.pipeline import resolve_model_path

    tmp = Path(tempfile.mkdtemp())
    models = {"reference": str(resolve_model_path(args.reference))}
    for arch in args.archs:
        models[arch] = str(export_random(arch, tmp / f"{arch}.onnx"))
    for item in args.models:
        name, sep, path = item.partition("=")
        if not sep or not Path(path).is_file():
            print(f"--models {item}: expected NAME=PATH of an existing ONNX file",
                  file=sys.stderr)
            return 2
        models[name] = path
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    sessions = {k: ort.InferenceSession(p, opts, providers=["CPUExecutionProvider"])
                for k, p in models.items()}
    x = np.random.default_rng(0).random((1, 3, 112, 112), dtype=np.float32)
    times: dict[str, list[float]] = {k: [] for k in sessions}
    for _ in range(args.rounds):
        for k, s in sessions.items():
            s.run(None, {"input": x})
            t = time.perf_counter()
            for _ in range(args.runs):
                s.run(None, {"input": x})
            times[k].append(1000 * (time.perf_counter() - t) / args.runs)
    ref = statistics.median(times["reference"])
    report = {k: {"median_ms": round(statistics.median(v), 3),
                  "ratio_to_reference": round(statistics.median(v) / ref, 3)}
              for k, v in times.items()}
    print(json.dumps({"threads": args.threads, "rounds": args.rounds, "runs": args.runs,
                      "reference": models["reference"], "models": report}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
