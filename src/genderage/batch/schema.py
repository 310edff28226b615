"""The Parquet schema of ``genderage batch``: one row per face, one row per image without.

An image with ``n`` faces gives rows ``face_index = 0 .. n-1``; an image with no face, or one
that could not be read, gives ONE row whose face columns are null (``error`` says why for the
latter). ``gender`` is also null on a face row whose probability is below the run's
``--min-gender-probability`` ("unknown"); ``gender_probability`` and ``female_probability``
are always there. Floats are stored at full precision (``predict --json`` rounds them for
display).
docs/batch.md documents every column.
"""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.compute as pc

from ..results import ImageResult

OPTIONS_KEY = b"genderage.batch.options"
"""Schema metadata key of every part file: the JSON of the options that produced it."""

_COLUMNS = [
    pa.field("path", pa.string(), nullable=False),
    pa.field("face_index", pa.int32()),
    pa.field("bbox", pa.list_(pa.float32(), 4)),
    pa.field("landmarks", pa.list_(pa.float32(), 10)),
    pa.field("det_score", pa.float32()),
    pa.field("gender", pa.string()),
    pa.field("gender_probability", pa.float32()),
    pa.field("female_probability", pa.float32()),
    pa.field("age", pa.float32()),
    pa.field("age_low", pa.float32()),
    pa.field("age_high", pa.float32()),
    pa.field("low_quality", pa.bool_()),
    pa.field("quality_reasons", pa.list_(pa.string())),
    pa.field("error", pa.string()),
    pa.field("error_kind", pa.string()),
    pa.field("model_sha256", pa.string(), nullable=False),
    pa.field("genderage_version", pa.string(), nullable=False),
    pa.field("path_bytes", pa.binary()),
]
AGE_PROBS = pa.field("age_probs", pa.list_(pa.float32()))


def batch_schema(age_probs: bool, options_json: str | None = None) -> pa.Schema:
    """The output schema; ``age_probs`` adds the model's age distribution column."""
    schema = pa.schema(_COLUMNS + ([AGE_PROBS] if age_probs else []))
    return schema.with_metadata({OPTIONS_KEY: options_json}) if options_json else schema


def results_table(results: list[ImageResult], error_kinds: list[str | None],
                  age_probs: list | None, model_sha256: str, version: str) -> pa.Table:
    """Rows for ``results`` in :func:`batch_schema` order.

    Args:
        results: one per image.
        error_kinds: the ``kind`` of each result's error (``None`` where it has none).
        age_probs: ``None``, or the model's age distribution of every face, in face order
            over all ``results`` (``AttributeBatch.age_probs``).
        model_sha256, version: provenance written into every row.
    """
    rows, k = [], 0
    empty = dict.fromkeys(field.name for field in _COLUMNS)
    for result, kind in zip(results, error_kinds):
        base = {**empty, "path": as_text(result.path), "path_bytes": path_bytes(result.path),
                "model_sha256": model_sha256, "genderage_version": version}
        if age_probs is not None:
            base["age_probs"] = None
        if not result.faces:
            error = None if result.error is None else as_text(result.error)
            rows.append({**base, "error": error, "error_kind": kind})
            continue
        for i, face in enumerate(result.faces):
            row = {**base, "face_index": i, "bbox": list(face.bbox),
                   "landmarks": [v for point in face.landmarks for v in point],
                   "det_score": face.det_score, "gender": face.gender,
                   "gender_probability": face.gender_probability,
                   "female_probability": face.female_probability, "age": face.age,
                   "age_low": face.age_interval[0], "age_high": face.age_interval[1],
                   "low_quality": face.quality.low_quality,
                   "quality_reasons": list(face.quality.reasons)}
            if age_probs is not None:
                row["age_probs"] = age_probs[k].tolist()
            rows.append(row)
            k += 1
    return pa.Table.from_pylist(rows, schema=batch_schema(age_probs is not None))


def as_text(text: str) -> str:
    """``text`` as valid UTF-8 for a string column: a file name's bytes that are not UTF-8
    (which Python keeps as surrogate escapes, ``\\udcNN``) are written ``\\xNN``, as
    ``predict`` prints them."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def path_bytes(path: str) -> bytes | None:
    """The exact bytes of a path whose name is not valid UTF-8; ``None`` for the others
    (their ``path`` column is exact)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return None


def stored_paths(table: pa.Table) -> list[str]:
    """The paths of ``table``'s rows exactly as the inputs named them (surrogate escapes
    restored from ``path_bytes``; parts written before that column have only ``path``)."""
    paths = table["path"].to_pylist()
    if "path_bytes" not in table.column_names or table["path_bytes"].null_count == len(table):
        return paths
    return [text if raw is None else os.fsdecode(raw)
            for text, raw in zip(paths, table["path_bytes"].to_pylist())]


def face_count(table: pa.Table) -> int:
    """Face rows in ``table``."""
    return len(table) - table["face_index"].null_count


def failure_kinds(table: pa.Table) -> list[str]:
    """The ``error_kind`` of every failed image in ``table``."""
    return table.filter(pc.is_valid(table["error_kind"]))["error_kind"].to_pylist()


def image_count(table: pa.Table) -> int:
    """Images in ``table``: each has exactly one row with ``face_index`` null or 0."""
    index = table["face_index"]
    return index.null_count + (pc.sum(pc.equal(index, 0)).as_py() or 0)
