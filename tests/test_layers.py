"""The package's layers depend one way, as the README draws them:

    runtime <- features <- evaluation <- training
    runtime <- data <---------'
    everything <- the command-line edge

The runtime is the photo path (detect, align, the model, results, options, outputs); the
features are what the product does with it (batch, serve, video, report, label); ``data``
reads the training sets. Every top-level module and package is in exactly one layer, so a new
one has to be placed here. Every import statement of every module is parsed, function-level
ones included, so a lazy import counts too; nothing below the edge imports the edge.

Studies live in ``research/``, not in the package: no package module runs as a script, the
package and the tools import no study, and every package module a study uses is product code
(the package, the tools or the benchmarks use it too), so no module is kept in the package for
a study alone. Tests may import a study by its bare name (``research/`` is on their path,
pyproject.toml); that is why a package module doing the same must fail here, not for users.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
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


REPO = PACKAGE.parents[1]
STUDIES = sorted((REPO / "research").glob("*.py"))
TOOLS = sorted((REPO / "tools").glob("*.py"))
BENCHMARKS = sorted((REPO / "benchmarks").glob("*.py"))


def absolute_imports(path: Path) -> set[str]:
    """Every absolute module name ``path`` imports, ``from genderage.x import y`` giving
    ``genderage.x`` and, when ``y`` is a module of the package, ``genderage.x.y``."""
    found = set()
    for node in ast.walk(parse(path)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names
                      if is_module(f"{node.module}.{a.name}")}
    return found


def loaded_by_name() -> set[str]:
    """The package modules that registries import from a name: commands, detector backends
    and batch engines."""
    from genderage.batch.engines import ENGINES
    from genderage.cli import COMMANDS
    from genderage.detect.registry import BACKEND_MODULES

    return ({f"genderage.commands.{name}" for name in COMMANDS}
            | {importlib.util.resolve_name(name, "genderage.detect") for name in BACKEND_MODULES}
            | {target.split(":")[0] for target, _ in ENGINES.values()})


def test_no_package_module_is_a_script():
    """A module with a ``__main__`` block is a study or a tool; those live in research/,
    tools/ or benchmarks/. The package's one entry point is ``python -m genderage``."""
    def runs_as_script(node) -> bool:
        return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
                and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__")

    scripts = [module_name(p) for p in MODULES if p.name != "__main__.py"
               and any(runs_as_script(node) for node in parse(p).body)]
    assert not scripts, scripts
    assert all(any(runs_as_script(node) for node in parse(p).body) for p in STUDIES)


def test_the_product_imports_no_study_and_no_script():
    studies = {p.stem for p in STUDIES}
    assert {"report_simulation", "screen_simulation", "eval_ensemble"} <= studies
    for path in [*MODULES, *TOOLS]:
        tops = {name.split(".")[0] for name in absolute_imports(path)}
        assert not tops & (studies | {"research", "scripts"}), (path, tops & studies)
    for path in [*MODULES, *REPO.joinpath("tests").glob("*.py")]:
        assert "sys.path" not in path.read_text() or path.name == "test_layers.py", path


def test_every_package_module_a_study_uses_is_product_code():
    """A module that only research (and its tests) imports is part of a study: it belongs in
    the study's script (as the ensemble scoring moved into research/eval_ensemble.py)."""
    used = loaded_by_name()
    for path in MODULES:
        used |= imported_modules(path) - {module_name(path)}
    for path in [*TOOLS, *BENCHMARKS]:
        used |= absolute_imports(path)
    for path in STUDIES:
        for module in sorted(m for m in absolute_imports(path) if m.startswith("genderage.")):
            assert is_module(module) and module in used, f"{path.name}: {module}"
