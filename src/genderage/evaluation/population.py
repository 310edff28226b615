"""Population-level checks of ``genderage report`` on labelled photos (e.g. All-Age-Faces):
the labels' true female share, mean age and age bands beside the report's estimates."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ..contract import gender_index
from ..data.aaf import AAFRecord
from ..models.bundle import DevSetErrors

FEMALE = gender_index("female")


def run_batch(paths: list[Path], out: Path, workers: int = 1) -> int:
    """Analyse ``paths`` as ``genderage batch --age-probs`` does (local engine) into the
    Parquet dataset ``out``; returns the command's exit status (1 when some input failed)."""
    from ..batch import BatchJob, BatchOptions
    from ..batch.engines import EngineSettings, create_engine

    out.parent.mkdir(parents=True, exist_ok=True)
    job = BatchJob([str(p) for p in paths], str(out), BatchOptions(age_probs=True))
    return 1 if job.run(create_engine("local", EngineSettings(workers))).failed else 0


def truth(labels: list[AAFRecord]) -> dict:
    """Female share, mean age, band shares and female share per band of the labels."""
    from genderage.report.stats import AGE_BANDS, band_mass

    female = np.array([r.gender == FEMALE for r in labels], float)
    mass = band_mass(np.array([float(r.age) for r in labels]))
    return {"female_share": female.mean(),
            "mean_age": float(np.mean([float(r.age) for r in labels])),
            "age_bands": dict(zip(AGE_BANDS, mass.mean(0))),
            "female_share_by_age_band": dict(zip(AGE_BANDS, (mass * female[:, None]).sum(0)
                                                 / mass.sum(0)))}


def comparison(report: dict, true: dict) -> list[tuple[str, float, float, list, float | None]]:
    """Rows (quantity, truth, estimate, ci95, naive): every estimate of the report beside the
    truth; shares as fractions, ages in years; for the mean age, "naive" is the mean before
    the correction for the model's age bias."""
    fs, age = report["female_share"], report["mean_age"]
    rows = [("female share", true["female_share"], fs["estimate"], fs["ci95"], fs["naive"]),
            ("mean age", true["mean_age"], age["estimate"], age["ci95"], age["uncorrected"])]
    for band, share in true["age_bands"].items():
        b = report["age_bands"][band]
        rows.append((f"share aged {band}", share, b["share"], b["ci95"], None))
    for band, share in true["female_share_by_age_band"].items():
        b = report["female_share_by_age_band"][band]
        rows.append((f"female share, {band}", share, b["estimate"], b["ci95"], b["naive"]))
    return rows


def half_of(file: str) -> int:
    """A fixed split of photos into halves 0 and 1: the low bit of the first byte of the
    sha256 of the photo's file name (its base name, so it does not depend on the folder)."""
    return hashlib.sha256(os.path.basename(file).encode()).digest()[0] & 1


def subset_results(results: Path, names: set[str], out: Path) -> Path:
    """The rows of ``genderage batch`` results whose image base name is in ``names``, written
    to the Parquet file ``out`` (schema and metadata kept)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(results)
    keep = [os.path.basename(p) in names for p in table.column("path").to_pylist()]
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.filter(pa.array(keep)), out)
    return out


def largest_face_errors(results: Path, labels: list[AAFRecord]) -> DevSetErrors:
    """The error-model entry (:func:`~genderage.evaluation.error_model.dev_set_errors`) of the
    labelled photos ``labels`` from ``genderage batch`` results: each photo's largest face
    (``face_index`` 0), as ``tools/error_model.py`` measures a dev set."""
    import pyarrow.parquet as pq

    from .error_model import dev_set_errors

    columns = ["path", "face_index", "gender", "age", "error"]
    schema = pq.read_schema(results) if results.is_file() else pq.ParquetDataset(results).schema
    has_probs = "age_probs" in schema.names
    rows = pq.read_table(results, columns=columns + (["age_probs"] if has_probs else []))
    first = {os.path.basename(r["path"]): r for r in rows.to_pylist()
             if r["face_index"] == 0 and r["error"] is None}
    found = [(r, first[os.path.basename(r.file)]) for r in labels
             if os.path.basename(r.file) in first]
    return dev_set_errors(
        np.array([float(r.age) for r, _ in found]),
        np.array([r.gender == FEMALE for r, _ in found]),
        np.array([f["gender"] == "female" for _, f in found]),
        np.array([f["age"] for _, f in found], float),
        np.array([f["age_probs"] for _, f in found], float) if has_probs else None,
        images=len(labels))


def female_share_by_estimated_band(results: Path, labels: list[AAFRecord]) -> dict:
    """The TRUE female share per band of ESTIMATED age (what the report's per-band shares
    estimate): each labelled photo's largest face weighted by its predicted mass in the band,
    with the photo's labelled gender."""
    from genderage.report.stats import AGE_BANDS

    section = largest_face_errors(results, labels)
    rows = [c.rows_true for c in section.by_estimated_band]
    return {band: sum(r[0]) / (sum(r[0]) + sum(r[1])) if sum(map(sum, r)) else None
            for band, r in zip(AGE_BANDS, rows)}
