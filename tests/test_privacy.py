"""The privacy promise: nothing written outside what the user asked for, nothing sent.

onnxruntime writes telemetry files under ``~/.cache/Microsoft/DeveloperTools`` when it loads
unless told not to (genderage/onnx_runtime.py); each check runs in a subprocess with an
empty HOME, so that the first onnxruntime import of the process is the one under test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SRC = Path(__file__).resolve().parents[1] / "src"

LIBRARY_RUN = """
import sys
from genderage import GenderAge
result = GenderAge(sys.argv[1]).predict(sys.argv[2])
assert result.error is None, result.error
"""

SERVICE_RUN = """
import sys
from fastapi.testclient import TestClient
from genderage.serve import create_app
client = TestClient(create_app(model=sys.argv[1]))
assert client.get("/healthz").status_code == 200
with open(sys.argv[2], "rb") as f:
    assert client.post("/v1/predict", files={"file": ("a.png", f.read())}).status_code == 200
"""


def fresh_home_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORT_")}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")])))
    return env


def files_under(home: Path) -> list[str]:
    return sorted(str(p.relative_to(home)) for p in home.rglob("*"))


@pytest.mark.parametrize("entry", ["cli", "library", "service"])
def test_a_run_with_a_fresh_home_writes_nothing_there(entry, tmp_path, model_path):
    if entry == "service":
        pytest.importorskip("fastapi")
    home = tmp_path / "home"
    home.mkdir()
    image = tmp_path / "photo.png"
    Image.fromarray(np.full((120, 160, 3), 128, np.uint8)).save(image)
    argv = {"cli": ["-m", "genderage", "predict", "--model", str(model_path), str(image)],
            "library": ["-c", LIBRARY_RUN, str(model_path), str(image)],
            "service": ["-c", SERVICE_RUN, str(model_path), str(image)]}[entry]
    proc = subprocess.run([sys.executable, *argv], env=fresh_home_env(home), cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert files_under(home) == []
