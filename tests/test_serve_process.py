"""``genderage serve`` as a real process (uvicorn): what it logs, and edges only a real HTTP
server shows (a client that hangs up mid-upload, a malformed Content-Length)."""

from __future__ import annotations

import http.client
import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from genderage.detect import DetectorError, create_detector  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def detector_args(shared_dir_path: Path) -> list[str]:
    try:
        create_detector()
        return []
    except (DetectorError, ImportError):
        path = shared_dir_path / "models" / "scrfd_500m_bnkps.onnx"
        if not path.is_file():
            pytest.skip("no usable face detector")
        return ["--detector", str(path)]


class Server:
    def __init__(self, tmp_path: Path, model_path: Path, extra: list[str], preexec_fn=None):
        from conftest import SHARED

        self.port = free_port()
        self.out = tmp_path / "stdout.log"
        self.err = tmp_path / "stderr.log"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            filter(None, [str(SRC), os.environ.get("PYTHONPATH")])))
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "genderage", "serve", "--port", str(self.port),
                 "--model", str(model_path), *detector_args(SHARED), *extra],
                stdout=out, stderr=err, env=env, preexec_fn=preexec_fn)
        deadline = time.monotonic() + 120
        while not self._healthy():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"server did not start: {self.err.read_text()}")
            time.sleep(0.2)

    def _healthy(self) -> bool:
        try:
            return self.request("GET", "/healthz")[0] == 200
        except OSError:
            return False

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body, headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def raw(self, data: bytes, read: bool = True) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            s.sendall(data)
            return s.recv(65536) if read else b""

    def logs(self) -> tuple[str, str]:
        return self.out.read_text(), self.err.read_text()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_path):
    srv = Server(tmp_path_factory.mktemp("serve"), model_path, [])
    yield srv
    srv.stop()


def png(h=120, w=160) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((h, w, 3), 90, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.1)


def test_access_log_has_method_path_status_and_no_client_address(server):
    status, _ = server.request("POST", "/v1/predict", png(), {"Content-Type": "image/png"})
    assert status == 200
    wait_for(lambda: "predict: 0 face(s) in" in server.logs()[1])
    out, err = server.logs()
    access = [line for line in out.splitlines() if "/v1/predict" in line]
    assert access and all('"POST /v1/predict HTTP/1.1" 200' in line for line in access)
    assert "127.0.0.1" not in out
    # The documented app line appears (at INFO), with the time.
    assert any(line.startswith("INFO:") and "predict: 0 face(s) in" in line and
               line.endswith(" ms") for line in err.splitlines()), err


def test_client_address_is_logged_only_on_request(tmp_path, model_path):
    srv = Server(tmp_path, model_path, ["--log-client-address"])
    try:
        assert srv.request("GET", "/healthz")[0] == 200
        wait_for(lambda: "/healthz" in srv.logs()[0])
        assert '127.0.0.1:' in srv.logs()[0]
    finally:
        srv.stop()


def test_client_hanging_up_mid_upload_is_one_log_line(server):
    head = (f"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
            f"Content-Length: 100000\r\n\r\n").encode()
    server.raw(head + bytes(1000), read=False)
    wait_for(lambda: "disconnected" in server.logs()[1])
    err = server.logs()[1]
    assert "client disconnected during the upload (1000 bytes received)" in err
    assert "Traceback" not in err and "ERROR" not in err
    assert server.request("GET", "/healthz")[0] == 200


def test_malformed_content_length_is_refused_by_the_server(server):
    """uvicorn (h11) answers a non-numeric Content-Length itself, before the app: a 400."""
    reply = server.raw(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert server.request("GET", "/healthz")[0] == 200
