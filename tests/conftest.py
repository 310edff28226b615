"""Fixtures shared by the test modules."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
"""``/work/shared``: data and detector models kept outside the repository (tests/ -> repo -> ..)."""


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` next to the repository; tests that need it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent")
    return SHARED


@pytest.fixture(scope="session")
def utkface_dir(shared_dir: Path) -> Path:
    """The real UTKFace folder (21,307 chips); skips when absent."""
    path = shared_dir / "data" / "UTKFace"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="session")
def synthetic_utkface(tmp_path_factory):
    """A tiny UTKFace folder with planted duplicates and defects (see tests/utkface_synth.py)."""
    from utkface_synth import build

    return build(tmp_path_factory.mktemp("synthetic") / "UTKFace")


@pytest.fixture(scope="session")
def synthetic_scan(synthetic_utkface):
    """``scan`` of :func:`synthetic_utkface` with two workers, read once for every test that
    takes it (the scan modules, dedup, split): tests only read it."""
    from genderage.data.scan import scan

    return scan(synthetic_utkface.root, workers=2)


@pytest.fixture(scope="session")
def model_path(tmp_path_factory):
    """The shipped model if this checkout has it, else a tiny random one with the contract."""
    from genderage.models import default_model_path

    shipped = default_model_path()
    if shipped is not None:
        return shipped
    pytest.importorskip("torch")
    from tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("model") / "tiny.onnx")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A headless Chromium context for the test module (tests/headless_browser.py); skips
    without Chromium or playwright."""
    from headless_browser import chromium

    with chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context
