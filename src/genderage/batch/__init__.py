"""``genderage batch``: many photos -> a Parquet dataset, one row per face, resumable.

The engines of :mod:`.engines` run the same unit of work (:class:`worker.ChunkAnalyzer`):
``local`` (worker processes on this machine) and ``ray`` (Ray Data actors, on one machine or
a cluster).
Needs the ``[batch]`` extra (pyarrow), and ``[ray]`` for the Ray engine::

    job = BatchJob(["photos/"], "results.parquet", BatchOptions())
    summary = job.run("local")
"""

__all__ = ["BatchJob", "BatchOptions", "BatchSummary"]


def __getattr__(name: str):
    # Lazily: ``genderage.batch.engines`` (the engine names the CLI lists) needs no pyarrow.
    if name in ("BatchJob", "BatchSummary"):
        from . import job

        return getattr(job, name)
    if name == "BatchOptions":
        from .worker import BatchOptions

        return BatchOptions
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
