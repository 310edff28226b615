"""Several labelled sources in one manifest: UTKFace plus All-Age-Faces (AAF).

UTKFace keeps its grouped split exactly as :func:`genderage.data.split.split_groups` makes
it alone. AAF gets a fixed dev fold (``split == "val"``), stratified by gender and age band.
Duplicates are searched across sources on the aligned 200x200 chip of each face (UTKFace's
own chip, AAF's pipeline crop), exact by file SHA-256 and near by the perceptual hash and
thumbnail test of :mod:`genderage.data.dedup`; an AAF image that duplicates a UTKFace one is
left out, so no face can straddle training and a dev set.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from .aaf import load_crops, load_landmarks, read_labels
from .dedup import NEAR_NCC, UnionFind, candidate_pairs, shifted_ncc
from .scan import Scan, image_fingerprints
from .split import (DEFAULT_SOURCE, UNKNOWN_RACE, ManifestRow, age_band, split_groups,
                    stratified_groups)

log = logging.getLogger(__name__)

SOURCES = ("utkface", "aaf")
SOURCE_TERMS = {
    "utkface": {"name": "UTKFace (aligned and cropped)",
                "terms": "non-commercial research purposes only",
                "cite": "Zhang, Song and Qi, \"Age progression/regression by conditional "
                        "adversarial autoencoder\", CVPR 2017"},
    "aaf": {"name": "All-Age-Faces, the official train half",
            "terms": "non-commercial research; cite the dataset",
            "cite": "Cheng et al., \"Exploiting effective facial patches for robust gender "
                    "recognition\", 2019"},
}
"""Each source's name, terms of use and citation, for the model card."""
AAF_GROUP_OFFSET = 1_000_000  # AAF group ids start here, apart from UTKFace's


class ManifestError(ValueError):
    """A manifest that cannot be used as it is; the message names the rows or files."""


def parse_sources(specs: list[str]) -> dict[str, Path]:
    """``["utkface=DIR", "aaf=DIR"]`` (a bare ``DIR`` is UTKFace) -> ``{name: folder}``.

    Raises:
        ManifestError: an unknown source name, or one named twice.
    """
    out: dict[str, Path] = {}
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep:
            name, folder = DEFAULT_SOURCE, spec
        if name not in SOURCES:
            raise ManifestError(f"unknown source {name!r} in {spec!r} (known: {', '.join(SOURCES)})")
        if name in out:
            raise ManifestError(f"source {name!r} given twice")
        out[name] = Path(folder)
    return out


def validate_manifest(rows: list[ManifestRow], roots: dict[str, Path],
                      manifest: str | Path = "manifest") -> None:
    """Stop on rows that name a source without a folder, missing files, or a dev/val fold
    that shares a file or a duplicate group with training.

    Raises:
        ManifestError: naming the manifest and the first offending rows or files.
    """
    unknown = [r for r in rows if r.source not in roots]
    if unknown:
        names = sorted({r.source for r in unknown})
        raise ManifestError(f"{manifest}: {len(unknown)} rows name source(s) {names} with no "
                            f"folder given (given: {sorted(roots)}); first: {unknown[0].file}")
    missing = [str(roots[r.source] / r.file) for r in rows
               if not (roots[r.source] / r.file).is_file()]
    if missing:
        raise ManifestError(f"{manifest}: {len(missing)} files do not exist: "
                            + ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else ""))
    for key, what in ((lambda r: (r.source, r.file), "file"),
                      (lambda r: (r.source, r.group), "duplicate group")):
        train = {key(r) for r in rows if r.split == "train"}
        overlap = [r for r in rows if r.split != "train" and key(r) in train]
        if overlap:
            raise ManifestError(
                f"{manifest}: {len(overlap)} {_splits(overlap)} rows share a {what} with "
                f"training rows: " + ", ".join(f"{r.source}:{r.file}" for r in overlap[:5]))


def _splits(rows: list[ManifestRow]) -> str:
    return "/".join(sorted({r.split for r in rows}))


def _fingerprint(chip: np.ndarray):
    return image_fingerprints(chip)


def aaf_scan(root: Path, cache_dir: str | Path | None, detector: str | None = None) -> Scan:
    """Labels and duplicate fingerprints of AAF, the fingerprints on each face's aligned
    200x200 chip (the whole image where no face was found)."""
    from .utkface import Record

    recs = read_labels(root)
    files = [r.file for r in recs]
    landmarks, found = load_landmarks(root, files, cache_dir, detector)
    (chips,) = load_crops(root, files, landmarks, found, sizes=(200,))
    with ProcessPoolExecutor(max_workers=2) as pool:
        prints = list(pool.map(_fingerprint, chips, chunksize=64))
    shas = [hashlib.sha256((root / f).read_bytes()).hexdigest() for f in files]
    return Scan(str(root), len(recs), [Record(r.file, r.age, r.gender, UNKNOWN_RACE) for r in recs],
                shas, np.array([p[0] for p in prints], np.uint64),
                np.array([p[1] for p in prints], np.uint64),
                np.stack([p[2] for p in prints]) if prints else np.zeros((0, 32, 32), np.uint8))


