"""The unit of work both engines share: a chunk of image paths -> an Arrow table of rows.

A :class:`ChunkAnalyzer` owns one :class:`~genderage.pipeline.GenderAge` (model and detector
load once per worker process or Ray actor); each call decodes and detects the chunk's images,
then runs the attribute model ONCE on all their faces.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace

import pyarrow as pa

from .. import __version__
from ..imageio import MAX_FILE_BYTES, ImageDecodeError, decode_reduced, read_file_bytes
from ..models import file_sha256
from ..onnx_runtime import RuntimeOptions
from ..options import FaceOptionFields
from ..pipeline import MIN_FACE_ERROR_KIND, GenderAge, LocatedImage, resolve_model_path
from .schema import results_table


@dataclass(frozen=True)
class BatchOptions(FaceOptionFields):
    """What the rows depend on; parts written with other options are not resumed.

    Attributes:
        model: attribute model path, ``None`` for the shipped one.
        detector: detector spec (see :func:`~genderage.detect.create_detector`), ``None``
            for the default backend.
        flip_tta: average each face with its mirror image.
        age_probs: add the model's age distribution column.
        min_face, det_threshold, max_faces, min_gender_probability: the
            :class:`~genderage.options.FaceOptions` of the run (``None``: off).
    """

    model: str | None = None
    detector: str | None = None
    flip_tta: bool = False
    age_probs: bool = False

    def check(self) -> None:
        """Fail now, not in every worker, on options that cannot work.

        Raises:
            FileNotFoundError: the model file is missing.
            DetectorError: the detector spec names no usable backend.
            ValueError: ``age_probs`` with a model that has no such output; a face option
                out of range (:class:`~genderage.options.OptionError`).
        """
        from ..attribute import AttributeModel
        from ..options import FaceOptions

        FaceOptions(**self.face_options())
        model = AttributeModel(resolve_model_path(self.model), flip_tta=self.flip_tta)
        if self.age_probs and not model.has_age_probs:
            raise ValueError(f"{model.path}: --age-probs needs a model with an 'age_probs' "
                             f"output; this one has {model.output_names}")
        if self.detector is not None or self.min_face is not None \
                or self.det_threshold is not None:
            from ..detect import create_detector

            create_detector(self.detector, score_threshold=self.det_threshold,
                            min_face=self.min_face)

    def fingerprint(self) -> str:
        """JSON of the options with the model by content (its SHA-256), not by path."""
        described = {**asdict(self), "model": model_sha256(self.model),
                     "detector": self.detector or "default"}
        return json.dumps(described, sort_keys=True)


def model_sha256(model: str | None) -> str:
    """SHA-256 of the attribute model file that ``model`` resolves to."""
    return file_sha256(resolve_model_path(model))


class ChunkAnalyzer:
    """Turns lists of image paths (local paths or fsspec URIs) into rows.

    Args:
        options: the run's :class:`BatchOptions`.
        threads: the most onnxruntime threads any session of the worker uses, the attribute
            model's and every detector network's (``None``: each session's own default).
    """

    def __init__(self, options: BatchOptions, threads: int | None = None):
        from ..attribute import AttributeModel

        self.options = options
        runtime = RuntimeOptions(threads=threads)
        model = AttributeModel(resolve_model_path(options.model), runtime,
                               flip_tta=options.flip_tta)
        self.analyzer = GenderAge(model, options.detector, runtime=runtime,
                                  **options.face_options())
        self.model_sha256 = model_sha256(options.model)

    def __call__(self, paths: list[str]) -> pa.Table:
        located = [self._locate(path) for path in paths]
        results, batch = self.analyzer.analyze(located)
        return results_table(results, [item.error_kind for item in located],
                             batch.age_probs if self.options.age_probs else None,
                             self.model_sha256, __version__)

    def _locate(self, path: str) -> LocatedImage:
        if "://" not in path:
            return self.analyzer.locate_image(path)  # exactly what `genderage predict` does
        try:
            decoded = decode_reduced(read_uri(path), path,
                                     min_side=self.analyzer.decode_min_side(aligned=False))
        except ImageDecodeError as exc:
            return LocatedImage(path, (), str(exc), exc.kind)
        located = self.analyzer.locate_image(decoded)
        if located.error_kind == MIN_FACE_ERROR_KIND:  # an array has no name to give
            located = replace(located, error=f"{path}: {located.error}")
        return replace(located, path=path)


def read_uri(uri: str, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a file named by an fsspec URI (``file://``, ``s3://``, ...), at most
    ``max_bytes`` (the limit local files have).

    Raises:
        ImageDecodeError: ``"unreadable"`` or ``"too_large"``, naming the URI.
    """
    import fsspec
    from fsspec.implementations.local import LocalFileSystem

    try:
        fs, local_path = fsspec.core.url_to_fs(uri)
    except (ValueError, ImportError) as exc:
        raise ImageDecodeError(f"{uri}: cannot read file ({exc})", "unreadable") from None
    if isinstance(fs, LocalFileSystem):
        # Exactly the rules of plain paths: a FIFO or device is refused without blocking.
        try:
            return read_file_bytes(local_path, max_bytes)
        except ImageDecodeError as exc:
            raise ImageDecodeError(f"{uri}: {str(exc).partition(': ')[2]}", exc.kind) from None
    try:
        with fsspec.open(uri, "rb") as f:
            data = f.read(max_bytes + 1)
    except (OSError, ValueError, ImportError) as exc:
        raise ImageDecodeError(f"{uri}: cannot read file ({exc})", "unreadable") from None
    if len(data) > max_bytes:
        raise ImageDecodeError(f"{uri}: file too large (over {max_bytes:,} bytes)", "too_large")
    return data


def default_workers() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
