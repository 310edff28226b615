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
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import BrokenExecutor
from contextlib import contextmanager, nullcontext

import pyarrow as pa
import pyarrow.compute as pc

from .engines import EngineSettings
from .worker import BatchOptions, ChunkAnalyzer

LOCAL_IP = "127.0.0.1"
"""The address a Ray that ``batch`` starts itself listens on: this machine only (Ray's
default is every interface)."""

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


class RayEngine:
    """Ray Data actors, on this machine or a cluster (:class:`~genderage.batch.engines.Engine`).

    Args:
        settings: ``workers`` actors (``None``: one per CPU of the cluster); ``cluster``
            an existing cluster (``ray.init(address=...)``). Without it, the run joins the
            cluster this process already joined, or starts Ray on this machine, listening
            on 127.0.0.1 only, with its session files in a temporary folder that is removed
            when the run ends (Ray is shut down on every way out of :meth:`run`).

    Raises:
        ImportError: Ray is not installed.
    """

    def __init__(self, settings: EngineSettings):
        import ray.data  # now, not in run: it configures its loggers on import
        from ray.exceptions import RayError

        if not logging.getLogger("genderage").isEnabledFor(logging.DEBUG):
            logging.getLogger("ray.data").setLevel(logging.WARNING)  # -v keeps its log
        self.actors, self.address = settings.workers, settings.cluster
        self.failures = (BrokenExecutor, RayError)
        self.nodes: Counter = Counter()

    def run(self, paths: list[str], options, analyzer: type,
            batch_size: int) -> Iterator[pa.Table]:
        """Yield the rows of ``paths`` as tables of whole inputs, in completion order, and
        count the inputs per Ray node in :attr:`nodes` (see
        :meth:`~genderage.batch.engines.Engine.run`)."""
        import ray

        self.nodes = Counter()
        started = not ray.is_initialized()
        temp_dir, saved_env = None, {}
        if started:
            kwargs, node = {}, nullcontext()
            if self.address is None:  # Ray starts here: this machine only, files in our temp dir
                temp_dir = tempfile.mkdtemp(prefix="genderage-ray-")
                kwargs = {"_node_ip_address": LOCAL_IP, "_temp_dir": temp_dir}
                node = _loopback_node()
                # Ray writes its authentication token to ~/.ray/auth_token: while it starts,
                # its home is the temporary folder, so the token is this run's and is removed
                # with it.
                saved_env = _set_env({"HOME": temp_dir})
            try:
                with node:
                    ray.init(address=self.address, include_dashboard=False,
                             logging_level=logging.WARNING, **kwargs)
            except BaseException:
                _remove(temp_dir)
                raise
            finally:
                _restore_env(saved_env)
        try:
            yield from self._map(paths, options, analyzer, batch_size)
        finally:
            if started:
                ray.shutdown()
                _remove(temp_dir)

    def _map(self, paths, options, analyzer, batch_size) -> Iterator[pa.Table]:
        import ray

        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the command draws its own bar
        actors = self.actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
        blocks = min(MAX_BLOCKS, math.ceil(len(paths) / batch_size))
        # Paths travel as bytes: a file name that is not UTF-8 cannot be an Arrow string.
        dataset = ray.data.from_items([{"path": os.fsencode(p)} for p in paths],
                                      override_num_blocks=blocks)
        dataset = dataset.map_batches(RayChunkActor, fn_constructor_args=(options, analyzer),
                                      batch_size=batch_size, batch_format="pyarrow",
                                      # one chunk at a time per actor: a chunk (a video,
                                      # a batch of photos) takes seconds, and chunks queued
                                      # on the first ready actor would leave a late one idle
                                      compute=ray.data.ActorPoolStrategy(
                                          size=actors, max_tasks_in_flight_per_actor=1),
                                      num_cpus=1)
        for table in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
            for node in set(table[_NODE].to_pylist()):
                part = table.filter(pc.equal(table[_NODE], node))
                self.nodes[node] += pc.count_distinct(part["path"]).as_py()
            yield table.drop_columns([_NODE])


@contextmanager
def _loopback_node() -> Iterator[None]:
    """While Ray starts a node here, the node's address really is ``LOCAL_IP``.

    Ray (2.60) replaces a loopback ``_node_ip_address`` by the machine's routable address,
    and its servers (GCS, raylet, every worker, the runtime-env agent) then listen on every
    interface or on that address; only when it treats the machine as clusterless (what
    ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` sets, read once when Ray is imported, hence the
    module constant) does it keep the loopback address, and every server listens there.
    ``tests/test_batch_ray_local.py`` checks the sockets of a real run.
    """
    from ray._private import ray_constants

    saved = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved


def _set_env(values: dict[str, str]) -> dict[str, str | None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    return saved


def _restore_env(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _remove(temp_dir: str | None) -> None:
    if temp_dir is not None:
        shutil.rmtree(temp_dir, ignore_errors=True)
