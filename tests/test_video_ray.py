"""Many videos on the Ray engine, on a 2-node Ray cluster on this machine: both nodes take
videos, and the table equals the local engine's."""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from genderage.batch.engines import EngineSettings, create_engine  # noqa: E402
from genderage.video.job import VideoJob  # noqa: E402
from genderage.video.table import VideoOptions  # noqa: E402
from video_synth import astronaut_videos  # noqa: E402

NODE = {"num_cpus": 1, "object_store_memory": 80 * 2**20}


@pytest.mark.slow
def test_two_ray_nodes_share_the_videos_and_match_the_local_engine(model_path, tmp_path):
    seconds = astronaut_videos(tmp_path / "videos", 4)
    options = VideoOptions(model=str(model_path))
    cluster = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    try:
        cluster.add_node(**NODE)
        cluster.wait_for_nodes()
        engine = create_engine("ray", EngineSettings(workers=2, cluster=cluster.address))
        summary = VideoJob([str(tmp_path / "videos")], str(tmp_path / "ray"), options).run(engine)
        node_ids = {node.node_id for node in cluster.list_all_nodes()}
    finally:
        cluster.shutdown()
    assert summary.videos == summary.new_videos == 4 and not summary.failures
    assert set(summary.nodes) == node_ids and len(node_ids) == 2
    assert sum(summary.nodes.values()) == 4 and min(summary.nodes.values()) > 0
    local = VideoJob([str(tmp_path / "videos")], str(tmp_path / "local"), options).run(
        create_engine("local", EngineSettings(workers=2)))
    assert (local.videos, local.tracks) == (summary.videos, summary.tracks)
    order = [("path", "ascending"), ("track_id", "ascending")]
    ray_rows = pq.read_table(tmp_path / "ray").sort_by(order).to_pylist()
    local_rows = pq.read_table(tmp_path / "local").sort_by(order).to_pylist()
    assert ray_rows == local_rows
    assert sorted({r["path"] for r in ray_rows}) == sorted(seconds)
