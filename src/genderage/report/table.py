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
"""The columns of :func:`genderage.batch.schema.batch_schema` a report cannot do without."""


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
        age_distribution, age_distribution_good: the average ``age_probs`` of all faces,
            and of those not flagged low quality; ``None`` without ``age_probs``.
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
    age_distribution: np.ndarray | None = None
    age_distribution_good: np.ndarray | None = None


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
    dataset, table, metadata = _read_table(path, by, extra)
    kept = kept_rows(table)
    n_doubled = 0 if kept is None else len(table) - len(kept)
    if kept is not None:
        table = table.take(pa.array(kept))
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
    ages = faces.column("age").to_numpy(zero_copy_only=False).astype(np.float64)
    if not np.isfinite(ages).all():
        raise ResultsError(f"{path}: {int((~np.isfinite(ages)).sum())} face row(s) have an age "
                           f"that is not a finite number (NaN or infinite)")
    models = sorted(set(faces.column("model_sha256").to_pylist()) - {None})
    if len(models) > 1:
        raise ResultsError(f"{path}: results of {len(models)} different models "
                           f"({', '.join(m[:12] for m in models)}); report one at a time")
    if p_female is None and "gender_probability" in faces.column_names \
            and faces.column("gender_probability").null_count == 0:
        prob = faces.column("gender_probability").to_numpy(zero_copy_only=False)
        p_female = np.where(female, prob, 1.0 - prob).astype(np.float64)
    low_quality = faces.column("low_quality").fill_null(False).to_numpy(
        zero_copy_only=False).astype(bool)
    rows = np.arange(len(table)) if kept is None else kept
    summary = None
    if "age_probs" in dataset.schema.names and len(faces):
        summary = _stream_age_probs(path, dataset, rows[is_face], low_quality)
    groups = None
    if by is not None:
        groups = np.array(["(missing)" if v is None else str(v)
                           for v in faces.column(by).to_pylist()], dtype=object)
    return Results(
        n_images=len(set(paths)), n_errors=len(set(paths[errors])),
        faces=FaceData(female, ages, p_female=p_female) if summary is None else
        FaceData(female, ages, p_female=p_female, mass=summary.mass, mean_age=summary.mean_age),
        low_quality=low_quality,
        model_sha256=models[0] if models else None,
        groups=groups, flip_tta=_batch_options(metadata).get("flip_tta") is True,
        n_doubled_rows=n_doubled,
        age_distribution=None if summary is None else summary.distribution,
        age_distribution_good=None if summary is None else summary.distribution_good,
        face_paths=np.asarray(faces.column("path").to_pylist(), object),
        face_indices=(faces.column("face_index").fill_null(0).to_numpy(zero_copy_only=False)
                      .astype(np.int64) if "face_index" in faces.column_names
                      else np.zeros(len(faces), np.int64)),
        extra={c: faces.column(c).to_pylist() for c in extra})

STREAM_ROWS = 8192
"""Rows of ``age_probs`` held at a time: 8,192 x 121 float64 = 8 MB, whatever the input's
size (10 million rows at once would be ~10 GB as float64, ~43 GB through Python lists)."""


@dataclass(frozen=True)
class AgeProbsSummary:
    """What the report needs from the faces' ``age_probs``, read a batch at a time.

    Attributes:
        mass: ``[N, 5]`` each face's probability of each age band.
        mean_age: ``[N]`` each face's mean age.
        distribution: ``[K]`` the average of all faces' (normalised) distributions.
        distribution_good: the same over the faces not flagged low quality (``None`` if
            every face is).
    """

    mass: np.ndarray
    mean_age: np.ndarray
    distribution: np.ndarray
    distribution_good: np.ndarray | None


def _stream_age_probs(path: Path, dataset, face_rows: np.ndarray, low_quality: np.ndarray
                      ) -> AgeProbsSummary | None:
    """Per-face band masses and mean ages, and the average distributions, from the
    ``age_probs`` of rows ``face_rows`` (increasing row numbers of ``dataset``), reading
    :data:`STREAM_ROWS` rows at a time; ``None`` when a face has no distribution."""
    from .stats import band_matrix

    wanted = np.zeros(int(face_rows[-1]) + 1, bool)
    wanted[face_rows] = True
    masses, means, total, good, k, start, width = [], [], None, None, 0, 0, None
    for batch in dataset.to_batches(columns=["age_probs"], batch_size=STREAM_ROWS,
                                    use_threads=False):
        picked = np.flatnonzero(wanted[start:start + len(batch)])
        start += len(batch)
        if not len(picked):
            continue
        column = batch.column(0).take(picked)
        if column.null_count:
            return None
        probs = _matrix(path, column)
        if width is None:
            width, bands, years = probs.shape[1], band_matrix(probs.shape[1]), None
            years, total, good = np.arange(width), np.zeros(width), np.zeros(width)
        elif probs.shape[1] != width:
            raise ResultsError(f"{path}: column age_probs has rows of lengths "
                               f"{sorted({width, probs.shape[1]})}")
        probs /= probs.sum(1, keepdims=True)
        masses.append(probs @ bands)
        means.append(probs @ years)
        total += probs.sum(0)
        good += probs[~low_quality[k:k + len(picked)]].sum(0)
        k += len(picked)
    n_good = int((~low_quality).sum())
    return AgeProbsSummary(np.concatenate(masses), np.concatenate(means), total / k,
                           good / n_good if n_good else None)


ROW_KEY = ("path", "path_bytes", "face_index")
"""What identifies a row of batch output: an image (by its exact path) and a face of it."""


def kept_rows(table) -> np.ndarray | None:
    """The rows of ``table`` to keep, sorted: all but those whose :data:`ROW_KEY` an earlier
    row already has; ``None`` when every row is kept (or there is no ``face_index``)."""
    import pyarrow as pa

    keys = [c for c in ROW_KEY if c in table.column_names]
    if "face_index" not in keys or len(table) == 0:
        return None
    indexed = table.select(keys).append_column("_row", pa.array(np.arange(len(table))))
    first = indexed.group_by(keys, use_threads=False).aggregate([("_row", "min")])
    if len(first) == len(table):
        return None
    return np.sort(first["_row_min"].to_numpy())


def _read_table(path: Path, by: str | None, extra: tuple[str, ...] = ()):
    """The dataset, the columns a report needs but ``age_probs`` (streamed later, in the
    same row order), and the schema metadata."""
    try:
        import pyarrow as pa
        import pyarrow.dataset as ds
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
    wanted = list(REQUIRED_COLUMNS) + [c for c in ("female_probability", "gender_probability",
                                                   *ROW_KEY)
                                       if c in schema.names] + list(extra)
    if by is not None:
        wanted.append(by)
    missing = [c for c in wanted if c not in schema.names]
    if missing:
        raise ResultsError(f"{path}: missing column(s) {', '.join(missing)}; expected the "
                           f"output of `genderage batch` (has: {', '.join(schema.names)})")
    _check_types(path, schema)
    try:
        dataset = ds.dataset(path, format="parquet")
        table = dataset.to_table(columns=list(dict.fromkeys(wanted)), use_threads=False)
    except (pa.ArrowException, OSError) as exc:
        raise ResultsError(f"{path}: cannot read ({exc})") from None
    return dataset, table, schema.metadata


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
    from ..batch.schema import OPTIONS_KEY

    raw = (metadata or {}).get(OPTIONS_KEY)
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
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    flat = pa.chunked_array([chunk.flatten() for chunk in chunks])
    return flat.to_numpy().astype(np.float64).reshape(len(column), lengths.pop())
