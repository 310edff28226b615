"""The Ray engine on a 2-node Ray cluster on this machine: both nodes work, and the Ray
engine, the local engine and ``predict --json`` give the same answers."""

from __future__ import annotations

import json

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("pyarrow")
from batch_photos import (  # noqa: E402
    assert_matches_predict_json,
    assert_same_rows,
    build_photos,
    read_output,
)
from ray.cluster_utils import Cluster  # noqa: E402

from genderage.batch import BatchJob, BatchOptions  # noqa: E402
from genderage.batch.engines import EngineSettings, create_engine  # noqa: E402
from genderage.cli import main  # noqa: E402

NODE = {"num_cpus": 1, "object_store_memory": 80 * 2**20}
"""Each node: one CPU (so each of the two actors lands on its own node), a small object store."""


@pytest.fixture(scope="module")
def cluster():
    cluster = Cluster(initialize_head=True,
                      head_node_args={**NODE, "include_dashboard": False})
    cluster.add_node(**NODE)
    cluster.wait_for_nodes()
    yield cluster
    cluster.shutdown()


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_ray_local_and_predict_json_agree_and_both_nodes_work(cluster, model_path, tmp_path,
                                                              capsys):
    folder = tmp_path / "photos"
    photos = build_photos(folder)
    options = BatchOptions(model=str(model_path))

    ray_job = BatchJob([str(folder)], str(tmp_path / "ray"), options)
    engine = create_engine("ray", EngineSettings(workers=2, cluster=cluster.address))
    summary = ray_job.run(engine, batch_size=2)
    assert summary.images == summary.new_images == len(photos) == 32
    assert summary.failed == 4 and summary.faces == 26
    node_ids = {node.node_id for node in cluster.list_all_nodes()}
    assert set(summary.nodes) == node_ids and len(node_ids) == 2  # both nodes did work
    assert sum(summary.nodes.values()) == len(photos) and min(summary.nodes.values()) > 0

    local = BatchJob([str(folder)], str(tmp_path / "local"), options).run(
        create_engine("local", EngineSettings(workers=2)))
    assert (local.images, local.faces, local.failures) == (summary.images, summary.faces,
                                                           summary.failures)
    ray_table = read_output(tmp_path / "ray")
    assert_same_rows(ray_table, read_output(tmp_path / "local"))

    assert main(["predict", "--json", "--model", str(model_path), str(folder)]) == 1
    predictions = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert_matches_predict_json(ray_table, predictions)


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_cli_cluster_resumes_a_local_run(cluster, model_path, tmp_path, capsys):
    folder = tmp_path / "photos"
    photos = build_photos(folder)
    out = str(tmp_path / "out")
    common = ["--out", out, "--model", str(model_path), "--no-progress"]
    assert main(["batch", *photos[:8], *common, "--engine", "local", "--workers", "1"]) == 1
    capsys.readouterr()
    assert main(["batch", str(folder), *common, "--engine", "ray", "--cluster",
                 cluster.address, "--workers", "2", "--batch-size", "4"]) == 1
    err = capsys.readouterr().err
    assert "32 images (24 analysed now, 8 already in" in err
    assert "images per node: " in err
    table = read_output(out)
    keys = list(zip(table["path"].to_pylist(), table["face_index"].to_pylist()))
    assert len(keys) == len(set(keys)) and sorted(set(table["path"].to_pylist())) == photos


@pytest.mark.slow  # local loop: over 2 s (CI runs it)
def test_non_utf8_file_names_on_the_ray_engine(cluster, model_path, tmp_path):
    from test_batch import check_non_utf8_rows, non_utf8_folder

    folder = tmp_path / "photos"
    build_photos(folder)
    odd, name, broken = non_utf8_folder(tmp_path, folder)
    out = tmp_path / "out"
    engine = create_engine("ray", EngineSettings(workers=1, cluster=cluster.address))
    summary = BatchJob([str(odd)], str(out), BatchOptions(model=str(model_path))).run(
        engine, batch_size=2)
    assert summary.images == 3 and summary.failed == 1
    check_non_utf8_rows(read_output(out), odd, name, broken)
