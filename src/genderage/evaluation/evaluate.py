"""``genderage evaluate --data``: every metric of the model card on UTKFace-style chips.

The model is anything with the :class:`~genderage.attribute.AttributeModel` interface (an
ONNX file, or a training checkpoint wrapped by the ``[train]`` extra). Writes
``metrics.json``, ``report.md`` and PNG plots (:mod:`.report`) into an output folder.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from ..attribute import AttributeModel
from ..contract import DEFAULT_PREPROCESSING, Preprocessing
from ..data.split import ManifestRow, read_manifest
from ..imageio import read_image
from ..outputs import write_atomic
from ..preprocess import resize_face
from .metrics import full_report
from .report import markdown_report, write_plots

log = logging.getLogger(__name__)


def dataset_rows(data_dir: str | Path, manifest: str | Path | None, split: str | None
                 ) -> list[ManifestRow]:
    """Rows to evaluate: a manifest's split, or every well-named image in ``data_dir``."""
    if manifest:
        rows = read_manifest(manifest, split, "utkface")  # chips: UTKFace rows only
        if not rows:
            raise ValueError(f"{manifest}: no rows with split {split!r}")
        return rows
    from ..data.utkface import MalformedName, is_hidden, iter_entries, parse_name
    rows = []
    for entry in iter_entries(data_dir):
        if is_hidden(entry.name):
            continue
        try:
            r = parse_name(entry.name)
        except MalformedName:
            log.warning("skipping %s: not a UTKFace name", entry.name)
            continue
        rows.append(ManifestRow(r.file, "all", 0, r.age, r.gender, r.race))
    if not rows:
        raise ValueError(f"{data_dir}: no UTKFace-named images found")
    return rows


def load_faces_plain(data_dir: str | Path, rows: list[ManifestRow],
                     spec: Preprocessing = DEFAULT_PREPROCESSING) -> np.ndarray:
    """uint8 ``[N, S, S, 3]`` faces of ``rows``' chips resized for a model of preprocessing
    ``spec`` (``S = spec.input_size``), ready for its ``predict`` (no cache)."""
    return np.stack([resize_face(read_image(Path(data_dir) / r.file), spec) for r in rows])


def evaluate(model, data_dir, manifest=None, split="val", out_dir=None,
             flip_tta=False, batch_size=256, plots=True) -> dict:
    """Evaluate a model on UTKFace-style aligned chips; returns (and writes) the metrics.

    Args:
        model: an ONNX file's path (opened with ``flip_tta``), or a model with
            ``predict(faces) -> AttributeBatch``, ``preprocessing``, ``path`` and ``flip_tta``
            such as :class:`~genderage.attribute.AttributeModel`.
    """
    if isinstance(model, (str, Path)):
        model = AttributeModel(model, flip_tta=flip_tta)
    rows = dataset_rows(data_dir, manifest, split if manifest else None)
    faces = load_faces_plain(data_dir, rows, model.preprocessing)
    t0 = time.perf_counter()
    batches = [model.predict(faces[i:i + batch_size]) for i in range(0, len(faces), batch_size)]
    seconds = time.perf_counter() - t0
    probs = np.concatenate([b.gender_probs for b in batches])
    age = np.concatenate([b.age for b in batches])
    interval = np.concatenate([b.age_interval for b in batches])
    truth_age = np.array([r.age for r in rows], float)
    truth_gender = np.array([r.gender for r in rows], int)
    race = np.array([r.race for r in rows], int)
    report = full_report(truth_age, truth_gender, race, age.astype(float), probs.astype(float),
                         interval, batches[0].interval_coverage)
    report["model"] = {"path": str(model.path), "kind": type(model).__name__,
                       "flip_tta": model.flip_tta}
    report["data"] = {"dir": str(data_dir), "manifest": str(manifest) if manifest else None,
                      "split": split if manifest else "all"}
    report["inference_seconds"] = seconds
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        write_metrics(out_dir, report)
        (out_dir / "report.md").write_text(markdown_report(report))
        if plots:
            write_plots(out_dir, truth_age, truth_gender, age, probs, report)
    return report


def write_metrics(out_dir: str | Path, report: dict) -> Path:
    """Write an evaluation report as ``out_dir/metrics.json`` (indented JSON, atomically),
    creating the folder: the one writer of ``genderage evaluate``'s file, for chips and
    photos alike. Returns the file's path."""
    path = Path(out_dir) / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(report, indent=2) + "\n")
    return path
