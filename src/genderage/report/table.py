"""Reading the Parquet results of ``genderage batch`` (schema: docs/batch.md) for a report.

One row per face, plus one row per image with no face or an error (face columns null).
Needs ``pyarrow`` (``pip install "genderage[report]"``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .estimate import FaceData

REQUIRED_COLUMNS = ("path", "gender", "age", "low_quality", "error", "model_sha256")
BATCH_OPTIONS_KEY = b"genderage.batch.options"
"""Parquet schema metadata where `genderage batch` records its options (JSON)."""


class ResultsError(ValueError):
    """The results file is missing, unreadable or lacks the columns a report needs."""


@dataclass(frozen=True)
class Results:
    """The faces of a results file, with the counts the report states.

    Attributes:
        n_images: distinct input paths (including images without faces and failures).
        n_errors: images that could not be read.
        faces: every face found.
        low_quality: bool ``[N]``, the face was flagged low quality.
        model_sha256: the model that made the predictions, or ``None`` if unrecorded.
        groups: ``[N]`` strings, the ``--by`` column per face, or ``None``.
        flip_tta: the batch options recorded mirror test-time augmentation.
        n_doubled_rows: rows dropped because an earlier row had the same path and face
            index (the same image written twice, e.g. by two runs on one folder).
    """

    n_images: int
    n_errors: int
    faces: FaceData
    low_quality: np.ndarray
    model_sha256: str | None
    groups: np.ndarray | None = None
    flip_tta: bool = False
    n_doubled_rows: int = 0


def read_results(path: str | Path, by: str | None = None) -> Results:
    """Read a results file or folder of part files.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ResultsError: not Parquet, required columns missing, or several models mixed.
    """
    import pyarrow as pa

    path = Path(path)
    table, metadata = _read_table(path, by)
    table, n_doubled = drop_doubled_rows(table)
    errors = table.column("error").is_valid().to_numpy(zero_copy_only=False)
    is_face = table.column("gender").is_valid().to_numpy(zero_copy_only=False) & ~errors
    paths = np.asarray(table.column("path").to_pylist(), object)
    faces = table.filter(pa.array(is_face))

    genders = faces.column("gender").to_pylist()
    unknown = sorted(set(genders) - {"female", "male"})
    if unknown:
        raise ResultsError(f"{path}: column gender holds {unknown[:3]}; expected "
                           "'female' or 'male'")
    if faces.column("age").null_count:
        raise ResultsError(f"{path}: {faces.column('age').null_count} face row(s) have no age")
    ages = faces.column("age").to_numpy(zero_copy_only=False).astype(np.float64)
    if not np.isfinite(ages).all():
        raise ResultsError(f"{path}: {int((~np.isfinite(ages)).sum())} face row(s) have an age "
                           f"that is not a finite number (NaN or infinite)")
    models = sorted(set(faces.column("model_sha256").to_pylist()) - {None})
    if len(models) > 1:
        raise ResultsError(f"{path}: results of {len(models)} different models "
                           f"({', '.join(m[:12] for m in models)}); report one at a time")
    age_probs = None
    if "age_probs" in faces.column_names and len(faces) \
            and faces.column("age_probs").null_count == 0:
        age_probs = _matrix(path, faces.column("age_probs"))
    groups = None
    if by is not None:
        groups = np.array(["(missing)" if v is None else str(v)
                           for v in faces.column(by).to_pylist()], dtype=object)
    return Results(
        n_images=len(set(paths)), n_errors=len(set(paths[errors])),
        faces=FaceData(female=np.array([g == "female" for g in genders], bool),
                       age=ages,
                       age_probs=age_probs),
        low_quality=faces.column("low_quality").fill_null(False).to_numpy(
            zero_copy_only=False).astype(bool),
        model_sha256=models[0] if models else None,
        groups=groups, flip_tta=_batch_options(metadata).get("flip_tta") is True,
        n_doubled_rows=n_doubled)


ROW_KEY = ("path", "path_bytes", "face_index")
"""What identifies a row of batch output: an image (by its exact path) and a face of it."""


def drop_doubled_rows(table):
    """``table`` without the rows whose :data:`ROW_KEY` an earlier row already has, and how
    many were dropped. Tables without ``face_index`` are returned as they are."""
    import pyarrow as pa

    keys = [c for c in ROW_KEY if c in table.column_names]
    if "face_index" not in keys or len(table) == 0:
        return table, 0
    indexed = table.select(keys).append_column("_row", pa.array(np.arange(len(table))))
    first = indexed.group_by(keys, use_threads=False).aggregate([("_row", "min")])
    if len(first) == len(table):
        return table, 0
    keep = np.sort(first["_row_min"].to_numpy())
    return table.take(pa.array(keep)), len(table) - len(keep)


def _read_table(path: Path, by: str | None):
    """The columns a report needs, and the schema metadata."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("reading results needs pyarrow: pip install \"genderage[report]\"") \
            from None

    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    try:
        schema = pq.read_schema(path) if path.is_file() else pq.ParquetDataset(path).schema
    except (pa.ArrowException, OSError) as exc:
        raise ResultsError(f"{path}: not a readable Parquet file ({exc})") from None
    wanted = list(REQUIRED_COLUMNS) + [c for c in ("age_probs", *ROW_KEY) if c in schema.names]
    if by is not None:
        wanted.append(by)
    missing = [c for c in wanted if c not in schema.names]
    if missing:
        raise ResultsError(f"{path}: missing column(s) {', '.join(missing)}; expected the "
                           f"output of `genderage batch` (has: {', '.join(schema.names)})")
    _check_types(path, schema)
    try:
        return pq.read_table(path, columns=list(dict.fromkeys(wanted))), schema.metadata
    except (pa.ArrowException, OSError) as exc:
        raise ResultsError(f"{path}: cannot read ({exc})") from None


