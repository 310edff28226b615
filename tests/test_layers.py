"""The package's layers depend one way: runtime <- data <- evaluation <- training.

Every import statement of every module is parsed, function-level ones included, so a lazy
import counts too. The command-line edge (``cli``, ``__main__``, ``commands/``) may reach
every layer; research code is imported by none.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "genderage"
RANK = {"runtime": 0, "data": 1, "evaluation": 2, "training": 3}
EDGE = {"cli", "__main__", "commands"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    """``genderage.x.y`` -> the layer ``x`` belongs to."""
    top = module.split(".")[1] if "." in module else ""
    if top in EDGE:
        return "edge"
    return top if top in RANK else "runtime"


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the ``genderage`` modules ``path`` imports."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.add(target)
            # ``from . import x`` / ``from .pkg import x`` may import submodules.
            found |= {f"{target}.{a.name}" for a in node.names}
    return {m for m in found if m == "genderage" or m.startswith("genderage.")}


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_parser_sees_relative_and_lazy_imports():
    imports = imported_modules(PACKAGE / "commands" / "evaluate.py")
    assert "genderage.training.predictor" in imports     # lazy, two dots
    assert "genderage.evaluation.photos" in imports
    assert layer("genderage.training.loop") == "training" and layer("genderage.align") == "runtime"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down_the_layers(path):
    own = layer(module_name(path))
    if own == "edge":
        return
    upward = sorted(m for m in imported_modules(path)
                    if layer(m) != "edge" and RANK[layer(m)] > RANK[own])
    assert not upward, f"{own} module {module_name(path)} imports {upward}"


def test_nothing_imports_research_or_scripts():
    for path in [*MODULES, *PACKAGE.parents[1].joinpath("tests").glob("*.py")]:
        tree = ast.parse(path.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not {n for n in names if n.split(".")[0] in ("research", "scripts")}, path
        assert "sys.path" not in path.read_text() or path.name == "test_layers.py", path
