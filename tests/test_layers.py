"""The package's layers depend one way, as the README draws them:

    runtime <- features <- evaluation <- training
    runtime <- data <---------'
    everything <- the command-line edge

The runtime is the photo path (detect, align, the model, results, options, outputs); the
features are what the product does with it (batch, serve, video, report, label); ``data``
reads the training sets. Every top-level module and package is in exactly one layer, so a new
one has to be placed here. Every import statement of every module is parsed, function-level
ones included, so a lazy import counts too; nothing below the edge imports the edge, and
research code is imported by none.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "genderage"
LAYERS = {
    "runtime": {"", "align", "annotate", "attribute", "contract", "detect", "imageio", "inputs",
                "jpeg_scans", "models", "onnx_runtime", "options", "outputs", "pipeline",
                "preprocess", "quality", "results", "writers"},
    "features": {"batch", "label", "report", "serve", "video"},
    "data": {"data"},
    "evaluation": {"evaluation"},
    "training": {"training"},
    "edge": {"cli", "__main__", "commands", "errors"},
}
MAY_IMPORT = {
    "runtime": {"runtime"},
    "features": {"runtime", "features"},
    "data": {"runtime", "data"},
    "evaluation": {"runtime", "features", "data", "evaluation"},
    "training": {"runtime", "features", "data", "evaluation", "training"},
    "edge": set(LAYERS),
}
"""The layers each layer may import (its own included)."""
ROOT = PACKAGE / "__init__.py"
"""``import genderage`` runs a module body that imports nothing (checked below), so importing
the root counts as runtime; the names it exports lazily may come from the runtime and the
features (the public API: ``GenderAge``, ``VideoAnalysis``...)."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    """``genderage.x.y`` -> the layer ``x`` belongs to."""
    top = module.split(".")[1] if "." in module else ""
    found = [name for name, tops in LAYERS.items() if top in tops]
    assert found, f"{module}: place {top!r} in a layer of tests/test_layers.py"
    return found[0]


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the ``genderage`` modules ``path`` imports."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(parse(path)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.add(target)
            # ``from . import x`` / ``from .pkg import x`` may import submodules.
            found |= {f"{target}.{a.name}" for a in node.names if is_module(f"{target}.{a.name}")}
    return {m for m in found if m == "genderage" or m.startswith("genderage.")}


@functools.cache
def parse(path: Path) -> ast.Module:
    """Each file is parsed once for all the tests below."""
    return ast.parse(path.read_text(), str(path))


def is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_top_level_module_is_in_exactly_one_layer():
    tops = [top for tops in LAYERS.values() for top in tops]
    assert len(tops) == len(set(tops))
    present = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in MODULES}
    assert present - {"__init__"} <= set(tops), sorted(present - set(tops))


def test_the_parser_sees_relative_and_lazy_imports():
    imports = imported_modules(PACKAGE / "commands" / "evaluate.py")
    assert "genderage.training.predictor" in imports     # lazy, two dots
    assert "genderage.evaluation.photos" in imports
    assert layer("genderage.training.loop") == "training" and layer("genderage.align") == "runtime"
    assert layer("genderage.video.job") == "features" and layer("genderage.cli") == "edge"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down_the_layers(path):
    own = "features" if path == ROOT else layer(module_name(path))
    upward = sorted(m for m in imported_modules(path) if layer(m) not in MAY_IMPORT[own])
    assert not upward, f"{own} module {module_name(path)} imports {upward}"


def test_the_package_root_imports_nothing_when_imported():
    body = ast.parse(ROOT.read_text()).body
    assert not [node for node in body if isinstance(node, (ast.Import, ast.ImportFrom))]


def test_nothing_imports_research_or_scripts():
    for path in [*MODULES, *PACKAGE.parents[1].joinpath("tests").glob("*.py")]:
        tree = parse(path)
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not {n for n in names if n.split(".")[0] in ("research", "scripts")}, path
        assert "sys.path" not in path.read_text() or path.name == "test_layers.py", path
