"""A batch job: inputs, the output dataset, what is left to do, and running an engine.

:class:`PartJob` is what photo and video jobs share; :class:`BatchJob` is the photos'."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa

from ..inputs import Inputs
from .engines import Engine, create_engine
from .inputs import gather_inputs
from .schema import face_count, failure_kinds, image_count
from .store import DoneImages, PartBuffer, PartStore
from .worker import BatchOptions, ChunkAnalyzer

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
        nodes: images analysed by this run per machine (node id), for engines that
            run on a cluster (empty otherwise).
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


class PartJob:
    """A job over many inputs into a folder of part files, whatever the inputs are: what is
    done already, what is left, and running an engine over it. :class:`BatchJob` (photos)
    and :class:`~genderage.video.job.VideoJob` (videos) differ only in their unit of work
    (:attr:`analyzer`, :attr:`batch_size`), what they count, and their summary.

    The output folder is locked from construction until the run ends or :meth:`close`.

    Raises:
        OutputError: unusable or locked ``out`` (a file, parts made with other options).
    """

    analyzer: type
    """The unit of work the engine runs: ``analyzer(options, threads=1)(paths) -> Table``."""

    def __init__(self, found: Inputs, out: str, options, overwrite: bool):
        self.options = options
        self.found = found
        self.paths = found.files
        self.store = PartStore(out, options.fingerprint(), overwrite)
        try:
            self.done = self._done(set(self.paths))
        except BaseException:
            self.store.close()
            raise
        self.todo = [p for p in self.paths if p not in self.done.paths]

    def _done(self, wanted: set[str]):
        """What the parts already hold of ``wanted``; its ``paths`` are the inputs done."""
        raise NotImplementedError

    @staticmethod
    def _inputs(table: pa.Table) -> int:
        """How many inputs ``table`` (whole inputs, from the analyzer) holds."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the output folder (also done when a run ends, however it ends)."""
        self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _tables(self, engine: Engine, batch_size: int, part_size: int,
                progress: Callable[[int], None] | None) -> Iterator[pa.Table]:
        """Run ``engine`` over the inputs left, writing a part every ``part_size`` inputs;
        yields each table as it comes (for the caller's tally), and the last part is
        written when the iteration ends."""
        parts = PartBuffer(self.store, part_size)
        if self.todo:
            for table in engine.run(self.todo, self.options, self.analyzer, batch_size):
                yield table
                n = self._inputs(table)
                parts.add(table, n)
                if progress is not None:
                    progress(n)
        parts.flush()


class BatchJob(PartJob):
    """Photos into a Parquet dataset, one row per face: collects the inputs, opens ``out``
    for resuming, and runs an engine.

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

    analyzer = ChunkAnalyzer

    def __init__(self, inputs: list[str], out: str, options: BatchOptions,
                 overwrite: bool = False):
        super().__init__(gather_inputs(inputs), out, options, overwrite)

    def _done(self, wanted: set[str]) -> DoneImages:
        return self.store.done(wanted)

    _inputs = staticmethod(image_count)

    def run(self, engine: Engine | str = "local", batch_size: int = 16, part_size: int = 1000,
            progress: Callable[[int], None] | None = None) -> BatchSummary:
        """Analyse the images not done yet, appending a part file every ``part_size`` images.

        Args:
            engine: where the work runs (:func:`~genderage.batch.engines.create_engine`),
                or the name of an engine to create with its default settings.
            batch_size: images per model call.
            part_size: images per part file; a killed run loses the images not yet in
                a part (fewer than ``part_size`` plus the chunks in flight).
            progress: called with the number of images just finished.
        """
        try:
            return self._run(engine, batch_size, part_size, progress)
        finally:
            self.close()

    def _run(self, engine, batch_size, part_size, progress) -> BatchSummary:
        start = time.perf_counter()
        if isinstance(engine, str):
            engine = create_engine(engine)
        faces, failures = self.done.faces, Counter(self.done.failures)
        for table in self._tables(engine, batch_size, part_size, progress):
            faces += face_count(table)
            failures.update(failure_kinds(table))
        return BatchSummary(len(self.paths), len(self.todo), faces, dict(failures),
                            time.perf_counter() - start, dict(engine.nodes))
