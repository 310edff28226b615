"""``genderage data split`` on the real UTKFace (skipped without ../shared; about 30 s)."""

import hashlib
import json
from collections import defaultdict

import pytest

from genderage.cli import main
from genderage.data.split import read_manifest

pytestmark = pytest.mark.slow

MALFORMED = {"24_0_1_20170116220224657", "39_1_20170116174525125.jpg.chip.jpg",
             "55_0_0_20170116232725357jpg.chip.jpg", "61_1_20170109142408075.jpg.chip.jpg",
             "61_1_20170109150557335.jpg.chip.jpg"}


@pytest.fixture(scope="module")
def real_run(utkface_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("utkface_split")
    manifest, report = out / "split.csv", out / "check.json"
    assert main(["data", "split", str(utkface_dir), "--out", str(manifest),
                 "--report", str(report)]) == 0
    return utkface_dir, json.loads(report.read_text()), read_manifest(manifest)


def test_report_counts(real_run):
    _, report, _ = real_run
    assert report["files"] == 21307
    assert report["skipped"] == {"malformed_name": 5}
    assert {d["file"] for d in report["defects"]} == MALFORMED
    assert report["usable"] == 21302
    assert report["exact_duplicates"]["groups"] >= 300
    assert report["near_duplicates"]["groups"] >= 300
    assert report["label_conflicts"]["groups"] >= 300
    assert report["label_conflicts"]["gender_conflicts"] >= 1


def test_manifest_keeps_duplicates_on_one_side(real_run):
    root, report, rows = real_run
    splits_of_group = defaultdict(set)
    for r in rows:
        splits_of_group[r.group].add(r.split)
    assert all(len(s) == 1 for s in splits_of_group.values())
    assert len(splits_of_group) == len(rows)  # one file per group
    n_val = sum(r.split == "val" for r in rows)
    assert abs(n_val / len(rows) - 0.2) < 0.005
    conflicted = {m["file"] for group in report["label_conflicts"]["list"] for m in group}
    assert not conflicted & {r.file for r in rows}
    # Independent of the grouping code: no identical bytes on both sides.
    digests = {"train": set(), "val": set()}
    for r in rows:
        digests[r.split].add(hashlib.sha256((root / r.file).read_bytes()).hexdigest())
    assert not digests["train"] & digests["val"]
