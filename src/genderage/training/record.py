"""A run describes itself: ``run.json`` in its folder holds the resolved config, the command
line, the genderage version and the git commit of the code that ran.

``genderage train --config RUN/run.json`` repeats a run; ``tools/release_model.py`` reads
the record of the run it releases.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from .. import __version__
from .config import TrainConfig

RECORD = "run.json"


def git_commit(where: Path | None = None) -> str | None:
    """The commit checked out where the package's source lives, with ``+dirty`` when tracked
    files differ from it; None outside a git checkout."""
    where = where or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=where, capture_output=True, text=True, check=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def write_run_record(out_dir: Path, cfg: TrainConfig, argv: list[str] | None,
                     resume: bool) -> dict:
    """Write (or, on ``resume``, extend) ``out_dir/run.json``; returns the record."""
    path = Path(out_dir) / RECORD
    entry = {"argv": argv, "genderage_version": __version__, "git_commit": git_commit()}
    if resume and path.is_file():
        record = json.loads(path.read_text())
        record.setdefault("resumed", []).append({**entry, "train_config": cfg.to_dict()})
    else:
        record = {"train_config": cfg.to_dict(), **entry}
    path.write_text(json.dumps(record, indent=2) + "\n")
    return record


def read_run_record(run_dir: str | Path) -> dict:
    """A run folder's ``run.json``."""
    path = Path(run_dir) / RECORD
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no run record (runs from genderage train write one)")
    return json.loads(path.read_text())
