"""The service under abuse: three attacks from issue #16, against a real ``genderage serve``.

1. one 9.8 MB multipart body of 150,000 tiny fields: how long it takes, the size of the
   answer, and the slowest ``/healthz`` answered meanwhile (is the event loop free?);
2. 30 concurrent 10 MiB uploads: the server's peak memory (VmHWM) growth;
3. eight concurrent 7000x7000 PNGs (~160 KB each): the latency of one ordinary photo sent
   while they are in flight.

``--src`` chooses the genderage sources to serve, so that an older checkout can be measured
the same way (``git archive <commit> src | tar -x -C /tmp/old``):

    PYTHONPATH=src python benchmarks/bench_serve_abuse.py [--src src]
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "examples" / "astronaut.jpg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, body=None, headers=None, timeout=300):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body, headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def many_fields(port: int) -> str:
    boundary = "xyzzy"
    body = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\nx\r\n'
                   for i in range(150_000)).encode() + f"--{boundary}--\r\n".encode()
    done, result, probes = threading.Event(), {}, []

    def send():
        t0 = time.perf_counter()
        status, answer = request(port, "POST", "/v1/predict", body,
                                 {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        result.update(status=status, size=len(answer), seconds=time.perf_counter() - t0)
        done.set()

    thread = threading.Thread(target=send)
    thread.start()
    while not done.is_set():
        t0 = time.perf_counter()
        request(port, "GET", "/healthz")
        probes.append(time.perf_counter() - t0)
        time.sleep(0.02)
    thread.join()
    return (f"{len(body) / 1e6:.1f} MB, 150,000 fields: {result['status']} in "
            f"{result['seconds']:.2f} s, answer {result['size']:,} bytes; slowest /healthz "
            f"meanwhile {1000 * max(probes):.0f} ms ({len(probes)} probes)")


def big_uploads(port: int, pid: int) -> str:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    base = status_kib(pid, "VmRSS")
    body = os.urandom(10 * 2**20 - 4096)
    statuses = []

    def send():
        statuses.append(request(port, "POST", "/v1/predict", body,
                                {"Content-Type": "application/octet-stream"})[0])

    threads = [threading.Thread(target=send) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    peak = status_kib(pid, "VmHWM")
    counts = {s: statuses.count(s) for s in sorted(set(statuses))}
    return (f"30 x 10 MiB at once: statuses {counts}; server RSS {base / 1024:.0f} MiB, "
            f"peak +{(peak - base) / 1024:.0f} MiB")


def big_pngs(port: int) -> str:
    rgb = np.full((7000, 7000, 3), 128, np.uint8)
    rgb[::97] = 30
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    png, photo = buf.getvalue(), PHOTO.read_bytes()
    t0 = time.perf_counter()
    request(port, "POST", "/v1/predict", photo, {"Content-Type": "image/jpeg"})
    alone = time.perf_counter() - t0
    statuses = []

    def send():
        statuses.append(request(port, "POST", "/v1/predict", png,
                                {"Content-Type": "image/png"})[0])

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    t0 = time.perf_counter()
    status, _ = request(port, "POST", "/v1/predict", photo, {"Content-Type": "image/jpeg"})
    during = time.perf_counter() - t0
    for t in threads:
        t.join()
    counts = {s: statuses.count(s) for s in sorted(set(statuses))}
    return (f"8 x 7000x7000 PNG ({len(png):,} bytes) at once: statuses {counts}; an ordinary "
            f"photo took {1000 * during:.0f} ms (status {status}) vs {1000 * alone:.0f} ms alone")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", default=str(ROOT / "src"), help="genderage sources to serve")
    args = parser.parse_args()
    port = free_port()
    env = dict(os.environ, PYTHONPATH=args.src)
    server = subprocess.Popen([sys.executable, "-m", "genderage", "serve", "--port", str(port),
                               "--no-access-log"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if request(port, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("server did not start") from None
                time.sleep(0.2)
        print(f"sources: {args.src}")
        print(many_fields(port), flush=True)
        print(big_uploads(port, server.pid), flush=True)
        print(big_pngs(port), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
