"""``import genderage``: the names a user needs, each module loaded on the name's first use."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import genderage

SRC = Path(__file__).resolve().parents[1] / "src"
EXPORTS = {"GenderAge": "genderage.pipeline", "Face": "genderage.results",
           "ImageResult": "genderage.results", "available_detectors": "genderage.detect",
           "VideoAnalysis": "genderage.video.analysis", "VideoSource": "genderage.video.io"}
HEAVY = {"numpy", "cv2", "PIL", "onnxruntime", "torch", "pyarrow"}


def imported_after(statement: str) -> set[str]:
    code = f"{statement}; import sys; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(SRC)}).stdout
    return set(out.split())


@pytest.mark.parametrize("name", EXPORTS)
def test_the_package_exports_what_a_user_needs(name):
    assert getattr(genderage, name) is getattr(importlib.import_module(EXPORTS[name]), name)
    assert name in dir(genderage)


def test_all_names_the_exports_and_an_unknown_name_fails():
    assert set(genderage.__all__) == {*EXPORTS, "__version__"}
    namespace: dict = {}
    exec("from genderage import *", namespace)
    assert namespace["VideoAnalysis"] is genderage.VideoAnalysis
    with pytest.raises(AttributeError, match="'Analyzer'"):
        genderage.Analyzer  # noqa: B018
    assert "mtcnn" in genderage.available_detectors()


def test_import_genderage_loads_no_module_of_its_own_nor_a_heavy_one():
    loaded = imported_after("import genderage")
    assert {m for m in loaded if m.startswith("genderage")} == {"genderage"}
    assert not loaded & HEAVY


def test_a_name_loads_its_own_modules_only():
    loaded = imported_after("from genderage import Face, ImageResult")
    assert "genderage.results" in loaded
    assert not loaded & {"onnxruntime", "genderage.pipeline", "genderage.video.analysis"}
    loaded = imported_after("from genderage import GenderAge")
    assert "genderage.pipeline" in loaded and "genderage.video.analysis" not in loaded
