"""The grouped, stratified, seeded train/val split and its manifest CSV."""

import csv
from collections import Counter, defaultdict

import numpy as np
import pytest

from genderage.contract import age_band, gender_label
from genderage.data.dedup import NEAR_NCC, candidate_pairs, find_groups, shifted_ncc
from genderage.data.split import (
    MANIFEST_COLUMNS,
    read_manifest,
    split_groups,
    write_manifest,
)


@pytest.fixture(scope="module")
def data(synthetic_utkface, synthetic_scan):
    return synthetic_utkface, synthetic_scan, find_groups(synthetic_scan)


def test_age_bands():
    assert [age_band(a) for a in (0, 17, 18, 29, 30, 49, 50, 69, 70, 116)] == \
        [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    with pytest.raises(ValueError):
        age_band(-1)


def test_same_seed_same_manifest_other_seed_another(data, tmp_path):
    _, s, g = data
    digests = [write_manifest(split_groups(s, g, seed=seed), tmp_path / f"{k}.csv")
               for k, seed in enumerate((0, 0, 1))]
    assert digests[0] == digests[1]
    assert digests[0] != digests[2]
    assert (tmp_path / "0.csv").read_bytes() == (tmp_path / "1.csv").read_bytes()


def test_default_split_is_80_20_and_stratified_by_gender_and_age_band(data):
    _, s, g = data
    rows = split_groups(s, g)
    # 100 singletons + the consistent group; the two conflicting groups are dropped.
    assert len(rows) == 101
    assert Counter(r.split for r in rows) == {"train": 81, "val": 20}
    strata = defaultdict(list)
    for r in rows:
        strata[r.gender, age_band(r.age)].append(r.split == "val")
    assert len(strata) == 10
    for key, is_val in strata.items():
        assert abs(np.mean(is_val) - 0.2) <= 0.5 / len(is_val), key


def test_no_near_duplicate_pair_crosses_the_split(data):
    ds, s, g = data
    files = [r.file for r in s.records]
    for one_per_group in (True, False):
        split_of = {r.file: r.split for r in split_groups(s, g, drop_conflicts=False,
                                                          one_per_group=one_per_group)}
        # Recompute near-duplicate pairs directly, without the union-find grouping.
        pairs = candidate_pairs(s.phash, s.dhash)
        pairs = pairs[shifted_ncc(s.thumbs, pairs) >= NEAR_NCC]
        assert len(pairs) >= 3 * 5
        for i, j in pairs:
            a, b = files[i], files[j]
            if a in split_of and b in split_of:
                assert split_of[a] == split_of[b], (a, b)
        for members in ds.groups.values():
            assert len({split_of[f] for f in members if f in split_of}) == 1


def test_conflict_and_duplicate_policies(data):
    ds, s, g = data
    planted = {name: set(members) for name, members in ds.groups.items()}

    def kept(rows, group):
        return [r.file for r in rows if r.file in planted[group]]

    dropped = split_groups(s, g)
    assert kept(dropped, "age_conflict") == kept(dropped, "gender_conflict") == []
    assert kept(dropped, "consistent") == [sorted(ds.groups["consistent"])[0]]

    kept_one = split_groups(s, g, drop_conflicts=False)
    assert len(kept_one) == 103
    for group in planted:
        assert kept(kept_one, group) == [sorted(ds.groups[group])[0]]

    kept_all = split_groups(s, g, drop_conflicts=False, one_per_group=False)
    assert len(kept_all) == 100 + 18
    for group in planted:
        rows = [r for r in kept_all if r.file in planted[group]]
        assert len(rows) == 6 and len({(r.group, r.split) for r in rows}) == 1
    assert len({r.group for r in kept_all}) == 103


def test_manifest_round_trip_and_gender_column(data, tmp_path):
    _, s, g = data
    rows = split_groups(s, g, drop_conflicts=False, one_per_group=False)
    path = tmp_path / "manifest.csv"
    write_manifest(rows, path)
    with path.open(newline="") as f:
        table = list(csv.DictReader(f))
    assert tuple(table[0]) == MANIFEST_COLUMNS
    assert MANIFEST_COLUMNS == ("file", "split", "group", "age", "gender", "race")
    utk_code_to_label = {"0": "male", "1": "female"}
    for line in table:
        age, code, race = line["file"].split("_")[:3]
        assert line["gender"] == utk_code_to_label[code]
        assert (line["age"], line["race"]) == (age, ("white", "black", "asian", "indian",
                                                      "others")[int(race)])
    assert read_manifest(path) == rows
    assert read_manifest(path, "val") == [r for r in rows if r.split == "val"]
    assert {gender_label(r.gender) for r in rows} == {"female", "male"}


def test_read_manifest_names_missing_columns(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("file,split,age\n")
    with pytest.raises(ValueError, match=r"lacks columns \['gender', 'group', 'race'\]"):
        read_manifest(path)
