"""Images/s of `genderage predict` in one process vs `genderage batch` (local engine with 1
and 2 workers, Ray engine with 1 and 2 actors), on the same AAF photos, all in one run.

Each configuration analyses the same N photos from scratch (a fresh output folder) and is
timed from the first call to the last row written, model loading and worker/actor start-up
included. Ray itself is started once beforehand (as a running cluster would be), with a
small object store; its start-up time is printed apart. The machine's load average is
printed too: on a shared host the figures move with it.

    PYTHONPATH=src python benchmarks/bench_batch.py --images 2000
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AAF_IMAGES = ROOT.parent / "shared" / "data" / "AAF" / "images"


def time_predict(paths: list[str], batch_size: int) -> float:
    """What `genderage predict` does: one process, one analyzer, chunks of batch_size."""
    from genderage import GenderAge

    start = time.perf_counter()
    analyzer = GenderAge()
    for i in range(0, len(paths), batch_size):
        analyzer.predict_batch(paths[i:i + batch_size])
    return time.perf_counter() - start


def time_batch(paths: list[str], out: Path, engine: str, workers: int, batch_size: int) -> float:
    from genderage.batch import BatchJob, BatchOptions
    from genderage.batch.engines import EngineSettings, create_engine

    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    summary = BatchJob(paths, str(out), BatchOptions()).run(
        create_engine(engine, EngineSettings(workers)), batch_size)
    elapsed = time.perf_counter() - start
    assert summary.new_images == len(paths), summary
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=2000, help="AAF photos (default 2000)")
    parser.add_argument("--aaf", type=Path, default=AAF_IMAGES, help="AAF images folder")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--object-store-mb", type=int, default=200,
                        help="Ray object store (default 200 MB)")
    args = parser.parse_args()
    if not args.aaf.is_dir():
        print(f"{args.aaf} is absent: this benchmark needs the AAF photos", file=sys.stderr)
        return 2
    paths = sorted(str(p) for p in args.aaf.iterdir() if p.suffix.lower() == ".jpg")
    paths = paths[:args.images]
    print(f"{len(paths)} AAF photos, batch size {args.batch_size}, {os.cpu_count()} cores, "
          f"load average before: {os.getloadavg()[0]:.1f}", flush=True)

    import ray
    import ray.data

    logging.getLogger("ray.data").setLevel(logging.WARNING)  # after import, which sets it
    start = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), object_store_memory=args.object_store_mb * 2**20,
             include_dashboard=False, logging_level=logging.WARNING)
    print(f"ray.init: {time.perf_counter() - start:.1f} s (not counted below)", flush=True)

    configs = [("predict, one process", None, 1), ("batch local, 1 worker", "local", 1),
               ("batch local, 2 workers", "local", 2), ("batch ray, 1 actor", "ray", 1),
               ("batch ray, 2 actors", "ray", 2)]
    with tempfile.TemporaryDirectory() as tmp:
        for name, engine, workers in configs:
            if engine is None:
                seconds = time_predict(paths, args.batch_size)
            else:
                seconds = time_batch(paths, Path(tmp) / "out", engine, workers, args.batch_size)
            print(f"{name:<24} {seconds:7.1f} s  {len(paths) / seconds:6.1f} images/s  "
                  f"(load average {os.getloadavg()[0]:.1f})", flush=True)
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
