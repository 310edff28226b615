"""What a ``genderage batch --engine ray`` run that starts Ray itself listens on.

Runs the command on copies of the astronaut photo with an empty ``HOME`` and, while it runs,
reads the listening sockets of the run and of every process below it from /proc every 0.1 s
(``tests/listening.py``, which ``tests/test_batch_ray_local.py`` also uses). Prints one line
per program, protocol and address, with the number of ports. Linux only.

    PYTHONPATH=src:tests python benchmarks/ray_listeners.py --images 4
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from listening import listeners

ASTRONAUT = Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        photos, home = Path(tmp) / "photos", Path(tmp) / "home"
        photos.mkdir()
        home.mkdir()
        for i in range(args.images):
            shutil.copy(ASTRONAUT, photos / f"a{i}.jpg")
        run = subprocess.Popen([sys.executable, "-m", "genderage", "batch", str(photos),
                                "--out", str(Path(tmp) / "out"), "--engine", "ray",
                                "--workers", "1", "--no-progress"],
                               env={**os.environ, "HOME": str(home)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seen = set()
        while run.poll() is None:
            seen |= listeners(run.pid)
            time.sleep(0.1)
    ports = defaultdict(set)
    for listener in seen:
        ports[(listener.program, listener.protocol, str(listener.address))].add(listener.port)
    print(f"exit status {run.returncode}; {len(seen)} listening sockets")
    for (program, protocol, address), found in sorted(ports.items()):
        print(f"{program:16} {protocol:5} {address:18} {len(found)} port(s)")


if __name__ == "__main__":
    main()
