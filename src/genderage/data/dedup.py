"""Exact and near-duplicate groups, and the label conflicts inside them.

Exact duplicates share a SHA-256 of their bytes. Near duplicates (the same photo re-encoded,
re-cropped a little or watermarked) are found in two stages: candidate pairs whose 64-bit
perceptual or difference hashes are close, then a check that their 32x32 grayscale thumbnails
correlate (NCC >= ``NEAR_NCC``) at some shift of up to ``MAX_SHIFT`` thumbnail pixels
(about 6% of the chip). Hashes alone are too coarse on aligned faces: different people's
chips often sit within a few bits of each other (measurements:
docs/experiments/2026-11-28-utkface-data.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .scan import Scan

PHASH_CANDIDATE = 10
DHASH_CANDIDATE = 6
NEAR_NCC = 0.94
MAX_SHIFT = 2
_CHUNK = 1024


class UnionFind:
    def __init__(self, n: int):
        self.parent = np.arange(n)

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def candidate_pairs(phash: np.ndarray, dhash: np.ndarray) -> np.ndarray:
    """Pairs ``i < j`` whose hashes are within the candidate thresholds, int64 ``[M, 2]``."""
    n = len(phash)
    out = [np.empty((0, 2), np.int64)]
    for start in range(0, n, _CHUNK):
        dp = np.bitwise_count(phash[start:start + _CHUNK, None] ^ phash[None, :])
        dd = np.bitwise_count(dhash[start:start + _CHUNK, None] ^ dhash[None, :])
        ii, jj = np.nonzero((dp <= PHASH_CANDIDATE) | (dd <= DHASH_CANDIDATE))
        ii = ii + start
        keep = ii < jj
        out.append(np.stack([ii[keep], jj[keep]], axis=1))
    return np.concatenate(out)


def shifted_ncc(thumbs: np.ndarray, pairs: np.ndarray, max_shift: int = MAX_SHIFT) -> np.ndarray:
    """Best normalised cross-correlation of each pair's thumbnails over small shifts.

    Args:
        thumbs: uint8 ``[N, S, S]`` grayscale thumbnails.
        pairs: int ``[M, 2]`` indices into ``thumbs``.

    Returns:
        float32 ``[M]`` in [-1, 1]; 1 means identical up to brightness/contrast.
    """
    s, m = thumbs.shape[1], max_shift
    best = np.full(len(pairs), -1.0, np.float32)
    for start in range(0, len(pairs), 20000):
        p = pairs[start:start + 20000]
        a = _centred(thumbs[p[:, 0], m:s - m, m:s - m].astype(np.float32))
        b_full = thumbs[p[:, 1]].astype(np.float32)
        for dy in range(-m, m + 1):
            for dx in range(-m, m + 1):
                b = _centred(b_full[:, m + dy:s - m + dy, m + dx:s - m + dx])
                ncc = (a * b).sum((1, 2))
                np.maximum(best[start:start + 20000], ncc, out=best[start:start + 20000])
    return best


def _centred(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=(1, 2), keepdims=True)
    return x / (np.sqrt((x * x).sum(axis=(1, 2), keepdims=True)) + 1e-6)


@dataclass
class Groups:
    """Duplicate structure of a scan, index-aligned with ``scan.records``."""

    group: np.ndarray         # int [N]: group id (smallest member index), singleton = itself
    exact_groups: list[list[int]]
    near_groups: list[list[int]]   # groups of >1 member that are not purely exact copies
    conflicts: list[list[int]]     # groups (of any kind) whose members' labels disagree


def _members(uf: UnionFind, n: int) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for i in range(n):
        out.setdefault(uf.find(i), []).append(i)
    return out


def find_groups(scan: Scan, age_tolerance: int = 0) -> Groups:
    """Group exact and near duplicates and list the groups with conflicting labels.

    Args:
        age_tolerance: ages differing by at most this many years do not count as a conflict.
    """
    n = len(scan.records)
    exact = UnionFind(n)
    first_of: dict[str, int] = {}
    for i, sha in enumerate(scan.sha256):
        exact.union(first_of.setdefault(sha, i), i)
    exact_groups = [g for g in _members(exact, n).values() if len(g) > 1]

    everything = UnionFind(n)
    everything.parent = exact.parent.copy()
    pairs = candidate_pairs(scan.phash, scan.dhash)
    if len(pairs):
        near = pairs[shifted_ncc(scan.thumbs, pairs) >= NEAR_NCC]
        for i, j in near:
            everything.union(int(i), int(j))
    all_groups = _members(everything, n)
    group = np.array([everything.find(i) for i in range(n)])
    exact_sets = {tuple(g) for g in exact_groups}
    near_groups = [g for g in all_groups.values() if len(g) > 1 and tuple(g) not in exact_sets]
    conflicts = [g for g in all_groups.values()
                 if len(g) > 1 and _labels_conflict(scan, g, age_tolerance)]
    return Groups(group, exact_groups, near_groups, conflicts)


def _labels_conflict(scan: Scan, members: list[int], age_tolerance: int) -> bool:
    ages = [scan.records[i].age for i in members]
    genders = {scan.records[i].gender for i in members}
    return len(genders) > 1 or max(ages) - min(ages) > age_tolerance
