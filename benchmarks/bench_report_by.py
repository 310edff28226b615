"""Seconds for ``genderage report --by`` on a column with many values (#28 item 12).

    PYTHONPATH=src python benchmarks/bench_report_by.py [--src OTHER/src]

200,000 faces in 5,000 groups, 100 bootstrap replicates, point ages.
"""

import argparse
import sys
import tempfile
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--src")
    args = parser.parse_args()
    if args.src:
        sys.path.insert(0, args.src)
    import pyarrow as pa
    import pyarrow.parquet as pq

    from genderage.report import build_report

    n, k = 200_000, 5_000
    rng = np.random.default_rng(0)
    table = pa.table({"path": [f"{i}.jpg" for i in range(n)], "face_index": np.zeros(n, np.int32),
                      "gender": np.where(rng.random(n) < 0.5, "female", "male").tolist(),
                      "age": rng.uniform(1, 90, n), "low_quality": np.zeros(n, bool),
                      "error": pa.nulls(n, pa.string()), "model_sha256": ["ab" * 32] * n,
                      "site": [f"site{i % k:05d}" for i in range(n)]})
    path = tempfile.mkdtemp() + "/r.parquet"
    pq.write_table(table, path)
    start = time.perf_counter()
    report = build_report(path, by="site", n_boot=100)
    print(f"{len(report['by']['groups'])} groups, {n:,} faces: "
          f"{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
