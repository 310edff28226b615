"""CPU time and peak memory of one large image through the pipeline, full vs reduced decode.

Each case runs in a fresh subprocess (so that its peak RSS is its own): load the analyzer,
warm it up on a small image, then analyse the large image ``--runs`` times. "full" is the
decode before #16 (``decode_image`` at full resolution, then ``predict(array)``); "reduced" is
``decode_reduced`` (what ``predict(bytes)`` and the service do), then ``predict``. Both
with the pixel limit lifted, so that the 49 Mpx PNG (refused by the 40 Mpx default) is
decoded too.

    PYTHONPATH=src python benchmarks/bench_large_images.py [--runs 3]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

CASES = {
    # The attack: a 7000x7000 PNG that compresses to ~150 KB.
    "png-7000x7000-flat": ("PNG", 7000, 7000),
    # A 36 Mpx full-frame camera photo.
    "jpeg-7360x4912": ("JPEG", 7360, 4912),
    # A 24 Mpx APS-C camera photo.
    "jpeg-6000x4000": ("JPEG", 6000, 4000),
}


def make_image(fmt: str, w: int, h: int) -> bytes:
    if fmt == "PNG":
        rgb = np.full((h, w, 3), 128, np.uint8)
        rgb[::97] = 30
    else:
        rng = np.random.default_rng(0)
        coarse = rng.integers(0, 256, (h // 40, w // 40, 3), dtype=np.uint8)
        rgb = np.asarray(Image.fromarray(coarse).resize((w, h), Image.BICUBIC))
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def child(path: str, mode: str, runs: int) -> dict:
    from genderage.imageio import decode_image, decode_reduced
    from genderage.pipeline import GenderAge

    analyzer = GenderAge()
    analyzer.predict(np.full((480, 640, 3), 100, np.uint8))
    with open(path, "rb") as f:
        data = f.read()
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    base = _status_kib("VmRSS")
    cpu, wall = [], []
    for _ in range(runs):
        c0, w0 = time.process_time(), time.perf_counter()
        # The pixel limit is lifted here, to compare the decodes themselves.
        if mode == "full":
            analyzer.predict(decode_image(data, max_pixels=10**9))
        else:
            analyzer.predict(decode_reduced(data, max_pixels=10**9))
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    peak = _status_kib("VmHWM")
    return {"cpu_s": statistics.median(cpu), "wall_s": statistics.median(wall),
            "peak_growth_mib": (peak - base) / 1024, "peak_mib": peak / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("PATH", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.runs)))
        return
    print("| image | bytes | decode | CPU s | wall s | peak RSS MiB (growth over the warm analyzer's RSS) |")
    print("|---|---:|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for case, spec in CASES.items():
            path = os.path.join(tmp, case)
            data = make_image(*spec)
            with open(path, "wb") as f:
                f.write(data)
            for mode in ("full", "reduced"):
                out = subprocess.run([sys.executable, __file__, "--runs", str(args.runs),
                                      "--child", path, mode], capture_output=True, text=True,
                                     check=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"| {case} | {len(data):,} | {mode} | {r['cpu_s']:.2f} | "
                      f"{r['wall_s']:.2f} | {r['peak_mib']:.0f} (+{r['peak_growth_mib']:.0f}) |",
                      flush=True)

if __name__ == "__main__":
    main()