COLUMN_TYPES = {
    "gender": ("a string", lambda t, pa: pa.types.is_string(t) or pa.types.is_large_string(t)),
    "age": ("a number", lambda t, pa: pa.types.is_integer(t) or pa.types.is_floating(t)),
    "low_quality": ("a boolean", lambda t, pa: pa.types.is_boolean(t) or pa.types.is_null(t)),
    "error": ("a string", lambda t, pa: pa.types.is_string(t) or pa.types.is_large_string(t)
              or pa.types.is_null(t)),
    "age_probs": ("a list of numbers", lambda t, pa: pa.types.is_list(t)
                  and (pa.types.is_floating(t.value_type) or pa.types.is_integer(t.value_type))),
}
"""Columns the report computes with, and the Arrow types it accepts for them."""


def _check_types(path: Path, schema) -> None:
    import pyarrow as pa

    for name, (what, accepts) in COLUMN_TYPES.items():
        if name in schema.names and not accepts(schema.field(name).type, pa):
            raise ResultsError(f"{path}: column {name} is {schema.field(name).type}; expected "
                               f"{what}, as `genderage batch` writes it")


def _batch_options(metadata: dict | None) -> dict:
    """The options `genderage batch` recorded in the schema metadata; ``{}`` if none."""
    raw = (metadata or {}).get(BATCH_OPTIONS_KEY)
    try:
        options = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return options if isinstance(options, dict) else {}


def _matrix(path: Path, column) -> np.ndarray:
    """A list<float> column of equal-length rows as a float64 ``[N, K]`` array."""
    import pyarrow as pa
    import pyarrow.compute as pc

    lengths = set(pc.list_value_length(column).to_pylist())
    if len(lengths) != 1:
        raise ResultsError(f"{path}: column age_probs has rows of lengths {sorted(lengths)[:4]}")
    flat = pa.chunked_array([chunk.flatten() for chunk in column.chunks])
    return flat.to_numpy().astype(np.float64).reshape(len(column), lengths.pop())
