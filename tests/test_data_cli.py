"""``genderage data check`` and ``genderage data split`` through the real entry point."""

import json
import re

from genderage.cli import main
from genderage.data.split import read_manifest


def test_data_check_prints_counts_and_duplicates(synthetic_utkface, capsys):
    assert main(["data", "check", str(synthetic_utkface.root)]) == 0
    out = capsys.readouterr().out
    assert "files: 125   usable: 118   skipped: 4 malformed_name, 3 unreadable" in out
    assert "gender: female 55, male 63" in out
    assert "exact duplicates: 3 groups, 6 files" in out
    assert "near duplicates: 3 groups, 18 files" in out
    assert "label conflicts: 2 groups (12 files), 1 with conflicting gender" in out
    assert "skipped unreadable: 35_0_3_20170101000000003.jpg.chip.jpg: empty file" in out


def test_data_check_json_to_stdout(synthetic_utkface, capsys):
    assert main(["data", "check", str(synthetic_utkface.root), "--report", "-"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["files"], report["usable"]) == (125, 118)
    assert report["skipped"] == {"malformed_name": 4, "unreadable": 3}
    assert report["gender"] == {"female": 55, "male": 63}
    assert report["age_band"] == {"0-17": 20, "18-29": 20, "30-49": 32, "50-69": 26, "70+": 20}
    conflicts = report["label_conflicts"]
    assert (conflicts["groups"], conflicts["gender_conflicts"]) == (2, 1)
    assert sorted(m["file"] for m in conflicts["list"][0] + conflicts["list"][1]) == sorted(
        synthetic_utkface.groups["age_conflict"] + synthetic_utkface.groups["gender_conflict"])


def test_data_split_writes_the_manifest(synthetic_utkface, tmp_path, capsys):
    out_csv, report_json = tmp_path / "split.csv", tmp_path / "check.json"
    assert main(["data", "split", str(synthetic_utkface.root), "--out", str(out_csv),
                 "--report", str(report_json), "--seed", "3"]) == 0
    captured = capsys.readouterr()
    m = re.search(r"wrote .*split\.csv: (\d+) files, (\d+) train, (\d+) val, (\d+) groups, "
                  r"sha256 ([0-9a-f]{16})", captured.out)
    assert m and m.groups()[:4] == ("101", "81", "20", "101")
    assert "near duplicates: 3 groups, 18 files" in captured.err
    rows = read_manifest(out_csv)
    assert len(rows) == 101 and sum(r.split == "val" for r in rows) == 20
    assert json.loads(report_json.read_text())["usable"] == 118


def test_data_split_keep_all_policies(synthetic_utkface, tmp_path, capsys):
    out_csv = tmp_path / "all.csv"
    assert main(["data", "split", str(synthetic_utkface.root), "--out", str(out_csv),
                 "--conflicts", "keep", "--duplicates", "all", "--val-fraction", "0.3"]) == 0
    assert "118 files" in capsys.readouterr().out
    rows = read_manifest(out_csv)
    assert len(rows) == 118 and len({r.group for r in rows}) == 103


def test_missing_folder_is_a_one_line_error(tmp_path, capsys):
    missing = tmp_path / "nope"
    assert main(["data", "check", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err == f"genderage data: error: {missing}: no such file or folder\n"


def test_bad_val_fraction_is_a_one_line_error(synthetic_utkface, tmp_path, capsys):
    assert main(["data", "split", str(synthetic_utkface.root), "--out", str(tmp_path / "x.csv"),
                 "--val-fraction", "1.5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--val-fraction must be between 0 and 1" in err
    assert not (tmp_path / "x.csv").exists()
