"""Batch engines: where the chunks of a ``batch`` or ``video`` job run, chosen by name.

An engine takes the inputs still to do and a unit of work (an analyzer class), runs the
work on chunks of inputs somewhere (worker processes, a Ray cluster...) and yields one Arrow
table per chunk. The jobs (:class:`~genderage.batch.job.BatchJob`,
:class:`~genderage.video.job.VideoJob`) write those tables into part files and never ask
which engine made them.

Adding an engine (Dask, Spark...): a module in ``batch/`` with a class that implements
:class:`Engine` and is constructed from :class:`EngineSettings`, and one line in
:data:`ENGINES`. ``--engine`` of ``batch`` and ``video`` offers every name there.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pyarrow as pa

ENGINES: dict[str, tuple[str, str]] = {
    "local": (f"{__package__}.local:LocalEngine", "worker processes on this machine"),
    "ray": (f"{__package__}.ray_engine:RayEngine",
            "Ray Data actors on this machine or a cluster (genderage[ray])"),
}
"""Engine name -> (``"module:Class"``, what it is, for ``--help``); the first is the
default. The module is imported only when its engine is created, so listing the names loads
nothing."""


class EngineError(ValueError):
    """An engine name, or a setting the engine cannot honour."""


@dataclass(frozen=True)
class EngineSettings:
    """How much runs at the same time, and where.

    Attributes:
        workers: units of work at the same time (worker processes, actors...); ``None``
            for the engine's default (one per core, or per CPU of the cluster).
        cluster: address of a cluster to join; ``None`` for the engine's own. An engine
            that runs on this machine only refuses one (:class:`EngineError`).
    """

    workers: int | None = None
    cluster: str | None = None


class Engine(Protocol):
    """Runs a unit of work over many inputs. Constructed as ``Engine(settings)``, which
    raises :class:`EngineError` for settings it cannot honour and ``ImportError`` when its
    extra is not installed (before any work or output starts)."""

    nodes: Counter
    """Inputs done per machine (node id -> count) by the last :meth:`run`; empty for an
    engine that runs on this machine only."""

    failures: tuple[type[BaseException], ...]
    """Exceptions that mean the machinery broke (a worker process or an actor died), not an
    input: the parts written so far are kept and the same command resumes."""

    def run(self, paths: list[str], options: Any, analyzer: type,
            batch_size: int) -> Iterator[pa.Table]:
        """Yield the rows of ``paths``: one table per chunk of at most ``batch_size`` paths,
        in completion order, each holding every row of its paths.

        Args:
            paths: inputs to analyse (local paths or fsspec URIs).
            options: the job's options (:class:`~genderage.batch.worker.BatchOptions`,
                :class:`~genderage.video.table.VideoOptions`), picklable.
            analyzer: the unit of work: ``analyzer(options, threads=1)`` is built once per
                worker (the model and detector load once) and called on a list of paths.
            batch_size: paths per call of the analyzer.
        """
        ...


def engine_names() -> list[str]:
    """The registered engine names, the default first."""
    return list(ENGINES)


def engine_summary(name: str) -> str:
    """What the engine ``name`` is, in a few words."""
    return ENGINES[name][1]


def create_engine(name: str, settings: EngineSettings | None = None) -> Engine:
    """The engine registered as ``name``, set up with ``settings``.

    Raises:
        EngineError: an unknown name, or settings the engine refuses.
        ImportError: the engine's optional dependency is missing.
    """
    try:
        module, _, cls = ENGINES[name][0].partition(":")
    except KeyError:
        raise EngineError(f"unknown engine {name!r}: use one of "
                          f"{', '.join(engine_names())}") from None
    engine = getattr(importlib.import_module(module), cls)
    return engine(settings or EngineSettings())
