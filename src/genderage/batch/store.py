"""The output dataset: a folder of complete Parquet part files, and resuming from it.

A part is written under a hidden temporary name and renamed into place only once complete,
so a killed run leaves whole ``part-*.parquet`` files and at most a hidden ``.part-*.tmp``
(ignored by readers, removed by the next run). Every image's rows are inside one part, so
the images in the parts are exactly the images done.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from .schema import OPTIONS_KEY, as_text, face_count, failure_kinds, stored_paths

log = logging.getLogger(__name__)

PART_PREFIX = "part-"
TMP_PREFIX = ".part-"


class OutputError(ValueError):
    """``--out`` cannot be used: not a folder, or written with other options."""


@dataclass
class DoneImages:
    """What complete parts already hold, restricted to the paths asked about.

    Attributes:
        paths: paths of the images done.
        faces: face rows among them.
        failures: failed images by error kind.
    """

    paths: set[str] = field(default_factory=set)
    faces: int = 0
    failures: dict[str, int] = field(default_factory=dict)


class PartStore:
    """A ``--out`` folder (local path or a URI pyarrow resolves) of Parquet part files.

    A local folder is locked for this store's life (:class:`~genderage.batch.lock.OutputLock`)
    until :meth:`close`: a second run on it is refused while this one lives.

    Args:
        out: the dataset folder; created if missing.
        options_json: :meth:`BatchOptions.fingerprint`; existing parts must carry the same.
        overwrite: delete existing part files first (nothing else in the folder).

    Raises:
        OutputError: ``out`` is a file, holds parts written with other options, or is
            locked by another live run.
    """

    def __init__(self, out: str, options_json: str, overwrite: bool = False):
        self.fs, self.root = pafs.FileSystem.from_uri(out) if "://" in out \
            else (pafs.LocalFileSystem(), _absolute(out))
        self.out, self.options_json = out, options_json
        info = self.fs.get_file_info(self.root)
        if info.type == pafs.FileType.File:
            raise OutputError(f"{out}: exists and is a file; --out names a folder of parts")
        self.fs.create_dir(self.root, recursive=True)
        self.lock = None
        if isinstance(self.fs, pafs.LocalFileSystem):
            from .lock import OutputLock, OutputLockedError

            try:
                self.lock = OutputLock(self.root)
            except OutputLockedError as exc:
                raise OutputError(str(exc)) from None
        try:
            self._open(overwrite)
        except BaseException:
            self.close()
            raise

    def _open(self, overwrite: bool) -> None:
        for stale in self._files(TMP_PREFIX):
            log.info("removing %s, left by a killed run", stale)
            self.fs.delete_file(stale)
        if overwrite:
            for part in self.parts():
                self.fs.delete_file(part)
        self._check_options()
        self._run = f"{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
        self._written = 0

    def close(self) -> None:
        """Release the folder's lock (:mod:`genderage.batch.lock`)."""
        if self.lock is not None:
            self.lock.release()

    def parts(self) -> list[str]:
        """The complete part files, sorted."""
        return sorted(f for f in self._files(PART_PREFIX) if f.endswith(".parquet"))

    def done(self, wanted: set[str]) -> DoneImages:
        """The images of ``wanted`` that complete parts already hold, with their counts."""
        result = DoneImages()
        wanted_text = pa.array(sorted({as_text(p) for p in wanted}), pa.string())
        for part in self.parts():
            names = pq.read_schema(part, filesystem=self.fs).names
            table = pq.read_table(part, filesystem=self.fs, columns=[
                c for c in ("path", "path_bytes", "face_index", "error_kind") if c in names])
            table = table.filter(pc.is_in(table["path"], wanted_text))
            paths = stored_paths(table)
            if any(p not in wanted for p in paths):  # a name whose text form another's shares
                table = table.filter(pa.array([p in wanted for p in paths]))
                paths = [p for p in paths if p in wanted]
            result.paths.update(paths)
            result.faces += face_count(table)
            for kind in failure_kinds(table):
                result.failures[kind] = result.failures.get(kind, 0) + 1
        return result

    def write(self, table: pa.Table) -> str:
        """Append ``table`` as one new complete part file; returns its path."""
        self._written += 1
        name = f"{PART_PREFIX}{self._run}-{self._written:05d}.parquet"
        final, tmp = f"{self.root}/{name}", f"{self.root}/.{name}.tmp"
        table = table.replace_schema_metadata({OPTIONS_KEY: self.options_json})
        pq.write_table(table, tmp, filesystem=self.fs)
        self.fs.move(tmp, final)
        return final

    def _files(self, prefix: str) -> list[str]:
        selector = pafs.FileSelector(self.root, recursive=False)
        return [f.path for f in self.fs.get_file_info(selector)
                if f.type == pafs.FileType.File and f.base_name.startswith(prefix)]

    def _check_options(self) -> None:
        for part in self.parts():
            meta = pq.read_schema(part, filesystem=self.fs).metadata or {}
            found = meta.get(OPTIONS_KEY, b"").decode()
            if found != self.options_json:
                raise OutputError(
                    f"{self.out}: holds results made with other options ({part}: {found or 'none'}; "
                    f"now: {self.options_json}); pass --overwrite to start afresh or use "
                    f"another --out")


class PartBuffer:
    """Tables of whole inputs, written to ``store`` as one part every ``part_size`` inputs
    (the last part, at :meth:`flush`, may hold fewer)."""

    def __init__(self, store: PartStore, part_size: int):
        self.store, self.part_size = store, part_size
        self.tables: list[pa.Table] = []
        self.inputs = 0

    def add(self, table: pa.Table, inputs: int) -> None:
        """Buffer ``table``, which holds every row of ``inputs`` inputs."""
        self.tables.append(table)
        self.inputs += inputs
        if self.inputs >= self.part_size:
            self.flush()

    def flush(self) -> None:
        """Write what is buffered as one part, if anything is."""
        if self.tables:
            self.store.write(pa.concat_tables(self.tables))
        self.tables, self.inputs = [], 0


def _absolute(path: str) -> str:
    import os

    return os.path.abspath(path)
