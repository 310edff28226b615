"""The helpers of the AAF checks of ``genderage report`` (``tools/report_aaf.py``): the fixed
hash halves, subsets of results, and the error model of labelled photos from results."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from genderage.data.aaf import AAFRecord
from genderage.evaluation.error_model import dev_set_errors
from genderage.evaluation.population import half_of, largest_face_errors, subset_results

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def test_half_of_is_the_low_bit_of_the_name_hash():
    for name in ("00004A02.jpg", "x.png"):
        want = hashlib.sha256(name.encode()).digest()[0] % 2
        assert half_of(name) == half_of(f"images/{name}") == want
    halves = [half_of(f"{i:05d}A02.jpg") for i in range(1000)]
    assert 450 < sum(halves) < 550


def results(path):
    """Three photos: p1 has two faces (the first is the largest), p2 one, p3 none."""
    probs = np.zeros((3, 121))
    probs[0, 30], probs[1, 50], probs[2, 20] = 1, 1, 1
    rows = [("dir/p1.jpg", 0, "female", 30.0, probs[0]), ("dir/p1.jpg", 1, "male", 50.0, probs[1]),
            ("dir/p2.jpg", 0, "male", 20.0, probs[2]), ("dir/p3.jpg", None, None, None, None)]
    table = pa.Table.from_pylist([
        {"path": p, "face_index": i, "gender": g, "age": a, "error": None,
         "age_probs": None if pr is None else pr.tolist()} for p, i, g, a, pr in rows])
    pq.write_table(table, path)
    return path


def test_largest_face_errors_match_dev_set_errors(tmp_path):
    labels = [AAFRecord("images/p1.jpg", 28, 0), AAFRecord("images/p2.jpg", 25, 0),
              AAFRecord("images/p3.jpg", 40, 1)]  # gender: model index, 0 is female
    out = largest_face_errors(results(tmp_path / "r.parquet"), labels)
    probs = np.zeros((2, 121))
    probs[0, 30], probs[1, 20] = 1, 1
    want = dev_set_errors(np.array([28.0, 25.0]), np.array([True, True]),
                          np.array([True, False]), np.array([30.0, 20.0]), probs, images=3)
    assert out == want
    assert out.age_bias.mean == pytest.approx(-1.5)  # errors +2 and -5


def test_subset_results_keeps_the_named_images(tmp_path):
    part = subset_results(results(tmp_path / "r.parquet"), {"p1.jpg", "p3.jpg"},
                          tmp_path / "sub" / "part.parquet")
    table = pq.read_table(part)
    assert table.column("path").to_pylist() == ["dir/p1.jpg", "dir/p1.jpg", "dir/p3.jpg"]
    assert table.schema == pq.read_table(tmp_path / "r.parquet").schema
