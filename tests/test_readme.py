"""The README's set-up instructions say what a new user needs beyond `pip install`; the
research README has an entry for every study."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_names_the_browser_and_the_cpu_torch():
    readme = (ROOT / "README.md").read_text()
    # The browser test needs Debian's chromium; CI installs it the way the README says.
    assert "apt-get install -y chromium" in readme
    assert "apt-get install -y -qq chromium" in (ROOT / ".ci" / "run").read_text()
    # torch==2.13.0 from PyPI is the CUDA build: the README gives the CPU index option,
    # for the version the train extra pins.
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"torch==2.13.0"' in pyproject
    assert "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in readme


def test_research_readme_has_a_row_for_every_study_and_no_other():
    rows = re.findall(r"^\| `([\w.]+\.py)` \|", (ROOT / "research" / "README.md").read_text(),
                      re.MULTILINE)
    assert sorted(rows) == sorted(p.name for p in (ROOT / "research").glob("*.py"))
