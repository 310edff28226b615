"""Many videos on the batch engines: inputs, the output dataset, resuming, running.

The machinery is ``genderage batch``'s: the same input collection (files, folders, path
lists), the same folder of complete part files (:class:`~genderage.batch.store.PartStore`:
a part is renamed into place only when whole), the same engines
(:mod:`genderage.batch.engines`). The unit of work is one video; by default every finished video is
written as its own part, so a killed run redoes only the videos that were not finished.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..batch.engines import Engine, create_engine
from ..batch.inputs import gather_inputs
from ..batch.job import PartJob
from .table import VIDEO_EXTENSIONS, VideoChunkAnalyzer, VideoOptions


@dataclass
class VideoSummary:
    """The outcome over ALL inputs of the job, including videos done by earlier runs.

    Attributes:
        videos: input videos now in the output.
        new_videos: of those, analysed by this run.
        tracks: track rows.
        video_s: seconds of video decoded, over all videos in the output.
        failures: ``{path: error message}`` of videos that failed or were cut short.
        wall_s: this run's wall time, seconds.
        new_video_s: seconds of video decoded by this run.
        nodes: videos analysed by this run per machine (node id), for engines that
            run on a cluster (empty otherwise).
    """

    videos: int
    new_videos: int
    tracks: int
    video_s: float
    failures: dict[str, str]
    wall_s: float
    new_video_s: float = 0.0
    nodes: dict[str, int] = field(default_factory=dict)


@dataclass
class _Tally:
    paths: set[str] = field(default_factory=set)
    tracks: int = 0
    video_s: float = 0.0
    failures: dict[str, str] = field(default_factory=dict)

    def add(self, table: pa.Table) -> None:
        self.paths.update(table["path"].to_pylist())
        self.tracks += len(table) - table["track_id"].null_count
        firsts = table.group_by("path").aggregate([("video_duration_s", "max")])
        self.video_s += pc.sum(firsts["video_duration_s_max"]).as_py() or 0.0
        failed = table.filter(pc.is_valid(table["error"]))
        self.failures.update(zip(failed["path"].to_pylist(), failed["error"].to_pylist()))


class VideoJob(PartJob):
    """Videos into a Parquet dataset, one row per track: collects the videos, opens ``out``
    for resuming, and runs an engine.

    Args:
        inputs: video files, folders (searched for :data:`VIDEO_EXTENSIONS`) and path
            lists (``.txt``, or ``.csv`` / ``.parquet`` with a ``path`` column).
        out: the output dataset folder.
        options: what to compute.
        overwrite: discard existing parts instead of resuming.

    The output folder is locked from construction until :meth:`run` ends or :meth:`close`.

    Raises:
        InputError, OutputError: unreadable path list; unusable or locked ``out`` (a file,
            parts made with other options: another model, detector, ``--every``...).
    """

    analyzer = VideoChunkAnalyzer

    def __init__(self, inputs: list[str], out: str, options: VideoOptions,
                 overwrite: bool = False):
        super().__init__(gather_inputs(inputs, VIDEO_EXTENSIONS, "a video"), out, options,
                         overwrite)

    @staticmethod
    def _inputs(table: pa.Table) -> int:
        return pc.count_distinct(table["path"]).as_py()

    def run(self, engine: Engine | str = "local", part_size: int = 1,
            progress: Callable[[int], None] | None = None) -> VideoSummary:
        """Analyse the videos not done yet, one task per video, appending a part file
        every ``part_size`` videos (a killed run loses at most those not yet in a part).

        Args:
            engine: where the work runs (:func:`~genderage.batch.engines.create_engine`),
                or the name of an engine to create with its default settings.
            part_size: videos per part file.
            progress: called with the number of videos just finished.
        """
        try:
            return self._run(engine, part_size, progress)
        finally:
            self.close()

    def _run(self, engine, part_size, progress) -> VideoSummary:
        start = time.perf_counter()
        if isinstance(engine, str):
            engine = create_engine(engine)
        tally = _Tally(set(self.done.paths), self.done.tracks, self.done.video_s,
                       dict(self.done.failures))
        new = _Tally()
        for table in self._tables(engine, 1, part_size, progress):  # one video per task
            new.add(table)
        tally.paths |= new.paths
        tally.failures.update(new.failures)
        return VideoSummary(len(tally.paths), len(new.paths), tally.tracks + new.tracks,
                            tally.video_s + new.video_s, tally.failures,
                            time.perf_counter() - start, new.video_s, dict(engine.nodes))

    def _done(self, wanted: set[str]) -> _Tally:
        tally = _Tally()
        columns = ["path", "track_id", "video_duration_s", "error"]
        for part in self.store.parts():
            table = pq.read_table(part, filesystem=self.store.fs, columns=columns)
            tally.add(table.filter(pc.is_in(table["path"], pa.array(list(wanted), pa.string()))))
        return tally
