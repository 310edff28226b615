"""The local engine: worker processes decode, detect and run the model on chunks of images.

Each worker process owns one :class:`ChunkAnalyzer` (model and detector load once per
process) and analyses a chunk of ``batch_size`` images per task, its faces in one model
call. A bounded number of chunks is in flight, so memory does not grow with the input.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, ProcessPoolExecutor, wait
from itertools import islice

import pyarrow as pa

from .engines import EngineError, EngineSettings
from .parent_death import die_with_parent
from .worker import ChunkAnalyzer, default_workers

_analyzer: ChunkAnalyzer | None = None
"""This worker process's analyzer (set by :func:`_start_worker`; each process has its own)."""


def _start_worker(options, analyzer: type, parent_pid: int) -> None:
    global _analyzer
    die_with_parent(parent_pid)  # a driver killed with SIGKILL takes its workers along
    # Ctrl-C reaches the whole process group: the parent stops the pool, workers stay quiet.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # One onnxruntime thread per process: the parallelism comes from the processes.
    _analyzer = analyzer(options, threads=1)


def _analyze(paths: list[str]) -> pa.Table:
    assert _analyzer is not None, "worker not started"
    return _analyzer(paths)


class LocalEngine:
    """Worker processes on this machine (:class:`~genderage.batch.engines.Engine`).

    Args:
        settings: ``workers`` processes (``None``: one per core this process may use);
            no ``cluster``.

    Raises:
        EngineError: a cluster address was given.
    """

    failures = (BrokenExecutor,)  # a worker process died

    def __init__(self, settings: EngineSettings):
        if settings.cluster is not None:
            raise EngineError("the local engine runs on this machine only; a cluster address "
                              "(--cluster) needs an engine that joins one (--engine ray)")
        self.workers = settings.workers or default_workers()
        self.nodes: Counter = Counter()

    def run(self, paths: list[str], options, analyzer: type,
            batch_size: int) -> Iterator[pa.Table]:
        """Yield one table per chunk of ``batch_size`` paths, in completion order (see
        :meth:`~genderage.batch.engines.Engine.run`)."""
        chunks = (paths[i:i + batch_size] for i in range(0, len(paths), batch_size))
        # spawn, not fork: the parent may hold onnxruntime thread pools, which fork does not copy.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(self.workers, mp_context=context, initializer=_start_worker,
                                 initargs=(options, analyzer, os.getpid())) as pool:
            pending = {pool.submit(_analyze, chunk)
                       for chunk in islice(chunks, 2 * self.workers)}
            try:
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        yield future.result()
                        pending |= {pool.submit(_analyze, chunk) for chunk in islice(chunks, 1)}
            finally:
                for future in pending:
                    future.cancel()
