"""What ``genderage label`` shows: the faces of photo results (one item per face) or the
tracks of a tracks table (one item per track, shown by its best frame).

An item is named by ``(path, index)``: a photo and its ``face_index``, or a video and its
``track_id`` (the labels file keeps the latter in its ``face_index`` column too, and says
``sample_unit = track``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

UNITS = ("face", "track")
MISSING = "(missing)"


@dataclass(frozen=True)
class Items:
    """The items of a results file, as arrays (``N`` items).

    Attributes:
        unit: ``"face"`` (photo results) or ``"track"`` (a tracks table).
        paths: ``[N]`` the photo or video of each item.
        indices: int ``[N]`` the face's ``face_index`` or the track's ``track_id``.
        boxes: ``[N]`` each face's box (``x1, y1, x2, y2``, pixels; the track's
            ``best_bbox``), ``None`` where the results have none.
        frames: int ``[N]`` each track's ``best_frame``; ``None`` for photos.
        strata: ``[N]`` the ``--by`` column's value per item (as text), or ``None``.
    """

    unit: str
    paths: np.ndarray
    indices: np.ndarray
    boxes: list
    frames: np.ndarray | None
    strata: np.ndarray | None

    def __len__(self) -> int:
        return len(self.paths)


def read_items(path: str | Path, by: str | None = None) -> Items:
    """The items of photo results (``genderage batch``) or of a Parquet tracks table
    (``genderage video ... --out DIR.parquet``).

    Raises:
        FileNotFoundError, ResultsError: unusable results, a ``--by`` column they lack, or
            one video's JSON lines (they do not name the video).
    """
    from ..report.screen_report import is_tracks_table
    from ..report.table import read_results

    if is_tracks_table(path):
        return _track_items(path, by)
    results = read_results(path, by, extra=("bbox",))
    return Items("face", results.face_paths, results.face_indices, results.extra["bbox"],
                 None, results.groups)


def _track_items(path: str | Path, by: str | None) -> Items:
    """One item per row with a ``track_id``: videos without tracks have nothing to show."""
    from ..report.screen_report import read_tracks_table
    from ..report.table import ResultsError

    if Path(path).suffix.lower() == ".jsonl":
        raise ResultsError(f"{path}: one video's JSON lines do not name the video; label the "
                           "Parquet tracks table (genderage video VIDEO --out DIR.parquet)")
    table = read_tracks_table(path)
    wanted = ["best_frame", "best_bbox"] + ([by] if by is not None else [])
    missing = [c for c in wanted if c not in table.column_names]
    if missing:
        raise ResultsError(f"{path}: missing column(s) {', '.join(missing)} (has: "
                           f"{', '.join(table.column_names)})")
    rows = [r for r in table.select(list(dict.fromkeys(["path", "track_id", *wanted])))
            .to_pylist()
            if r["track_id"] is not None]
    strata = None if by is None else \
        np.array([MISSING if r[by] is None else str(r[by]) for r in rows], dtype=object)
    return Items("track", np.array([r["path"] for r in rows], dtype=object),
                 np.array([r["track_id"] for r in rows], np.int64),
                 [None if r["best_frame"] is None else r["best_bbox"] for r in rows],
                 np.array([r["best_frame"] or 0 for r in rows], np.int64), strata)
