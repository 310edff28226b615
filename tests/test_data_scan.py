"""Reading a UTKFace folder, .tar.gz or .zip: labels, hashes and listed defects."""

import hashlib
import tarfile
import zipfile

import numpy as np
import pytest

from genderage.contract import gender_label
from genderage.data.check import check
from genderage.data.scan import scan


@pytest.fixture(scope="module")
def folder_scan(synthetic_scan):
    return synthetic_scan  # one scan for this module, dedup's and split's (conftest.py)


def test_folder_scan_reads_every_good_file_once(folder_scan, synthetic_utkface):
    ds = synthetic_utkface
    assert [r.file for r in folder_scan.records] == ds.usable
    assert len(ds.usable) == 118
    assert folder_scan.total_files == 118 + 7  # .DS_Store is not a dataset file
    assert folder_scan.sha256 == [hashlib.sha256((ds.root / f).read_bytes()).hexdigest()
                                  for f in ds.usable]
    assert folder_scan.phash.dtype == folder_scan.dhash.dtype == np.uint64
    assert folder_scan.phash.shape == (118,)
    assert folder_scan.thumbs.dtype == np.uint8 and folder_scan.thumbs.shape == (118, 32, 32)


def test_labels_follow_the_name_with_gender_flipped(folder_scan):
    by_file = {r.file: r for r in folder_scan.records}
    male = by_file["30_0_0_20170101000000101.jpg.chip.jpg"]
    female = by_file["45_1_1_20170101000000107.jpg.chip.jpg"]
    assert (male.age, gender_label(male.gender), male.race) == (30, "male", 0)
    assert (female.age, gender_label(female.gender), female.race) == (45, "female", 1)
    utk_code_to_label = {"0": "male", "1": "female"}
    assert all(gender_label(r.gender) == utk_code_to_label[r.file.split("_")[1]]
               for r in folder_scan.records)


def test_defects_are_listed_by_kind_and_name_the_file(folder_scan, synthetic_utkface):
    assert {d.file: d.kind for d in folder_scan.defects} == synthetic_utkface.defects
    assert all(d.message.startswith(d.file) for d in folder_scan.defects)
    messages = {d.file: d.message for d in folder_scan.defects}
    assert "empty file" in messages["35_0_3_20170101000000003.jpg.chip.jpg"]
    assert "not an image" in messages["33_0_1_20170101000000001.jpg.chip.jpg"]
    assert "truncated" in messages["34_1_2_20170101000000002.jpg.chip.jpg"]


def _tar_gz(ds, path):
    # Reverse order and "./" prefixes, as `tar czf x.tar.gz .` may produce.
    with tarfile.open(path, "w:gz") as tf:
        for f in sorted(p for p in ds.root.iterdir())[::-1]:
            tf.add(f, arcname=f"./{f.name}")


def _zip(ds, path):
    with zipfile.ZipFile(path, "w") as zf:
        for f in sorted(ds.root.iterdir()):
            zf.write(f, arcname=f.name)
        zf.writestr("__MACOSX/._30_0_0_20170101000000101.jpg.chip.jpg", b"\x00\x05\x16\x07")


@pytest.mark.parametrize("fmt, write", [("tar.gz", _tar_gz), ("zip", _zip)])
def test_archive_scans_exactly_like_the_folder(fmt, write, folder_scan, synthetic_utkface,
                                               tmp_path):
    archive = tmp_path / f"UTKFace.{fmt}"
    write(synthetic_utkface, archive)
    s = scan(archive, workers=2)
    assert s.records == folder_scan.records
    assert s.sha256 == folder_scan.sha256
    assert s.defects == folder_scan.defects
    assert s.total_files == folder_scan.total_files
    np.testing.assert_array_equal(s.phash, folder_scan.phash)
    np.testing.assert_array_equal(s.dhash, folder_scan.dhash)
    np.testing.assert_array_equal(s.thumbs, folder_scan.thumbs)


def test_empty_folder_gives_an_empty_report(tmp_path):
    report, s, g = check(tmp_path)
    assert (report["files"], report["usable"], s.thumbs.shape) == (0, 0, (0, 32, 32))
    assert report["exact_duplicates"] == {"groups": 0, "files": 0}
    assert g.near_groups == [] and g.conflicts == []


def test_missing_source_and_non_archive_raise(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        scan(tmp_path / "nowhere")
    text = tmp_path / "labels.csv"
    text.write_text("file,age\n")
    with pytest.raises(ValueError, match="not a folder, .tar"):
        scan(text)
