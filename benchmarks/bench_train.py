"""Training throughput (images/s) of a GenderAgeNet on this machine, fp32 vs bf16.

Usage: PYTHONPATH=src python benchmarks/bench_train.py [--arch card] [--steps 20] [--threads 2]
Times full optimizer steps (augmentation, forward, backward, Adam) at batch 64, 112x112;
prints the median over the timed steps after warm-up.
"""

import argparse
import statistics
import time

import torch

from genderage.training.arch import build_model, count_parameters, model_config
from genderage.training.augment import PRESETS, augment
from genderage.training.loop import bf16_supported


def bench(arch: str, precision: str, steps: int, batch: int, age_distribution: bool) -> float:
    model = build_model(model_config(arch, age_distribution=age_distribution)).train()
    bf16 = precision == "bf16"
    if bf16:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    g = torch.Generator().manual_seed(0)
    times = []
    for _ in range(steps + 3):
        t = time.perf_counter()
        x = augment(torch.rand(batch, 3, 112, 112, generator=g), PRESETS["standard"], g)
        if bf16:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(x)
        loss = sum(v.float().mean() for v in out.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    return batch / statistics.median(times[3:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="card")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--age-distribution", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    n = count_parameters(build_model(model_config(args.arch, age_distribution=args.age_distribution)))
    print(f"arch {args.arch} ({n:,} parameters), batch {args.batch}, {args.threads} threads, "
          f"bf16 supported: {bf16_supported()}")
    results = {}
    for precision in ("fp32", "bf16"):
        results[precision] = bench(args.arch, precision, args.steps, args.batch,
                                   args.age_distribution)
        print(f"{precision}: {results[precision]:.0f} images/s")
    print(f"bf16 / fp32: {results['bf16'] / results['fp32']:.2f}x")


if __name__ == "__main__":
    main()
