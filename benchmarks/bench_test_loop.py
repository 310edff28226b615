"""Wall time of the local test loop, ``pytest -m "not slow"``, in several configurations,
interleaved round by round so that a host shared with other jobs slows them alike.

Each configuration is a checkout and extra pytest arguments; each run uses that checkout's
``src`` (``PYTHONPATH``) and ``../shared`` as its tests find it. Prints one line per run
(wall seconds, load average before and after, pytest's closing line), then per
configuration the median and the ratio of medians to the first configuration.

    python benchmarks/bench_test_loop.py --rounds 3 \\
        --config old-serial=/path/to/old/checkout \\
        --config new-serial=. \\
        --config new-xdist=.:"-n auto --dist loadfile"

Without ``--config``: this checkout, serial and with ``-n auto --dist loadfile``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = [f"serial={ROOT}", f"xdist={ROOT}:-n auto --dist loadfile"]


def parse_config(text: str) -> tuple[str, Path, list[str]]:
    """``NAME=CHECKOUT[:PYTEST ARGS]`` -> (name, checkout, args)."""
    name, _, rest = text.partition("=")
    checkout, _, args = rest.partition(":")
    return name, Path(checkout).resolve(), shlex.split(args)


def load() -> float:
    return os.getloadavg()[0]


def run(checkout: Path, args: list[str]) -> tuple[float, str]:
    env = dict(os.environ, PYTHONPATH=str(checkout / "src"), PYTHONDONTWRITEBYTECODE="1")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-m", "not slow",
                           "-p", "no:cacheprovider", *args], cwd=checkout, env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    lines = proc.stdout.strip().splitlines()
    return wall, lines[-1] if lines else f"exit {proc.returncode}: {proc.stderr[-200:]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", action="append", help="NAME=CHECKOUT[:PYTEST ARGS]")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    configs = [parse_config(c) for c in (args.config or DEFAULT)]
    walls: dict[str, list[float]] = {name: [] for name, _, _ in configs}
    for round_ in range(1, args.rounds + 1):
        for name, checkout, extra in configs:
            before = load()
            wall, summary = run(checkout, extra)
            walls[name].append(wall)
            print(f"round {round_} {name:>14}: {wall:6.1f} s  load {before:4.1f} -> "
                  f"{load():4.1f}  {summary}", flush=True)
    first = statistics.median(walls[configs[0][0]])
    for name, values in walls.items():
        median = statistics.median(values)
        print(f"{name:>14}: median {median:6.1f} s  ({median / first:.2f} x {configs[0][0]})  "
              f"runs {', '.join(f'{v:.1f}' for v in values)}")


if __name__ == "__main__":
    main()
