"""Multi-source manifests (UTKFace + AAF): parsing, validation, the AAF dev fold, cross-source
duplicates and ``genderage data split`` with two sources, on tiny synthetic sources."""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from genderage.cli import main
from genderage.data.scan import Scan, image_fingerprints
from genderage.data.sources import (ManifestError, cross_duplicates, parse_sources, split_aaf,
                                    validate_manifest)
from genderage.data.split import (UNKNOWN_RACE, ManifestRow, age_band, read_manifest,
                                  write_manifest)
from genderage.data.utkface import Record

from utkface_synth import chip, decode, jpeg


def test_parse_sources_bare_folder_is_utkface_and_names_are_checked(tmp_path):
    assert parse_sources(["u", "aaf=a"]) == {"utkface": Path("u"), "aaf": Path("a")}
    with pytest.raises(ManifestError, match="unknown source 'imdb'"):
        parse_sources(["imdb=x"])
    with pytest.raises(ManifestError, match="given twice"):
        parse_sources(["u", "utkface=v"])


def _files(root: Path, names: list[str]) -> None:
    for n in names:
        (root / n).parent.mkdir(parents=True, exist_ok=True)
        (root / n).write_bytes(b"x")


def test_validate_manifest_names_unknown_sources_missing_files_and_overlaps(tmp_path):
    utk, aaf = tmp_path / "utk", tmp_path / "aaf"
    _files(utk, ["a.jpg", "b.jpg"])
    _files(aaf, ["images/1.jpg", "images/2.jpg"])
    rows = [ManifestRow("a.jpg", "train", 0, 30, 1, 0),
            ManifestRow("b.jpg", "val", 1, 30, 0, 0),
            ManifestRow("images/1.jpg", "train", 10, 20, 0, UNKNOWN_RACE, "aaf"),
            ManifestRow("images/2.jpg", "val", 11, 20, 1, UNKNOWN_RACE, "aaf")]
    roots = {"utkface": utk, "aaf": aaf}
    validate_manifest(rows, roots, "m.csv")

    with pytest.raises(ManifestError, match=r"m\.csv: 2 rows name source\(s\) \['aaf'\]"):
        validate_manifest(rows, {"utkface": utk}, "m.csv")
    (aaf / "images/2.jpg").unlink()
    with pytest.raises(ManifestError, match=r"1 files do not exist: .*images/2\.jpg"):
        validate_manifest(rows, roots, "m.csv")
    _files(aaf, ["images/2.jpg"])
    leak = rows + [ManifestRow("images/1.jpg", "val", 10, 20, 0, UNKNOWN_RACE, "aaf")]
    with pytest.raises(ManifestError, match=r"1 val rows share a file with training rows: "
                                            r"aaf:images/1\.jpg"):
        validate_manifest(leak, roots, "m.csv")
    same_group = rows[:3] + [ManifestRow("images/2.jpg", "val", 10, 20, 1, UNKNOWN_RACE, "aaf")]
    with pytest.raises(ManifestError, match="share a duplicate group"):
        validate_manifest(same_group, roots, "m.csv")


def test_manifest_round_trip_with_sources_and_old_format_unchanged(tmp_path):
    rows = [ManifestRow("a.jpg", "train", 0, 30, 1, 2),
            ManifestRow("images/1.jpg", "val", 1_000_000, 20, 0, UNKNOWN_RACE, "aaf")]
    write_manifest(rows, tmp_path / "m.csv")
    assert read_manifest(tmp_path / "m.csv") == rows
    assert read_manifest(tmp_path / "m.csv", "val", "aaf") == rows[1:]
    assert (tmp_path / "m.csv").read_text().splitlines()[2] == \
        "images/1.jpg,val,1000000,20,female,unknown,aaf"
    write_manifest(rows[:1], tmp_path / "old.csv")  # UTKFace only: the old columns exactly
    assert (tmp_path / "old.csv").read_text() == \
        "file,split,group,age,gender,race\na.jpg,train,0,30,male,asian\n"


def _scan(records, chips, name: str) -> Scan:
    prints = [image_fingerprints(c) for c in chips]
    return Scan(name, len(records), records, [f"{name}{i}" for i in range(len(records))],
                np.array([p[0] for p in prints], np.uint64),
                np.array([p[1] for p in prints], np.uint64), np.stack([p[2] for p in prints]))


