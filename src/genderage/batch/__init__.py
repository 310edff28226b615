"""``genderage batch``: many photos -> a Parquet dataset, one row per face, resumable.

Two engines run the same unit of work (:class:`worker.ChunkAnalyzer`): ``local`` (worker
processes on this machine) and ``ray`` (Ray Data actors, on one machine or a cluster).
Needs the ``[batch]`` extra (pyarrow), and ``[ray]`` for the Ray engine::

    job = BatchJob(["photos/"], "results.parquet", BatchOptions())
    summary = job.run(engine="local")
"""

from .job import BatchJob, BatchSummary
from .worker import BatchOptions

__all__ = ["BatchJob", "BatchOptions", "BatchSummary"]
