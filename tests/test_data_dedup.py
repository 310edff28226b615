"""Exact and near-duplicate groups, and the label conflicts found inside them."""

import itertools

import numpy as np
import pytest
from utkface_synth import near_copies

from genderage.data import dedup
from genderage.data.check import build_report
from genderage.data.dedup import candidate_pairs, find_groups, shifted_ncc
from genderage.data.scan import scan

REAL_CHIPS = ("100_0_0_20170112213500903.jpg.chip.jpg", "25_0_0_20170113174036233.jpg.chip.jpg",
              "29_1_3_20170104235317706.jpg.chip.jpg", "39_1_2_20170108225357064.jpg.chip.jpg")
"""Four different people from UTKFace, for the near-copy check on real faces."""


@pytest.fixture(scope="module")
def synth(synthetic_utkface, synthetic_scan):
    return synthetic_utkface, synthetic_scan, [r.file for r in synthetic_scan.records]


def _bits(lo: int, hi: int) -> np.uint64:
    """A uint64 with bits lo..hi-1 set."""
    return np.uint64(((1 << hi) - 1) ^ ((1 << lo) - 1))


def test_candidate_pairs_use_phash_10_or_dhash_6():
    assert (dedup.PHASH_CANDIDATE, dedup.DHASH_CANDIDATE) == (10, 6)
    phash = np.array([0, _bits(0, 10), _bits(20, 31), _bits(40, 52)], np.uint64)
    dhash = np.array([0, _bits(0, 40), _bits(0, 7), _bits(58, 64)], np.uint64)
    # 0-1: phash 10 (in); 0-2: phash 11, dhash 7 (out); 0-3: dhash 6 (in); all others far apart.
    assert candidate_pairs(phash, dhash).tolist() == [[0, 1], [0, 3]]


def test_shifted_ncc_golden_values():
    rng = np.random.default_rng(0)
    a, other = rng.integers(0, 256, (2, 32, 32), dtype=np.uint8)
    thumbs = np.stack([a, np.roll(a, 2, axis=1), (a * 0.5 + 40).round().astype(np.uint8),
                       255 - a, other])
    pairs = np.array([[0, 1], [0, 2], [0, 4]])
    ncc = shifted_ncc(thumbs, pairs)
    assert ncc.dtype == np.float32
    assert ncc[0] == pytest.approx(1.0, abs=1e-5)    # a 2-pixel shift is searched
    assert ncc[1] == pytest.approx(1.0, abs=1e-3)    # brightness/contrast do not matter
    assert abs(ncc[2]) < 0.2                         # unrelated noise
    assert shifted_ncc(thumbs, np.array([[0, 1]]), max_shift=1)[0] < 0.2
    assert shifted_ncc(thumbs, np.array([[0, 3]]), max_shift=0)[0] == pytest.approx(-1.0, abs=1e-5)


def test_planted_duplicates_form_exactly_the_planted_groups(synth):
    ds, s, files = synth
    g = find_groups(s)
    named = lambda groups: sorted(sorted(files[i] for i in grp) for grp in groups)
    assert named(g.exact_groups) == sorted(sorted(m[:2]) for m in ds.groups.values())
    assert named(g.near_groups) == sorted(sorted(m) for m in ds.groups.values())
    planted = {f for m in ds.groups.values() for f in m}
    singles = [i for i, f in enumerate(files) if f not in planted]
    assert len(singles) == 100
    assert all(g.group[i] == i for i in singles)  # no distinct chip joined any group
    for members in g.near_groups:
        assert all(g.group[i] == min(members) for i in members)


def test_near_copies_pass_the_ncc_check_with_margin(synth):
    ds, s, files = synth
    idx = {f: i for i, f in enumerate(files)}
    near = np.array([[idx[m[0]], idx[f]] for m in ds.groups.values() for f in m[2:]])
    assert shifted_ncc(s.thumbs, near).min() >= 0.95
    originals = [idx[f] for f in files if not any(f in m[1:] for m in ds.groups.values())]
    distinct = np.array(list(itertools.combinations(originals, 2)))
    assert shifted_ncc(s.thumbs, distinct).max() < 0.90


def test_label_conflicts_and_age_tolerance(synth):
    ds, s, files = synth
    named = lambda groups: sorted(sorted(files[i] for i in grp) for grp in groups)
    conflicting = named(find_groups(s).conflicts)
    assert conflicting == sorted([sorted(ds.groups["age_conflict"]),
                                  sorted(ds.groups["gender_conflict"])])
    # Ages 30 and 31 agree within one year; the gender conflict stays.
    tolerant = find_groups(s, age_tolerance=1)
    assert named(tolerant.conflicts) == [sorted(ds.groups["gender_conflict"])]
    report = build_report(s, find_groups(s))
    assert report["label_conflicts"]["groups"] == 2
    assert report["label_conflicts"]["files"] == 12
    assert report["label_conflicts"]["gender_conflicts"] == 1
    assert report["exact_duplicates"] == {"groups": 3, "files": 6}
    assert report["near_duplicates"] == {"groups": 3, "files": 18}


def test_near_copies_of_real_faces_are_grouped(utkface_dir, tmp_path):
    # 3 px re-crop: every one of 143 sampled UTKFace chips is caught; at 6 px only 88% are
    # (docs/experiments/2026-11-28-utkface-data.md, "Limits").
    expected = []
    for k, name in enumerate(REAL_CHIPS):
        data = (utkface_dir / name).read_bytes()
        copies = {"original": data, "exact": data, **near_copies(data, recrop_px=3)}
        group = []
        for variant, content in copies.items():
            file = f"{k}_{variant}/{name}"
            (tmp_path / file).parent.mkdir(exist_ok=True)
            (tmp_path / file).write_bytes(content)
            group.append(file)
        expected.append(sorted(group))
    s = scan(tmp_path, workers=2)
    g = find_groups(s)
    files = [r.file for r in s.records]
    assert len(files) == 24
    assert sorted(sorted(files[i] for i in grp) for grp in g.near_groups) == sorted(expected)
    assert len(g.exact_groups) == 4
