"""The labels file, ``LABELS.csv``: one row per labelled face, appended as labels are given.

Columns (the first four are all another tool has to write):

- ``path``, ``face_index``: the face, as in the results (``genderage batch``);
- ``gender``: ``female``, ``male``, ``cant_tell`` or ``not_a_face``;
- ``age``: apparent age in years (0-120), or empty (skipped; always empty for
  ``not_a_face``);
- ``rank``: the face's place in the sampling order (0-based);
- ``stratum``: the face's value of the ``--by`` column (empty without ``--by``);
- ``sample_seed``, ``sample_by``, ``sample_n``: how the sample was drawn (the seed, the
  stratifying column or empty, the number of labels the run asked for);
- ``results_fingerprint``: :func:`genderage.label.sample.results_fingerprint` of the
  results the sample was drawn from;
- ``sample_unit``: only in files drawn from a tracks table of ``genderage video``, where it
  is ``track``: each row then labels one track, ``path`` being the video and ``face_index``
  the track's ``track_id``. Files without the column (all photo labels) label faces.

The sampling columns repeat on every row so that the file stays a plain CSV any program
reads, and that a row copied elsewhere still says where it came from.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

from ..outputs import replacing

GENDERS = ("female", "male", "cant_tell", "not_a_face")
SPELLINGS = {"can't tell": "cant_tell", "cant tell": "cant_tell", "not a face": "not_a_face"}
"""Other spellings read as the canonical words (case is ignored too)."""
COLUMNS = ("path", "face_index", "gender", "age", "rank", "stratum", "sample_seed",
           "sample_by", "sample_n", "results_fingerprint")
REQUIRED = ("path", "face_index", "gender", "age")
SAMPLING = ("rank", "sample_seed", "sample_by", "sample_n", "results_fingerprint")
UNIT_COLUMN = "sample_unit"
"""Written by samples of tracks only, so that photo labels files keep their columns."""
MAX_AGE = 120.0


class LabelsError(ValueError):
    """The labels file cannot be used as it is; the message names the file and the rows."""


@dataclass(frozen=True)
class Label:
    """One labelled face.

    Attributes:
        line: the row's line number in the file (the header is line 1).
        path, face_index: the face.
        gender: one of :data:`GENDERS`.
        age: years, or ``None`` (skipped).
        rank: place in the sampling order, or ``None`` (not recorded).
        stratum: the ``--by`` value the sample was stratified on, or ``None``.
    """

    line: int
    path: str
    face_index: int
    gender: str
    age: float | None
    rank: int | None = None
    stratum: str | None = None


@dataclass(frozen=True)
class Sampling:
    """How the sample was drawn, as the file records it (``n``: the most labels any run
    asked for; ``unit``: ``"face"`` or ``"track"``, what one row labels)."""

    seed: int
    by: str | None
    n: int
    results_fingerprint: str
    unit: str = "face"


@dataclass(frozen=True)
class LabelsFile:
    """A read and checked labels file.

    Attributes:
        labels: the rows, in file order.
        sampling: how the sample was drawn, or ``None`` when the file does not say.
    """

    path: Path
    labels: list[Label]
    sampling: Sampling | None


def read_labels(path: str | Path) -> LabelsFile:
    """Read and check a labels file.

    Raises:
        FileNotFoundError: no such file.
        LabelsError: missing columns, unknown gender words, ages that are not numbers in
            0-120, bad face indices, duplicate faces, or rows that disagree on how the sample
            was drawn; the message names the rows (line numbers).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such labels file")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        missing = [c for c in REQUIRED if c not in fields]
        if missing:
            raise LabelsError(f"{path}: missing column(s) {', '.join(missing)} (has: "
                              f"{', '.join(fields) or 'nothing'}); expected "
                              f"{', '.join(REQUIRED)}")
        rows = list(reader)
    problems: dict[str, list[int]] = {}
    labels, seen, samplings = [], {}, {}
    has_sampling = all(c in fields for c in SAMPLING)
    for line, row in enumerate(rows, start=2):
        try:
            label = _parse(row, line, has_sampling)
        except _RowProblem as exc:
            problems.setdefault(str(exc), []).append(line)
            continue
        key = (label.path, label.face_index)
        if key in seen:
            problems.setdefault(f"the same face labelled twice (first on line {seen[key]})",
                                []).append(line)
            continue
        seen[key] = line
        labels.append(label)
        if has_sampling:  # the same sample, whatever --n each run asked for
            samplings.setdefault(replace(_sampling(row), n=0), []).append(line)
    if problems:
        raise LabelsError(f"{path}: " + "; ".join(
            f"{what}: {rows_named(lines)}" for what, lines in problems.items()))
    if len(samplings) > 1:
        raise LabelsError(f"{path}: rows disagree on how the sample was drawn (seed, --by, "
                          f"results): " + "; ".join(
                              f"seed {s.seed}, by {s.by or '-'}, results {s.results_fingerprint}"
                              f": {rows_named(lines)}" for s, lines in samplings.items()))
    sampling = None
    if samplings:
        (first, _), = samplings.items()
        sampling = replace(first, n=max(int(r["sample_n"]) for r in rows))
    return LabelsFile(path, labels, sampling)