def cross_duplicates(first: Scan, second: Scan) -> tuple[set[int], list[tuple[int, int]]]:
    """Duplicates between two scans and within the second.

    Returns:
        the indices of ``second`` that duplicate some member of ``first`` (exact or near),
        and the pairs ``(i, j)`` of ``second``'s indices that duplicate each other.
    """
    n1 = len(first.records)
    shas = {s: i for i, s in enumerate(first.sha256)}
    across = {j for j, s in enumerate(second.sha256) if s in shas}
    within: list[tuple[int, int]] = []
    seen2: dict[str, int] = {}
    for j, s in enumerate(second.sha256):
        if s in seen2:
            within.append((seen2[s], j))
        seen2.setdefault(s, j)
    phash = np.concatenate([first.phash, second.phash])
    dhash = np.concatenate([first.dhash, second.dhash])
    pairs = candidate_pairs(phash, dhash)
    pairs = pairs[pairs[:, 1] >= n1]  # i < j, so at least j is in the second scan
    if len(pairs):
        thumbs = np.concatenate([first.thumbs, second.thumbs])
        near = pairs[shifted_ncc(thumbs, pairs) >= NEAR_NCC]
        for i, j in near:
            if i < n1:
                across.add(int(j) - n1)
            else:
                within.append((int(i) - n1, int(j) - n1))
    return across, within


def split_aaf(aaf: Scan, drop: set[int], within: list[tuple[int, int]], dev_fraction: float,
              seed: int, one_per_group: bool = True) -> list[ManifestRow]:
    """AAF rows: duplicate groups kept whole, a seeded ``dev_fraction`` of the groups of
    each (gender, age band) stratum in ``val`` (the dev fold), the rest in ``train``."""
    n = len(aaf.records)
    uf = UnionFind(n)
    for i, j in within:
        uf.union(i, j)
    members: dict[int, list[int]] = {}
    for i in range(n):
        if i not in drop:
            members.setdefault(uf.find(i), []).append(i)
    strata: dict[tuple[int, int], list[int]] = {}
    for gid, idx in members.items():
        r = aaf.records[idx[0]]
        strata.setdefault((r.gender, age_band(r.age)), []).append(gid)
    split_of = stratified_groups(strata, dev_fraction, seed)
    rows = []
    for gid in sorted(members):
        for i in members[gid][:1] if one_per_group else members[gid]:
            r = aaf.records[i]
            rows.append(ManifestRow(r.file, split_of[gid], AAF_GROUP_OFFSET + gid, r.age,
                                    r.gender, UNKNOWN_RACE, "aaf"))
    return sorted(rows, key=lambda row: row.file)


def split_sources(roots: dict[str, Path], val_fraction: float = 0.2, seed: int = 0,
                  dev_fraction: float = 0.2, drop_conflicts: bool = True,
                  one_per_group: bool = True, cache_dir: str | Path | None = "runs/cache",
                  detector: str | None = None, progress=None) -> tuple[list[ManifestRow], dict]:
    """The rows of a multi-source manifest and a report of what was dropped and why.

    UTKFace's rows are exactly those of :func:`split_groups` on UTKFace alone.
    """
    from .check import check

    if DEFAULT_SOURCE not in roots:
        raise ManifestError("a UTKFace source is needed (its split anchors the others)")
    report, utk, groups = check(roots[DEFAULT_SOURCE], progress)
    rows = split_groups(utk, groups, val_fraction, seed, drop_conflicts, one_per_group)
    out = {"utkface": report}
    if "aaf" in roots:
        aaf = aaf_scan(roots["aaf"], cache_dir, detector)
        across, within = cross_duplicates(utk, aaf)
        aaf_rows = split_aaf(aaf, across, within, dev_fraction, seed, one_per_group)
        rows += aaf_rows
        out["aaf"] = {
            "files": len(aaf.records),
            "dropped_as_duplicates_of_utkface": sorted(aaf.records[j].file for j in across),
            "duplicate_pairs_within": len(within),
            "rows": len(aaf_rows),
            "dev": dict(Counter(f"{r.gender}/{age_band(r.age)}" for r in aaf_rows
                                if r.split == "val")),
        }
    return rows, out
