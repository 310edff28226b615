"""How ``predict`` and ``video`` print their records: the writers ``--format`` chooses.

``jsonl``: one JSON object per record (an image's ``ImageResult.to_dict()``, a video
track's record); ``csv``: one row per item of a record (a face of an image, a track of a
video) under fixed columns, at full precision, after a header row; ``table``: the same rows
aligned for reading, rounded. A command declares its records once, as a :class:`Layout`;
a new format is one writer class here and one entry in :data:`WRITERS`.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO


@dataclass(frozen=True)
class TableColumn:
    """One column of the ``table`` format.

    Attributes:
        header: the column's title.
        width: characters; negative: left-aligned in ``-width`` characters.
        cell: the text of a row's cell (a row as :attr:`Layout.rows` gives it).
    """

    header: str
    width: int
    cell: Callable[[dict], str]


@dataclass(frozen=True)
class Layout:
    """A command's records, for every format.

    Attributes:
        command: the command's name for messages (``"genderage predict"``).
        to_json: a record -> its JSON object (``jsonl``).
        columns: the names of the flat columns (``csv``), in order.
        rows: a record -> its rows, dicts over ``columns``; a row with an ``"error"`` names
            a record that failed (``table`` prints it on standard error instead).
        table: the columns of the ``table`` format.
    """

    command: str
    to_json: Callable[[Any], dict]
    columns: tuple[str, ...]
    rows: Callable[[Any], list[dict]]
    table: tuple[TableColumn, ...]


class JsonlWriter:
    """One JSON object per line, flushed as it goes (a reader can follow a long run)."""

    def __init__(self, out: TextIO, layout: Layout):
        self.out, self.layout = out, layout

    def write(self, record) -> None:
        self.out.write(json.dumps(self.layout.to_json(record)) + "\n")
        self.out.flush()


class CsvWriter:
    """A header row, then every row of every record; ``None`` is an empty cell, a list its
    items joined by ``;``."""

    def __init__(self, out: TextIO, layout: Layout):
        self.out, self.layout = out, layout
        self.csv = csv.DictWriter(out, fieldnames=layout.columns, lineterminator="\n")
        self.csv.writeheader()

    def write(self, record) -> None:
        self.csv.writerows({k: _csv_value(v) for k, v in row.items()}
                           for row in self.layout.rows(record))
        self.out.flush()


class TableWriter:
    """Aligned columns under a header; failed records go to standard error."""

    def __init__(self, out: TextIO, layout: Layout):
        self.out, self.layout = out, layout
        self._print([c.header for c in layout.table])

    def write(self, record) -> None:
        for row in self.layout.rows(record):
            if row.get("error") is not None:
                print(f"{self.layout.command}: error: {row['error']}", file=sys.stderr,
                      flush=True)
            else:
                self._print([c.cell(row) for c in self.layout.table])

    def _print(self, cells: list[str]) -> None:
        text = "  ".join(f"{cell:<{-c.width}}" if c.width < 0 else f"{cell:>{c.width}}"
                         for cell, c in zip(cells, self.layout.table))
        print(text.rstrip(), file=self.out, flush=True)


WRITERS = {"table": TableWriter, "jsonl": JsonlWriter, "csv": CsvWriter}
"""``--format`` name -> writer class."""

FORMATS = tuple(WRITERS)


def open_writer(name: str, out: TextIO, layout: Layout):
    """The ``name`` writer of ``layout``'s records on ``out`` (the header, if any, is written
    now).

    Raises:
        ValueError: an unknown format.
    """
    if name not in WRITERS:
        raise ValueError(f"format must be one of {FORMATS}, got {name!r}")
    return WRITERS[name](out, layout)


def _csv_value(value):
    if isinstance(value, (list, tuple)):
        return ";".join(str(v) for v in value)
    return "" if value is None else value
