"""The HTTP API: ``POST /v1/predict``, ``GET /healthz``, the web page at ``/``.

One analyzer per app, owned by ``app.state`` (no module globals). Inference runs in worker
threads, at most ``threads`` at a time; at most ``max_pending`` requests may be in progress
(body being read, waiting for a worker, or analysed): beyond that the API answers 503 at once,
before reading the body, instead of buffering and queueing without bound.

Privacy: the request body lives in memory for the duration of the request only; no image,
crop or file name is written to disk or to the log.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
from fastapi import FastAPI, Query, Request
from fastapi_offline import FastAPIOffline
from fastapi.responses import JSONResponse

from .. import __version__
from ..detect.types import is_thread_safe
from ..imageio import MAX_PIXELS, ImageDecodeError, decode_reduced
from ..models import file_sha256
from .errors import ApiError, install_error_handlers
from .upload import BODY_TIMEOUT_S, FILE_FIELD, read_upload
from .web import web_router

if TYPE_CHECKING:
    from ..pipeline import GenderAge

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 2**20
"""Largest accepted request body (10 MiB), multipart envelope included."""

@dataclass
class ServeState:
    """What the routes share, kept in ``app.state.serve``."""

    analyzer: GenderAge
    limiter: anyio.CapacityLimiter
    predict_lock: threading.Lock | None
    max_pending: int
    max_body_bytes: int
    max_pixels: int
    health: dict
    body_timeout_s: float = BODY_TIMEOUT_S
    pending: int = 0


def create_app(analyzer: GenderAge | None = None, *, model: str | Path | None = None, detector: str | None = None,
               threads: int = 2, max_pending: int | None = None,
               max_body_bytes: int = MAX_BODY_BYTES, max_pixels: int = MAX_PIXELS,
               flip_tta: bool = False, body_timeout_s: float = BODY_TIMEOUT_S,
               **face_options) -> FastAPI:
    """Build the API app.

    Args:
        analyzer: a ready :class:`~genderage.pipeline.GenderAge`; when ``None`` one is
            created from ``model`` and ``detector`` (the shipped model and default detector
            when those are ``None`` too).
        threads: inference worker threads (requests analysed at the same time).
        max_pending: requests allowed in progress (read, waiting or analysed) before the API
            answers 503 without reading the body (default ``8 * threads``).
        max_body_bytes: largest request body; larger ones get 413 without being read.
        max_pixels: largest decoded image (width x height); larger ones get 413.
        flip_tta: with no ``analyzer``, build one in the accuracy mode (mirror averaging).
        body_timeout_s: seconds a request may take to send its body (408 beyond).
        face_options: with no ``analyzer``, the server's ``min_face``, ``det_threshold``,
            ``max_faces`` and ``min_gender_probability``
            (:class:`~genderage.options.FaceOptions`); a request's query parameters may
            change them (:func:`request_analyzer`).

    Raises:
        FileNotFoundError, DetectorError: the model or detector cannot be loaded.
        OptionError: a face option out of range.
    """
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if analyzer is None:
        from ..pipeline import GenderAge

        analyzer = GenderAge(model, detector, flip_tta=flip_tta, **face_options)
    elif face_options:
        raise ValueError("pass face options to GenderAge(...) when giving an analyzer")
    # Create the detector now, so that a bad spec fails at startup, not on the first request.
    detector = analyzer.detector
    detector_name = detector.name
    # A backend that is not thread-safe (yunet wraps cv2.FaceDetectorYN, which resizes itself
    # per call) analyses one request at a time.
    lock = None if is_thread_safe(detector) else threading.Lock()
    state = ServeState(
        analyzer=analyzer, limiter=anyio.CapacityLimiter(threads), predict_lock=lock,
        max_pending=max_pending if max_pending is not None else 8 * threads,
        max_body_bytes=max_body_bytes, max_pixels=max_pixels,
        health=_health(analyzer, detector_name, threads), body_timeout_s=body_timeout_s)

    # FastAPIOffline: FastAPI whose /docs page (Swagger UI) loads its script and style from
    # the fastapi-offline package instead of a CDN, so it works offline. No /redoc: ReDoc
    # fetches its logo from its vendor's site.
    app = FastAPIOffline(
        title="genderage", version=__version__, redoc_url=None,
        description="Gender and age estimates for the faces in a photo. Estimates, not facts: "
                    "gender is a binary label learned from a dataset, age comes with an "
                    "interval. Images are analysed in memory and never stored.")
    app.state.serve = state
    install_error_handlers(app)
    app.include_router(web_router())

    @app.get("/healthz", summary="Liveness and model identity")
    def healthz() -> dict:
        return state.health

    @app.post("/v1/predict", summary="Gender and age for every face in one image",
              response_model=None, openapi_extra=_PREDICT_OPENAPI)
    async def predict(
            request: Request,
            min_face: float | None = Query(None, description=(
                "smallest face, the shorter side of its box in pixels of the uploaded "
                "image; at least 8 and at least the server's own setting (/healthz)")),
            det_threshold: float | None = Query(None, description=(
                "detector score a face must reach, in (0, 1); at least the server's")),
            max_faces: int | None = Query(None, description=(
                "keep the N largest faces (>= 1; at most the server's own setting)")),
            min_gender_probability: float | None = Query(None, description=(
                "in [0.5, 1): below it a face's gender is null ('unknown'); its "
                "probability is still reported")),
    ) -> JSONResponse:
        analyzer = request_analyzer(state.analyzer, min_face=min_face,
                                    det_threshold=det_threshold, max_faces=max_faces,
                                    min_gender_probability=min_gender_probability)
        with _slot(state):
            upload = await read_upload(request, state.max_body_bytes, state.body_timeout_s)
            started = time.perf_counter()
            result = await anyio.to_thread.run_sync(
                _analyze_sync, state, analyzer, upload.data, upload.filename,
                limiter=state.limiter)
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.info("predict: %d face(s) in %.1f ms", len(result["faces"]), elapsed_ms)
        return JSONResponse(result, headers={
            "Cache-Control": "no-store", "Server-Timing": f"analyze;dur={elapsed_ms:.1f}"})

    return app


@contextmanager
def _slot(state: ServeState):
    """A place among the ``max_pending`` requests being read or analysed, taken before the
    body is read (so a crowd of uploads is refused, not buffered); 503 when none is free."""
    if state.pending >= state.max_pending:
        raise ApiError(503, "busy", "too many requests waiting; retry shortly",
                       headers={"Retry-After": "1"})
    state.pending += 1
    try:
        yield
    finally:
        state.pending -= 1


def request_analyzer(analyzer: GenderAge, **asked) -> GenderAge:
    """The server's analyzer with a request's face options (``None``: the server's own).

    The detector runs as the server started it: a request may raise ``min_face`` and
    ``det_threshold`` above the server's settings and lower ``max_faces`` below them, not
    the other way round.

    Raises:
        ApiError: 422 ``invalid_option`` naming the parameter, when a value is out of range
            or asks the detector for more than the server's settings give.
    """
    from ..options import OptionError

    server = analyzer.options
    floors = {"min_face": server.min_face, "det_threshold": server.det_threshold}
    changes = {k: v for k, v in asked.items() if v is not None}
    for name, floor in floors.items():
        if name in changes and floor is not None and changes[name] < floor:
            raise ApiError(422, "invalid_option",
                           f"{name}={changes[name]:g} is below this server's setting "
                           f"({floor:g}); the server must be started with a lower one")
    if "max_faces" in changes and server.max_faces is not None \
            and changes["max_faces"] > server.max_faces:
        raise ApiError(422, "invalid_option",
                       f"max_faces={changes['max_faces']} is above this server's limit "
                       f"({server.max_faces})")
    if "det_threshold" in changes and server.det_threshold is None:
        own = getattr(analyzer.detector, "score_threshold", None)
        if own is not None and changes["det_threshold"] < own:
            raise ApiError(422, "invalid_option",
                           f"det_threshold={changes['det_threshold']:g} is below this "
                           f"server's detector threshold ({own:g})")
    if not changes:
        return analyzer
    try:
        return analyzer.with_options(**changes)
    except OptionError as exc:
        raise ApiError(422, "invalid_option", f"{exc.option} {exc.message}") from None


def _analyze_sync(state: ServeState, analyzer: GenderAge, data: bytes,
                  filename: str | None) -> dict:
    try:
        decoded = decode_reduced(data, filename or "upload", state.max_pixels,
                                 analyzer.decode_min_side(aligned=False))
    except ImageDecodeError as exc:
        raise ApiError.from_decode_error(exc) from None
    from ..pipeline import MIN_FACE_ERROR_KIND

    with state.predict_lock or nullcontext():
        located = analyzer.locate_image(decoded)
        if located.error_kind == MIN_FACE_ERROR_KIND:
            raise ApiError(422, "invalid_option", f"{filename or 'upload'}: {located.error}")
        result = analyzer.analyze([located])[0][0]
    if result.error is not None:
        # A decoded array cannot fail to load; an error here is a bug, reported as a 500.
        raise RuntimeError(f"analysis failed: {result.error}")
    out = result.to_dict()
    out["path"] = filename
    return out


def _health(analyzer, detector_name: str, threads: int) -> dict:
    model_path = Path(analyzer.model.path)
    return {
        "status": "ok",
        "version": __version__,
        # The file's name and checksum identify the model without telling clients where
        # the server keeps it.
        "model": {"file": model_path.name, "sha256": file_sha256(model_path),
                  "gender_temperature": analyzer.model.temperature,
                  "flip_tta": analyzer.model.flip_tta},
        "detector": detector_name,
        "detector_settings": analyzer.detector_settings(),
        "min_gender_probability": analyzer.options.min_gender_probability,
        "threads": threads,
    }


_PREDICT_OPENAPI = {
    "requestBody": {
        "required": True,
        "description": f"The image, at most {MAX_BODY_BYTES // 2**20} MiB: multipart/form-data "
                       f"with the field '{FILE_FIELD}', or the raw bytes.",
        "content": {
            "multipart/form-data": {"schema": {
                "type": "object", "required": [FILE_FIELD],
                "properties": {FILE_FIELD: {"type": "string", "format": "binary"}}}},
            "image/*": {"schema": {"type": "string", "format": "binary"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    "responses": {
        "200": {"description": "Faces found (possibly none): the `predict --json` object, "
                               "`path` = the uploaded file name or null."},
        "400": {"description": "Empty, corrupt or truncated image; malformed multipart."},
        "413": {"description": "Body over the size limit, or image with too many pixels."},
        "415": {"description": "Not an image, or an unsupported Content-Type."},
        "422": {"description": "Multipart body without a `file` field; a query parameter "
                               "out of range (`invalid_option`, naming it), or `min_face` "
                               "larger than the image."},
        "503": {"description": "Too many requests waiting; retry."},
    },
}

__all__ = ["MAX_BODY_BYTES", "create_app"]
