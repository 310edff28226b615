"""The order in which ``genderage label`` shows faces: seeded, uniformly random, optionally
stratified; and the fingerprint that ties a labels file to its results.

A face's place in the order comes from a keyed hash of ``(seed, path, face_index)``, so the
order of the faces already in a results file does not change when more images are added,
and any prefix of the order is a uniformly random sample of the faces (of each stratum).
With strata, the prefix takes from stratum ``g`` a share proportional to ``sqrt(N_g)``
(Kish's power allocation with exponent 1/2): small groups get more labels than in
proportion, so that each group's own estimate has labels, while large groups still get more.
The report weights each stratum by its share of all faces, so the overall estimates stay
unbiased.
"""

from __future__ import annotations

import hashlib

import numpy as np


def face_keys(paths, face_indices) -> list[str]:
    """``"path\\tface_index"`` for each face: how a face is named across files."""
    return [f"{p}\t{int(i)}" for p, i in zip(paths, face_indices)]


def results_fingerprint(keys: list[str]) -> str:
    """SHA-256 (hex, first 16 digits) of the sorted face keys: changes when faces are added
    to or removed from the results."""
    digest = hashlib.sha256()
    for key in sorted(keys):
        digest.update(key.encode("utf-8", "surrogateescape") + b"\n")
    return digest.hexdigest()[:16]


def _priority(keys: list[str], seed: int) -> np.ndarray:
    """A uniformly random number per key, fixed by ``seed`` (the first 8 bytes of a keyed
    BLAKE2b hash): sorting by it gives a uniformly random order."""
    salt = str(seed).encode()
    return np.array([int.from_bytes(hashlib.blake2b(k.encode("utf-8", "surrogateescape"),
                                                    digest_size=8, key=salt[:64]).digest(),
                                    "big") for k in keys], dtype=np.uint64)


def sampling_order(keys: list[str], seed: int, strata: np.ndarray | None = None
                   ) -> np.ndarray:
    """Indices into ``keys`` in the order the faces are to be labelled.

    Args:
        keys: :func:`face_keys` of every face.
        seed: the sample's seed.
        strata: ``[N]`` stratum label per face, or ``None`` for one uniform order.

    Returns:
        int ``[N]``, a permutation of ``range(N)``.
    """
    priority = _priority(keys, seed)
    by_priority = np.lexsort((np.arange(len(keys)), priority))
    if strata is None:
        return by_priority
    strata = np.asarray(strata, dtype=object)[by_priority]
    names, inverse, sizes = np.unique(strata, return_inverse=True, return_counts=True)
    weight = np.sqrt(sizes) / np.sqrt(sizes).sum()
    # Within each stratum the j-th face (0-based, by priority) is due at (j + 1/2) / weight:
    # merging the strata by that time keeps every prefix close to the allocation.
    rank_in_stratum = np.empty(len(strata), np.int64)
    for g in range(len(names)):
        members = np.flatnonzero(inverse == g)
        rank_in_stratum[members] = np.arange(len(members))
    due = (rank_in_stratum + 0.5) / weight[inverse]
    return by_priority[np.lexsort((inverse, due))]
