"""Load benchmark of ``genderage serve`` on loopback.

Starts the server in a subprocess (niced, so a background job keeps priority), sends a
bounded number of raw-body ``POST /v1/predict`` requests from 1, 4 and 16 concurrent
keep-alive clients, prints throughput and p50/p99 latency per level, and the server's
resident memory (``VmRSS`` from ``/proc/PID/status``) before and after ``--rss-requests``
requests. Stops the server when done.

    PYTHONPATH=src python benchmarks/bench_serve.py --detector /path/to/scrfd_500m_bnkps.onnx
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from photos import AAF_IMAGES, ROOT as REPO  # benchmarks/ is the script's folder

DEFAULT_IMAGE = AAF_IMAGES / "03061A28.jpg"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="attribute model .onnx (default: shipped)")
    p.add_argument("--detector", help="detector spec (default: the built-in one)")
    p.add_argument("--image", type=Path, default=DEFAULT_IMAGE,
                   help=f"photo to send (default: {DEFAULT_IMAGE})")
    p.add_argument("--threads", type=int, default=2, help="server --workers-threads")
    p.add_argument("--levels", default="1,4,16", help="concurrent clients per level")
    p.add_argument("--requests", type=int, default=200, help="requests per level")
    p.add_argument("--rss-requests", type=int, default=1000,
                   help="requests between the two memory readings")
    p.add_argument("--nice", type=int, default=10, help="server niceness increment")
    return p.parse_args(argv)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process, MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def start_server(args, port: int) -> tuple[subprocess.Popen, dict]:
    cmd = [sys.executable, "-m", "genderage", "serve", "--port", str(port),
           "--workers-threads", str(args.threads), "--no-access-log"]
    if args.model:
        cmd += ["--model", args.model]
    if args.detector:
        cmd += ["--detector", args.detector]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO / "src"), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: os.nice(args.nice))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            health = json.loads(conn.getresponse().read())
            conn.close()
            return proc, health
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start within 60 s")


def run_level(port: int, body: bytes, clients: int, total: int) -> dict:
    """``total`` requests spread over ``clients`` threads, each with one keep-alive connection."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    counts = [total // clients + (i < total % clients) for i in range(clients)]

    def client(n: int):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        mine = []
        for _ in range(n):
            t0 = time.perf_counter()
            conn.request("POST", "/v1/predict", body=body,
                         headers={"Content-Type": "image/jpeg"})
            response = conn.getresponse()
            payload = response.read()
            mine.append(time.perf_counter() - t0)
            if response.status != 200:
                with lock:
                    errors.append(f"{response.status} {payload[:100]!r}")
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in counts]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ms = np.asarray(latencies) * 1000
    return {"clients": clients, "requests": len(ms), "errors": len(errors),
            "rps": len(ms) / wall, "p50": float(np.percentile(ms, 50)),
            "p99": float(np.percentile(ms, 99)), "first_error": errors[0] if errors else None}


def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.image.is_file():
        raise SystemExit(f"{args.image}: not found (pass --image PHOTO)")
    body = args.image.read_bytes()
    port = free_port()
    proc, health = start_server(args, port)
    try:
        print(f"server pid {proc.pid}, model {health['model']['path']} "
              f"(sha256 {health['model']['sha256'][:12]}), detector {health['detector']}, "
              f"{args.threads} worker threads, nice +{args.nice}; "
              f"image {args.image.name} ({len(body):,} bytes); {os.cpu_count()} CPUs")
        warm = run_level(port, body, 1, 5)
        faces = _faces(port, body)
        print(f"warm-up: {warm['requests']} requests; faces per request: {faces}")
        rss0, _ = rss_mib(proc.pid)
        rss_run = run_level(port, body, 4, args.rss_requests)
        rss1, hwm = rss_mib(proc.pid)
        print(f"memory: VmRSS {rss0:.1f} MiB before, {rss1:.1f} MiB after "
              f"{rss_run['requests']} requests (4 clients, {rss_run['errors']} errors); "
              f"peak VmHWM {hwm:.1f} MiB")
        print()
        print("| clients | requests | errors | req/s | p50 ms | p99 ms |")
        print("|---:|---:|---:|---:|---:|---:|")
        for clients in (int(c) for c in args.levels.split(",")):
            r = run_level(port, body, clients, args.requests)
            print(f"| {r['clients']} | {r['requests']} | {r['errors']} | {r['rps']:.1f} | "
                  f"{r['p50']:.1f} | {r['p99']:.1f} |", flush=True)
            if r["first_error"]:
                print(f"  first error: {r['first_error']}")
        rss2, hwm = rss_mib(proc.pid)
        print(f"\nmemory at the end: VmRSS {rss2:.1f} MiB, peak VmHWM {hwm:.1f} MiB")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return 0


def _faces(port: int, body: bytes) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/v1/predict", body=body, headers={"Content-Type": "image/jpeg"})
    faces = len(json.loads(conn.getresponse().read())["faces"])
    conn.close()
    return faces


if __name__ == "__main__":
    sys.exit(main())
