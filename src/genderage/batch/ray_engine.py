"""The Ray engine (``pip install "genderage[ray]"``): Ray Data reads the paths and maps
chunks through a pool of actors, each owning one :class:`ChunkAnalyzer` (model and detector
load once per actor). The rows stream back to the driver, which writes the part files, so
parts are complete and resumable exactly as with the local engine, and ``--out`` is a
path on the driver's machine (or a URI).
"""

from __future__ import annotations

import logging
import math
import os
from collections import Counter
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from .worker import BatchOptions, ChunkAnalyzer

MAX_BLOCKS = 2000
"""Upper bound on the input's Ray blocks (the driver's bookkeeping grows with them)."""

_NODE = "_node"


class RayChunkActor:
    """``map_batches`` callable: one analyzer per actor; tags rows with the actor's node."""

    def __init__(self, options: BatchOptions, analyzer: type = ChunkAnalyzer):
        import ray

        self.analyzer = analyzer(options, threads=1)
        self.node = ray.get_runtime_context().get_node_id()

    def __call__(self, batch: pa.Table) -> pa.Table:
        table = self.analyzer([os.fsdecode(p) for p in batch.column("path").to_pylist()])
        return table.append_column(_NODE, pa.array([self.node] * len(table), pa.string()))


def run_ray(paths: list[str], options: BatchOptions, batch_size: int, actors: int | None = None,
            address: str | None = None, nodes: Counter | None = None,
            analyzer: type = ChunkAnalyzer) -> Iterator[pa.Table]:
    """Yield the rows of ``paths`` as tables of whole images, in completion order.

    Args:
        paths: images to analyse.
        options: what to compute.
        batch_size: images per model call.
        actors: actors in the pool; ``None`` for one per CPU of the cluster.
        address: an existing cluster (``ray.init(address=...)``); ``None`` connects to the
            cluster this process already joined, or starts Ray on this machine.
        nodes: if given, counts images per Ray node id (which nodes did the work).
        analyzer: the unit of work (see :func:`genderage.batch.local.run_local`).
    """
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING)
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the command draws its own bar
        if actors is None:
            actors = max(1, int(ray.cluster_resources().get("CPU", 1)))
        blocks = min(MAX_BLOCKS, math.ceil(len(paths) / batch_size))
        # Paths travel as bytes: a file name that is not UTF-8 cannot be an Arrow string.
        dataset = ray.data.from_items([{"path": os.fsencode(p)} for p in paths],
                                      override_num_blocks=blocks)
        dataset = dataset.map_batches(RayChunkActor, fn_constructor_args=(options, analyzer),
                                      batch_size=batch_size, batch_format="pyarrow",
                                      compute=ray.data.ActorPoolStrategy(size=actors),
                                      num_cpus=1)
        for table in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
            if nodes is not None:
                for node in set(table[_NODE].to_pylist()):
                    part = table.filter(pc.equal(table[_NODE], node))
                    nodes[node] += pc.count_distinct(part["path"]).as_py()
            yield table.drop_columns([_NODE])
    finally:
        if started:
            ray.shutdown()