def test_cross_duplicates_finds_exact_and_near_copies_across_and_within():
    first_chips = [chip(s) for s in range(6)]
    first = _scan([Record(f"u{i}.jpg", 30, 0, 0) for i in range(6)], first_chips, "u")
    # second: 0 re-encoded copy of first[2] (near), 1 distinct, 2 distinct, 3 byte copy of
    # first[4] (exact), 4 re-encoded copy of second[1] (near, within)
    second_chips = [decode(jpeg(first_chips[2], 60)), chip(100), chip(101), first_chips[4],
                    decode(jpeg(chip(100), 60))]
    second = _scan([Record(f"a{i}.jpg", 20, 1, UNKNOWN_RACE) for i in range(5)], second_chips,
                   "a")
    second.sha256[3] = first.sha256[4]
    across, within = cross_duplicates(first, second)
    assert across == {0, 3}
    assert within == [(1, 4)]


def test_split_aaf_stratified_dev_fold_keeps_groups_whole_and_drops_cross_duplicates():
    records = [Record(f"images/{i:05d}.jpg", age, g, UNKNOWN_RACE)
               for i, (age, g) in enumerate((a, g) for a in (5, 25, 40, 60, 75) for g in (0, 1)
                                            for _ in range(20))]
    aaf = Scan("aaf", len(records), records, [], np.zeros(0), np.zeros(0), np.zeros(0))
    rows = split_aaf(aaf, drop={0, 1}, within=[(30, 31)], dev_fraction=0.2, seed=0)
    assert len(rows) == 200 - 2 - 1  # two dropped, one duplicate folded into its group
    files = {r.file for r in rows}
    assert "images/00000.jpg" not in files and "images/00031.jpg" not in files
    dev = Counter((r.gender, age_band(r.age)) for r in rows if r.split == "val")
    assert set(dev.values()) == {4}  # 20% of each stratum of 20 (19 or 18 groups -> 4)
    assert all(r.source == "aaf" and r.group >= 1_000_000 for r in rows)
    assert split_aaf(aaf, {0, 1}, [(30, 31)], 0.2, seed=0) == rows


def _synthetic_aaf(root: Path, utk_file: Path, n: int = 24) -> list[str]:
    """AAF layout: images/ and labels.csv; the first image is a byte copy of ``utk_file``."""
    (root / "images").mkdir(parents=True)
    names = []
    with (root / "labels.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "age", "gender"])
        for i in range(n):
            name = f"images/{i:05d}A{10 + 3 * i:02d}.jpg"
            if i == 0:
                shutil.copy(utk_file, root / name)
            else:
                (root / name).write_bytes(jpeg(chip(500 + i)))
            w.writerow([name, 10 + 3 * i, "female" if i % 2 else "male"])
            names.append(name)
    return names


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_data_split_with_two_sources(synthetic_utkface, tmp_path, capsys):
    aaf = tmp_path / "aaf"
    single, both = tmp_path / "utk.csv", tmp_path / "both.csv"
    assert main(["data", "split", str(synthetic_utkface.root), "--out", str(single)]) == 0
    names = _synthetic_aaf(aaf, synthetic_utkface.root / read_manifest(single)[0].file)
    assert main(["data", "split", str(synthetic_utkface.root), f"aaf={aaf}", "--out", str(both),
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    out = capsys.readouterr()
    assert "aaf: 24 files, 1 dropped as duplicates of UTKFace faces" in out.err
    rows = read_manifest(both)
    assert [r for r in rows if r.source == "utkface"] == read_manifest(single)
    aaf_rows = [r for r in rows if r.source == "aaf"]
    assert sorted(r.file for r in aaf_rows) == names[1:]
    assert sum(r.split == "val" for r in aaf_rows) >= 1
    validate_manifest(rows, {"utkface": synthetic_utkface.root, "aaf": aaf}, both)
    assert main(["data", "split", f"imdb={aaf}", "--out", str(tmp_path / "x.csv")]) == 2
    assert "unknown source 'imdb'" in capsys.readouterr().err


def test_train_stops_on_a_manifest_naming_a_source_without_folder(synthetic_utkface, tmp_path,
                                                                  capsys):
    manifest = tmp_path / "m.csv"
    assert main(["data", "split", str(synthetic_utkface.root), "--out", str(manifest)]) == 0
    rows = read_manifest(manifest) + [ManifestRow("images/00001A10.jpg", "val", 1_000_001, 10,
                                                  0, UNKNOWN_RACE, "aaf")]
    write_manifest(rows, manifest)
    capsys.readouterr()
    assert main(["train", "--data", str(synthetic_utkface.root), "--manifest", str(manifest),
                 "--out", str(tmp_path / "run"), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "1 rows name source(s) ['aaf'] with no folder given" in err
    assert "Traceback" not in err
