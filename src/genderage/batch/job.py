"""A batch job: inputs, the output dataset, what is left to do, and running an engine."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa

from .inputs import gather_inputs
from .schema import face_count, failure_kinds, image_count
from .store import PartStore
from .worker import BatchOptions, default_workers

log = logging.getLogger(__name__)

@dataclass
class BatchSummary:
    """The outcome over ALL inputs of the job, including images done by earlier runs.

    Attributes:
        images: input images now in the output.
        new_images: of those, analysed by this run.
        faces: face rows.
        failures: failed images by error kind.
        wall_s: this run's wall time, seconds.
        nodes: Ray engine only: images analysed per Ray node id.
    """

    images: int
    new_images: int
    faces: int
    failures: dict[str, int]
    wall_s: float
    nodes: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())


class BatchJob:
    """Everything up to running an engine: collects inputs and opens ``out`` for resuming.

    Args:
        inputs: files, folders and path lists (see :func:`gather_inputs`); the folder
            entries left out are in ``found.skipped``.
        out: the output dataset folder.
        options: what to compute.
        overwrite: discard existing parts instead of resuming.

    The output folder is locked from construction until :meth:`run` ends or :meth:`close`.

    Raises:
        InputError, OutputError: unreadable path list; unusable or locked ``out``.
    """

    def __init__(self, inputs: list[str], out: str, options: BatchOptions,
                 overwrite: bool = False):
        self.options = options
        self.found = gather_inputs(inputs)
        self.paths = self.found.files
        self.store = PartStore(out, options.fingerprint(), overwrite)
        try:
            self.done = self.store.done(set(self.paths))
        except BaseException:
            self.store.close()
            raise
        self.todo = [p for p in self.paths if p not in self.done.paths]

    def close(self) -> None:
        """Release the output folder (also done when :meth:`run` ends, however it ends)."""
        self.store.close()

    def __enter__(self) -> BatchJob:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run(self, engine: str = "local", workers: int | None = None, batch_size: int = 16,
            part_size: int = 1000, ray_address: str | None = None,
            progress: Callable[[int], None] | None = None) -> BatchSummary:
        """Analyse the images not done yet, appending a part file every ``part_size`` images.

        Args:
            engine: ``"local"`` (worker processes) or ``"ray"`` (Ray Data actors).
            workers: worker processes, or Ray actors; ``None`` for one per core (per
                cluster CPU with Ray).
            batch_size: images per model call.
            part_size: images per part file; a killed run loses the images not yet in
                a part (fewer than ``part_size`` plus the chunks in flight).
            ray_address: Ray cluster to join (Ray engine).
            progress: called with the number of images just finished.
        """
        try:
            return self._run(engine, workers, batch_size, part_size, ray_address, progress)
        finally:
            self.close()

    def _run(self, engine, workers, batch_size, part_size, ray_address, progress) -> BatchSummary:
        start = time.perf_counter()
        nodes: Counter = Counter()
        faces, failures = self.done.faces, Counter(self.done.failures)
        buffered: list[pa.Table] = []
        pending = 0
        for table in self._tables(engine, workers, batch_size, ray_address, nodes):
            n = image_count(table)
            faces += face_count(table)
            failures.update(failure_kinds(table))
            buffered.append(table)
            pending += n
            if pending >= part_size:
                self.store.write(pa.concat_tables(buffered))
                buffered, pending = [], 0
            if progress is not None:
                progress(n)
        if buffered:
            self.store.write(pa.concat_tables(buffered))
        return BatchSummary(len(self.paths), len(self.todo), faces, dict(failures),
                            time.perf_counter() - start, dict(nodes))

    def _tables(self, engine: str, workers: int | None, batch_size: int,
                ray_address: str | None, nodes: Counter) -> Iterator[pa.Table]:
        if not self.todo:
            return iter(())
        if engine == "local":
            from .local import run_local

            return run_local(self.todo, self.options, workers or default_workers(), batch_size)
        if engine == "ray":
            from .ray_engine import run_ray

            return run_ray(self.todo, self.options, batch_size, workers, ray_address, nodes)
        raise ValueError(f"unknown engine {engine!r}: use 'local' or 'ray'")
