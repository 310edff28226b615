"""``genderage serve`` under 300 idle connections with a 256-descriptor limit (#28 item 7).

    PYTHONPATH=src python benchmarks/bench_serve_idle.py [--src OTHER/src]

Starts the server (shipped model, default detector, defaults otherwise) on 127.0.0.1 with
RLIMIT_NOFILE 256, opens 300 connections that send nothing and keeps them open, then polls
/healthz for 30 s and reports when it first answered, and the server's stderr size after
5 s and at the end.
"""

import argparse
import http.client
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--src", default="src")
    args = parser.parse_args()
    port = free_port()
    err = tempfile.NamedTemporaryFile(suffix=".log", delete=False)
    env = dict(os.environ, PYTHONPATH=args.src)
    proc = subprocess.Popen([sys.executable, "-m", "genderage", "serve", "--port", str(port),
                             "--no-access-log"], stdout=subprocess.DEVNULL, stderr=err, env=env,
                            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE,
                                                                  (256, 256)))
    try:
        deadline = time.monotonic() + 120
        while not healthy(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        sockets = []
        for _ in range(300):
            try:
                sockets.append(socket.create_connection(("127.0.0.1", port), timeout=2))
            except OSError:
                break
        start, answered, at_5s = time.monotonic(), None, None
        while time.monotonic() - start < 30:
            if answered is None and healthy(port):
                answered = time.monotonic() - start
            if at_5s is None and time.monotonic() - start >= 5:
                at_5s = os.path.getsize(err.name)
            time.sleep(0.2)
        print(f"connections opened: {len(sockets)}")
        print(f"/healthz first answered after: "
              f"{'never (30 s)' if answered is None else f'{answered:.1f} s'}")
        print(f"stderr bytes after 5 s: {at_5s:,}; after 30 s: {os.path.getsize(err.name):,}")
        print(f"server alive: {proc.poll() is None}")
        for s in sockets:
            s.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        os.unlink(err.name)


if __name__ == "__main__":
    main()