def rows_named(lines: list[int], limit: int = 10) -> str:
    """``"rows 3, 7, 9"`` (line numbers, the header being line 1), at most ``limit`` named."""
    named = ", ".join(str(i) for i in lines[:limit])
    more = f" and {len(lines) - limit} more" if len(lines) > limit else ""
    return f"{'row' if len(lines) == 1 else 'rows'} {named}{more}"


class _RowProblem(Exception):
    pass


def _parse(row: dict, line: int, has_sampling: bool) -> Label:
    word = (row.get("gender") or "").strip().lower()
    gender = SPELLINGS.get(word, word)
    if gender not in GENDERS:
        raise _RowProblem(f"unknown gender word (expected {', '.join(GENDERS)})")
    try:
        face_index = int(row.get("face_index") or "")
    except ValueError:
        raise _RowProblem("face_index is not a whole number") from None
    if face_index < 0:
        raise _RowProblem("face_index is negative")
    text = (row.get("age") or "").strip()
    age = None
    if text and gender != "not_a_face":
        try:
            age = float(text)
        except ValueError:
            raise _RowProblem(f"age is not a number (0-{MAX_AGE:.0f}, or empty)") from None
        if not (math.isfinite(age) and 0 <= age <= MAX_AGE):
            raise _RowProblem(f"age outside 0-{MAX_AGE:.0f}")
    rank = stratum = None
    if has_sampling:
        try:
            rank = int(row["rank"])
        except (TypeError, ValueError):
            raise _RowProblem("rank is not a whole number") from None
        stratum = row.get("stratum") if row.get("sample_by") else None
    return Label(line, row["path"], face_index, gender, age, rank, stratum)


def _sampling(row: dict) -> Sampling:
    unit = row.get(UNIT_COLUMN) or "face"
    if unit not in ("face", "track"):
        raise LabelsError(f"{UNIT_COLUMN} is {unit!r}; expected face or track: {row}")
    try:
        return Sampling(int(row["sample_seed"]), row["sample_by"] or None,
                        int(row["sample_n"]), row["results_fingerprint"], unit)
    except (TypeError, ValueError):
        raise LabelsError(f"sample_seed or sample_n is not a whole number: {row}") from None


class LabelsWriter:
    """Appends labels to the file as they are given, and takes the last one back (undo).

    Each label is one line appended and flushed to disk at once, so closing the page or
    killing the process loses nothing. Undo rewrites the file without its last row (to a
    temporary file, renamed into place).
    """

    def __init__(self, path: str | Path, sampling: Sampling):
        self.path = Path(path)
        self.sampling = sampling
        self.tracks = sampling.unit == "track"
        if not self.path.exists() or self.path.stat().st_size == 0:
            with open(self.path, "w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerow(COLUMNS + ((UNIT_COLUMN,) if self.tracks else ()))

    def append(self, path: str, face_index: int, gender: str, age: float | None, rank: int,
               stratum: str | None) -> None:
        assert gender in GENDERS
        s = self.sampling
        row = [path, face_index, gender, "" if age is None else f"{age:g}", rank,
               stratum or "", s.seed, s.by or "", s.n, s.results_fingerprint] \
            + (["track"] if self.tracks else [])
        with open(self.path, "a", newline="", encoding="utf-8") as f:
            csv.writer(f).writerow(row)
            f.flush()
            os.fsync(f.fileno())

    def remove_last(self) -> None:
        """Drop the last label row (the header stays)."""
        with open(self.path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        if len(rows) <= 1:
            return
        with replacing(self.path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows[:-1])
            f.flush()
            os.fsync(f.fileno())
