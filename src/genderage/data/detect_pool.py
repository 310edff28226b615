"""Face detection over many files in worker processes, and where the ``.npz`` caches that
hold the results (AAF landmarks, UTKFace pipeline re-crops) live."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


# Each worker process builds its own detector once (the pool's initializer): onnxruntime
# sessions cannot be pickled across processes. Every session runs on one thread, as in a batch
# worker: the parallelism comes from the processes.
_detector = None
_per_file: Callable | None = None


def _init_worker(detector_spec: str | None, per_file: Callable) -> None:
    global _detector, _per_file
    from ..detect import create_detector
    from ..onnx_runtime import RuntimeOptions

    _detector = create_detector(detector_spec, runtime=RuntimeOptions(threads=1))
    _per_file = per_file


def _run(path: str):
    return _per_file(path, _detector)


def map_with_detector(per_file: Callable, paths: list[str], detector_spec: str | None,
                      workers: int, chunksize: int) -> Iterator:
    """``per_file(path, detector)`` for each path, in order, over ``workers`` processes.

    ``per_file`` must be a module-level function (it is pickled to the workers)."""
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                             initargs=(detector_spec, per_file)) as pool:
        yield from pool.map(_run, paths, chunksize=chunksize)


def default_workers(cap: int) -> int:
    return min(cap, os.cpu_count() or 1)


def detection_cache_file(cache_dir: str | Path | None, prefix: str, root: str | Path,
                         detector_spec: str | None, files: list[str], *extra) -> Path | None:
    """``cache_dir/<prefix>_<key>.npz`` for detections of ``files`` under ``root``, or
    ``None`` without a cache folder. The key names the detector's backend and settings
    (:func:`~genderage.detect.registry.detector_fingerprint`): the default detector's settings
    change between releases, and a cache made under older ones must not be reused."""
    if cache_dir is None:
        return None
    from ..detect.registry import detector_fingerprint

    head = "|".join([str(Path(root).resolve()), detector_fingerprint(detector_spec),
                     *map(str, extra)])
    h = hashlib.sha256(head.encode())
    for f in files:
        h.update(f.encode() + b"\0")
    return Path(cache_dir) / f"{prefix}_{h.hexdigest()[:16]}.npz"
