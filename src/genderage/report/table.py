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
        face_paths, face_indices: ``[N]`` each face's ``path`` and ``face_index`` (how a
            labels file names it).
        extra: the ``extra`` columns asked of :func:`read_results`, per face.
    """

    n_images: int
    n_errors: int
    faces: FaceData
    low_quality: np.ndarray
    model_sha256: str | None
    groups: np.ndarray | None = None
    flip_tta: bool = False
    n_doubled_rows: int = 0
    face_paths: np.ndarray | None = None
    face_indices: np.ndarray | None = None
    extra: dict | None = None


def read_results(path: str | Path, by: str | None = None, extra: tuple[str, ...] = ()
                 ) -> Results:
    """Read a results file or folder of part files (``extra``: more columns to keep, as
    Python lists per face).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ResultsError: not Parquet, required columns missing, or several models mixed.
    """
    import pyarrow as pa

    path = Path(path)
    table, metadata = _read_table(path, by, extra)
    table, n_doubled = drop_doubled_rows(table)
    errors = table.column("error").is_valid().to_numpy(zero_copy_only=False)
    # A face row has a gender, or (run with --min-gender-probability) only probabilities:
    # the report classifies every face by its likelier gender, never by the thresholded
    # label, because the error model's rates were measured that way.
    has_p = "female_probability" in table.column_names
    is_face = table.column("gender").is_valid().to_numpy(zero_copy_only=False)
    if has_p:
        is_face |= table.column("female_probability").is_valid().to_numpy(zero_copy_only=False)
    is_face &= ~errors
    paths = np.asarray(table.column("path").to_pylist(), object)
    faces = table.filter(pa.array(is_face))

    genders = faces.column("gender").to_pylist()
    unknown = sorted(set(genders) - {"female", "male", None})
    if unknown:
        raise ResultsError(f"{path}: column gender holds {unknown[:3]}; expected "
                           "'female', 'male' or null")
    p_female = None
    if has_p:
        p_list = faces.column("female_probability").to_pylist()
        if None in p_list:
            raise ResultsError(f"{path}: {p_list.count(None)} face row(s) have no "
                               f"female_probability")
        p_female = np.array(p_list, np.float64)
        female = p_female >= 0.5
    else:
        female = np.array([g == "female" for g in genders], bool)
    if faces.column("age").null_count:
        raise ResultsError(f"{path}: {faces.column('age').null_count} face row(s) have no age")
    models = sorted(set(faces.column("model_sha256").to_pylist()) - {None})
    if len(models) > 1:
        raise ResultsError(f"{path}: results of {len(models)} different models "
                           f"({', '.join(m[:12] for m in models)}); report one at a time")
    age_probs = None
    if "age_probs" in faces.column_names and len(faces) \
            and faces.column("age_probs").null_count == 0:
        age_probs = _matrix(path, faces.column("age_probs"))
    if p_female is None and "gender_probability" in faces.column_names \
            and faces.column("gender_probability").null_count == 0:
        prob = faces.column("gender_probability").to_numpy(zero_copy_only=False)
        p_female = np.where(female, prob, 1.0 - prob).astype(np.float64)
    groups = None
    if by is not None:
        groups = np.array(["(missing)" if v is None else str(v)
                           for v in faces.column(by).to_pylist()], dtype=object)
    return Results(
        n_images=len(set(paths)), n_errors=len(set(paths[errors])),
        faces=FaceData(female=female,
                       age=faces.column("age").to_numpy(zero_copy_only=False).astype(np.float64),
                       age_probs=age_probs, p_female=p_female),
        low_quality=faces.column("low_quality").fill_null(False).to_numpy(
            zero_copy_only=False).astype(bool),
        model_sha256=models[0] if models else None,
        groups=groups, flip_tta=_batch_options(metadata).get("flip_tta") is True,
        n_doubled_rows=n_doubled,
        face_paths=np.asarray(faces.column("path").to_pylist(), object),
        face_indices=(faces.column("face_index").fill_null(0).to_numpy(zero_copy_only=False)
                      .astype(np.int64) if "face_index" in faces.column_names
                      else np.zeros(len(faces), np.int64)),
        extra={c: faces.column(c).to_pylist() for c in extra})


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


def _read_table(path: Path, by: str | None, extra: tuple[str, ...] = ()):
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
    wanted = list(REQUIRED_COLUMNS) + [c for c in ("age_probs", "female_probability",
                                                   "gender_probability", *ROW_KEY)
                                       if c in schema.names] + list(extra)
    if by is not None:
        wanted.append(by)
    missing = [c for c in wanted if c not in schema.names]
    if missing:
        raise ResultsError(f"{path}: missing column(s) {', '.join(missing)}; expected the "
                           f"output of `genderage batch` (has: {', '.join(schema.names)})")
    try:
        return pq.read_table(path, columns=list(dict.fromkeys(wanted))), schema.metadata
    except (pa.ArrowException, OSError) as exc:
        raise ResultsError(f"{path}: cannot read ({exc})") from None


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
