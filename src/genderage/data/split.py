"""Seeded, grouped, stratified train/val split written as a manifest CSV."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..contract import GENDER_LABELS, RACES, age_band, gender_index
from .dedup import Groups
from .scan import Scan

MANIFEST_COLUMNS = ("file", "split", "group", "age", "gender", "race")
SOURCE_COLUMN = "source"  # optional; a manifest without it is all UTKFace
DEFAULT_SOURCE = "utkface"
UNKNOWN_RACE = -1         # a source without race labels (AAF); written as "unknown"


@dataclass(frozen=True)
class ManifestRow:
    file: str
    split: str
    group: int
    age: int
    gender: int  # model index: 0 female, 1 male
    race: int    # index into RACES, or UNKNOWN_RACE
    source: str = DEFAULT_SOURCE


def split_groups(scan: Scan, groups: Groups, val_fraction: float = 0.2, seed: int = 0,
                 drop_conflicts: bool = True, one_per_group: bool = True) -> list[ManifestRow]:
    """Assign whole duplicate groups to ``train`` or ``val``.

    Groups are stratified by the gender and age band of their first member; within each
    stratum a seeded shuffle puts ``val_fraction`` of the groups in ``val``. No group has
    members on both sides.

    Args:
        drop_conflicts: leave out every member of a group whose labels disagree.
        one_per_group: keep only the first member of each group (duplicates add no
            information and would be counted twice in validation metrics).
    """
    conflicted = {i for g in groups.conflicts for i in g} if drop_conflicts else set()
    members: dict[int, list[int]] = {}
    for i, gid in enumerate(groups.group):
        if i not in conflicted:
            members.setdefault(int(gid), []).append(i)
    strata: dict[tuple[int, int], list[int]] = {}
    for gid, idx in members.items():
        first = scan.records[idx[0]]
        strata.setdefault((first.gender, age_band(first.age)), []).append(gid)

    split_of = stratified_groups(strata, val_fraction, seed)

    rows = []
    for gid in sorted(members):
        for i in members[gid][:1] if one_per_group else members[gid]:
            r = scan.records[i]
            rows.append(ManifestRow(r.file, split_of[gid], gid, r.age, r.gender, r.race))
    rows.sort(key=lambda row: row.file)
    return rows


def _race_name(race: int) -> str:
    return "unknown" if race == UNKNOWN_RACE else RACES[race]


def _race_index(name: str) -> int:
    return UNKNOWN_RACE if name == "unknown" else RACES.index(name)


def write_manifest(rows: list[ManifestRow], path: str | Path) -> str:
    """Write the manifest CSV; returns its SHA-256 (what checkpoints record).

    The ``source`` column is written only when some row is not UTKFace's, so a UTKFace-only
    manifest stays byte-identical to the single-source format.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    multi = any(r.source != DEFAULT_SOURCE for r in rows)
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(MANIFEST_COLUMNS + ((SOURCE_COLUMN,) if multi else ()))
        for r in rows:
            w.writerow([r.file, r.split, r.group, r.age, GENDER_LABELS[r.gender],
                        _race_name(r.race)] + ([r.source] if multi else []))
    return manifest_hash(path)


def read_manifest(path: str | Path, split: str | None = None,
                  source: str | None = None) -> list[ManifestRow]:
    """Read a manifest CSV, optionally keeping one split and/or one source."""
    with Path(path).open(newline="") as f:
        reader = csv.DictReader(f)
        missing = set(MANIFEST_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: manifest lacks columns {sorted(missing)}")
        rows = [ManifestRow(d["file"], d["split"], int(d["group"]), int(d["age"]),
                            gender_index(d["gender"]), _race_index(d["race"]),
                            d.get(SOURCE_COLUMN) or DEFAULT_SOURCE) for d in reader]
    return [r for r in rows if (split is None or r.split == split)
            and (source is None or r.source == source)]


def manifest_hash(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def stratified_groups(strata: dict, val_fraction: float, seed: int) -> dict[int, str]:
    """``"val"`` or ``"train"`` for each group id: within each stratum (keys in sorted order)
    the group ids are shuffled by one seeded generator and the first
    ``round(n * val_fraction)`` go to validation."""
    rng = np.random.default_rng(seed)
    split_of: dict[int, str] = {}
    for key in sorted(strata):
        gids = sorted(strata[key])
        rng.shuffle(gids)
        n_val = int(round(len(gids) * val_fraction))
        for k, gid in enumerate(gids):
            split_of[gid] = "val" if k < n_val else "train"
    return split_of
