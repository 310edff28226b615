"""``genderage label`` without a browser: the session's order, stratification, resuming and
refusals through the app's HTTP routes, the real CLI's errors, and a labelled file read back
by the report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
cv2 = pytest.importorskip("cv2")

from fastapi.testclient import TestClient  # noqa: E402

from genderage.cli import main  # noqa: E402
from genderage.label.app import LabelSession, create_label_app  # noqa: E402
from genderage.label.crop import crop_box  # noqa: E402
from genderage.label.store import COLUMNS  # noqa: E402
from genderage.report.rates import shipped_bundles  # noqa: E402

SHA = json.loads(shipped_bundles()[0].read_text())["model"]["sha256"]


@pytest.fixture
def results(tmp_path):
    """60 photos, one face each (two in every tenth), sites a (45 photos) and b (15)."""
    rows = []
    img = np.full((120, 160, 3), 128, np.uint8)
    for i in range(60):
        path = tmp_path / f"p{i:02d}.jpg"
        cv2.imwrite(str(path), img)
        for j in range(2 if i % 10 == 0 else 1):
            rows.append({"path": str(path), "face_index": j, "bbox": [40.0, 30.0, 90.0, 90.0],
                         "gender": "female" if (i + j) % 2 else "male", "age": 20.0 + i,
                         "low_quality": False, "error": None, "site": "a" if i < 45 else "b",
                         "model_sha256": SHA})
    out = tmp_path / "results.parquet"
    pq.write_table(pa.Table.from_pylist(rows), out)
    return out


def client_for(session: LabelSession) -> TestClient:
    return TestClient(create_label_app(session), base_url="http://127.0.0.1")


def label_all(client, answers):
    for rank, (gender, age) in enumerate(answers):
        r = client.post("/api/label", json={"rank": rank, "gender": gender, "age": age})
        assert r.status_code == 200, r.text


def test_answers_append_rows_and_resume_with_a_larger_n(tmp_path, results):
    labels = tmp_path / "labels.csv"
    session = LabelSession(results, labels, n=4, seed=1)
    client = client_for(session)
    label_all(client, [("female", 30), ("male", None), ("cant_tell", 12), ("not_a_face", 40)])
    state = client.get("/api/state").json()
    assert state == {"done": 4, "n": 4, "faces": 66, "finished": True, "prefetch": 3,
                     "stratified_by": None, "unit": "face", "unreadable": 0}
    assert client.post("/api/label", json={"rank": 4, "gender": "male"}).status_code == 409
    rows = list(csv.DictReader(open(labels)))
    assert tuple(rows[0]) == COLUMNS  # photo labels have no sample_unit column (tracks do)
    assert [r["age"] for r in rows] == ["30", "", "12", ""]  # not a face: no age
    assert [int(r["rank"]) for r in rows] == [0, 1, 2, 3]
    # Faces far ahead of the labeller are not served.
    assert client.get("/api/face/3").status_code == 200
    # Same seed, larger n: resumes at face 4; the file then mixes runs' n.
    session = LabelSession(results, labels, n=40, seed=1)
    assert session.done == 4
    client = client_for(session)
    assert client.get("/api/face/8").status_code == 404
    for rank in range(4, 40):
        r = client.post("/api/label", json={"rank": rank, "gender": "female" if rank % 3
                                            else "male", "age": 20 + rank})
        assert r.status_code == 200
    out = tmp_path / "rep"
    assert main(["report", str(results), "--labels", str(labels), "--out", str(out),
                 "--bootstrap", "100"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["labels"]["sampling"]["n"] == 40
    assert report["labels"]["warnings"] == []
    assert report["labels"]["counts"]["rows"] == 40


def test_bad_answers_are_refused(tmp_path, results):
    client = client_for(LabelSession(results, tmp_path / "l.csv", n=5))
    assert client.post("/api/label", json={"rank": 0, "gender": "woman"}).status_code == 422
    assert client.post("/api/label", json={"rank": 0, "gender": "male",
                                           "age": 130}).status_code == 422
    assert client.post("/api/label", json={"rank": 1, "gender": "male"}).status_code == 409
    assert client.post("/api/undo").json()["done"] == 0  # nothing to undo
    assert client.get("/api/face/99").status_code == 404


def test_a_photo_gone_since_the_batch_is_a_clear_410(tmp_path, results):
    session = LabelSession(results, tmp_path / "l.csv", n=5)
    Path(session.paths[session.order[0]]).unlink()
    r = client_for(session).get("/api/face/0")
    assert r.status_code == 410
    assert "cannot be read any more" in r.json()["detail"] and "No such file" in r.json()["detail"]


def test_only_this_machine_s_page_may_answer(tmp_path, results):
    session = LabelSession(results, tmp_path / "l.csv", n=5)
    client = client_for(session)
    answer = {"rank": 0, "gender": "male"}
    # Another site's script (its Origin), or a rebound DNS name (its Host): refused.
    assert client.post("/api/label", json=answer,
                       headers={"Origin": "http://evil.example"}).status_code == 403
    other = TestClient(create_label_app(session), base_url="http://evil.example")
    assert other.get("/api/state").status_code == 400
    assert session.done == 0
    assert client.post("/api/label", json=answer,
                       headers={"Origin": "http://127.0.0.1"}).status_code == 200


def test_stratified_sample_records_each_face_s_stratum(tmp_path, results):
    labels = tmp_path / "labels.csv"
    session = LabelSession(results, labels, n=20, seed=0, by="site")
    client = client_for(session)
    label_all(client, [("female", 30)] * 20)
    rows = list(csv.DictReader(open(labels)))
    assert {r["sample_by"] for r in rows} == {"site"}
    sites = [r["stratum"] for r in rows]
    # sqrt allocation: b has 16 of 66 faces (24%) but sqrt(16)/(sqrt(16)+sqrt(50)) = 36%.
    assert sites.count("b") == 7
    for r in rows:
        assert (r["stratum"] == "b") == (int(r["path"][-6:-4]) >= 45)


def test_cli_refuses_another_seed_and_names_the_file(tmp_path, results, capsys):
    labels = tmp_path / "labels.csv"
    LabelSession(results, labels, n=3, seed=0).label(0, "male", 20.0)
    code = main(["label", str(results), "--out", str(labels), "--seed", "2", "--no-browser"])
    err = capsys.readouterr().err
    assert code == 2
    assert "labels.csv: drawn with seed 0" in err and "Traceback" not in err
    code = main(["label", str(tmp_path / "nothing.parquet"), "--out", str(labels)])
    assert code == 2 and "no such file" in capsys.readouterr().err


def test_cli_says_when_the_sample_is_complete(tmp_path, results, capsys):
    labels = tmp_path / "labels.csv"
    session = LabelSession(results, labels, n=2)
    session.label(0, "male", 20.0)
    session.label(1, "female", None)
    assert main(["label", str(results), "--out", str(labels), "--n", "2", "--no-browser"]) == 0
    out = capsys.readouterr().out
    assert "2 of 2 faces labelled (66 in the results)" in out
    assert "--n larger than 2" in out


def test_undo_rewrites_the_file_without_its_last_row(tmp_path, results):
    labels = tmp_path / "labels.csv"
    session = LabelSession(results, labels, n=5)
    session.label(0, "male", 20.0)
    session.label(1, "female", 33.0)
    session.undo()
    rows = list(csv.DictReader(open(labels)))
    assert len(rows) == 1 and rows[0]["age"] == "20"
    assert LabelSession(results, labels, n=5).done == 1


@pytest.mark.parametrize("bbox, size, want", [
    ((40, 30, 90, 90), (160, 120), (5, 0, 125, 120)),  # side 120 = 2 x 60 around (65, 60)
    ((0, 0, 20, 20), (160, 120), (0, 0, 30, 30)),          # at the corner: clipped
    ((10.5, 10.5, 11.0, 11.0), (160, 120), (10, 10, 12, 12)),
])
def test_crop_box(bbox, size, want):
    assert crop_box(bbox, *size) == want
