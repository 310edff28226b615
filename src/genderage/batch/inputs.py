"""What ``genderage batch`` reads: image files, folders, and lists of paths.

Folders and image files go through the same enumeration as ``genderage predict`` (so both
commands see the same image set); ``.txt`` files (one path per line) and ``.csv`` /
``.parquet`` files with a ``path`` column are lists of paths. Paths may be local or fsspec
URIs (``s3://...``, ``file://...``); relative paths are relative to the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..inputs import Inputs, collect_inputs

LIST_SUFFIXES = (".txt", ".csv", ".parquet")


class InputError(ValueError):
    """An input list cannot be read or has no ``path`` column."""


def gather_inputs(inputs: list[str], extensions: frozenset[str] | None = None,
                  kind: str = "an image") -> Inputs:
    """The image paths named by ``inputs``, each once, in first-seen order, and the folder
    entries left out (see :func:`genderage.inputs.collect_inputs`; ``extensions`` and
    ``kind`` as there, for other files than images).

    Raises:
        InputError: a path list cannot be read.
    """
    listed, named = [], []
    for raw in inputs:
        (listed if Path(raw).suffix.lower() in LIST_SUFFIXES else named).append(raw)
    found = collect_inputs(named, extensions, kind)
    for raw in listed:
        found.files.extend(read_path_list(raw))
    found.files = list(dict.fromkeys(found.files))
    return found


def read_path_list(path: str) -> list[str]:
    """Paths from a ``.txt`` (one per line, exactly as written: only the line ending is
    removed, so names may start or end with spaces; blank lines skipped), ``.csv`` or
    ``.parquet`` (a ``path`` column of strings; a binary column holds the names' exact
    bytes, e.g. ``path_bytes`` of batch output).

    Raises:
        InputError: missing file, unreadable table, or no ``path`` column of names.
    """
    suffix = Path(path).suffix.lower()
    try:
        if suffix == ".txt":
            # surrogateescape: a listed name that is not UTF-8 is kept, byte for byte.
            text = Path(path).read_text(encoding="utf-8", errors="surrogateescape")
            return [line for line in text.splitlines() if line.strip()]
        table = _read_table(path, suffix)
    except OSError as exc:
        raise InputError(f"{path}: cannot read path list ({exc.strerror or exc})") from None
    except ValueError as exc:  # pyarrow.ArrowInvalid: not a CSV / Parquet file
        raise InputError(f"{path}: cannot read path list ({exc})") from None
    if "path" not in table.column_names:
        raise InputError(f"{path}: no 'path' column (columns: {', '.join(table.column_names)})")
    import pyarrow as pa

    kind = table.schema.field("path").type
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return [os.fsdecode(p) for p in table["path"].to_pylist() if p]
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise InputError(f"{path}: column 'path' holds {kind}, not file names (strings)")
    return [p for p in table["path"].to_pylist() if p]


def _read_table(path: str, suffix: str):
    if suffix == ".csv":
        import pyarrow as pa
        import pyarrow.csv as pacsv

        # Paths as text: a name like "2024" must not become a number.
        return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types={"path": pa.string()}))
    import pyarrow.parquet as pq

    return pq.read_table(path)
