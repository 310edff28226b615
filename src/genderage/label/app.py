"""The labelling page: a FastAPI app on 127.0.0.1 that shows the faces of a results file one
at a time in the sampling order and appends each answer to the labels file. On a tracks
table of ``genderage video`` an item is a track, shown by its best frame.

Routes: ``GET /`` (the page), ``GET /static/label.{js,css}``, ``GET /api/state``,
``GET /api/face/{rank}`` (the face at that place in the order, JPEG, cut on the fly and
never stored: ``Cache-Control: no-store``; 410 when its photo or video cannot be read any
more), ``POST /api/label``, ``POST /api/undo``. The model's answers never leave the server
(they would bias the labeller).
"""

from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from ..imageio import ImageDecodeError
from ..serve.web import PAGE_HEADERS
from .crop import face_jpeg, frame_face_jpeg
from .items import read_items
from .sample import face_keys, results_fingerprint, sampling_order
from .store import GENDERS, MAX_AGE, LabelsError, LabelsWriter, Sampling, read_labels

ASSETS = {"label.html": "text/html; charset=utf-8",
          "label.js": "text/javascript; charset=utf-8",
          "label.css": "text/css; charset=utf-8"}
PREFETCH = 3
"""Faces past the current one the page may fetch ahead (so the next shows at once)."""


class LabelSession:
    """The sample being labelled: the results' faces (or a tracks table's tracks) in their
    sampling order and the labels given so far (read back from the labels file, so a re-run
    resumes).

    Raises (constructor):
        ResultsError, FileNotFoundError: unusable results.
        LabelsError: the labels file belongs to another sample (seed, --by or results) or
            its rows are not the start of this sample's order.
    """

    def __init__(self, results_path: str | Path, out: str | Path, n: int = 300, seed: int = 0,
                 by: str | None = None):
        items = read_items(results_path, by)
        if len(items) == 0:
            raise LabelsError(f"{results_path}: no {items.unit}s to label")
        self.unit = items.unit
        self.paths = items.paths
        self.indices = items.indices
        self.boxes = items.boxes
        self.frames = items.frames
        self.strata = items.strata
        keys = face_keys(self.paths, self.indices)
        self.order = sampling_order(keys, seed, self.strata)
        self.n = min(n, len(keys))
        self.sampling = Sampling(seed, by, n, results_fingerprint(keys), self.unit)
        self.out = Path(out)
        self.done = self._resume(keys)
        self.writer = LabelsWriter(self.out, self.sampling)
        self.lock = threading.Lock()
        # rank -> why that item's face could not be shown (the page asks for "can't tell").
        self.unreadable: dict[int, str] = {}

    def _resume(self, keys: list[str]) -> int:
        """How many faces of the order the labels file already holds (checked)."""
        if not self.out.exists() or self.out.stat().st_size == 0:
            return 0
        existing = read_labels(self.out)
        s, mine = existing.sampling, self.sampling
        if s is None:
            raise LabelsError(f"{self.out}: not written by `genderage label` (no sampling "
                              "columns); choose another --out")
        if s.unit != mine.unit:
            raise LabelsError(f"{self.out}: labels {s.unit}s, but these results have "
                              f"{mine.unit}s; choose another --out")
        if (s.seed, s.by, s.results_fingerprint) != (mine.seed, mine.by,
                                                     mine.results_fingerprint):
            raise LabelsError(
                f"{self.out}: drawn with seed {s.seed}, --by {s.by or '(none)'} from results "
                f"{s.results_fingerprint}; now seed {mine.seed}, --by {mine.by or '(none)'}, "
                f"results {mine.results_fingerprint}. Re-run with the same --seed and --by on "
                "the same results to resume, or choose another --out")
        for rank, label in enumerate(existing.labels):
            if label.rank != rank or keys[self.order[rank]] != f"{label.path}\t{label.face_index}":
                raise LabelsError(f"{self.out}: line {label.line} is not {mine.unit} {rank} of "
                                  "this sample's order; the file was edited. Choose another "
                                  "--out")
        return len(existing.labels)

    def state(self) -> dict:
        return {"done": self.done, "n": self.n, "faces": len(self.order),
                "finished": self.done >= self.n, "prefetch": PREFETCH,
                "stratified_by": self.sampling.by, "unit": self.unit,
                "unreadable": len(self.unreadable)}

    def face(self, rank: int) -> bytes:
        """The JPEG of the item at ``rank``: its face cut from the photo, or from the track's
        best frame of the video.

        Raises:
            ImageDecodeError: the photo or video cannot be read (counted in
                :attr:`unreadable`).
        """
        if not 0 <= rank < min(self.n, self.done + 1 + PREFETCH):
            raise HTTPException(404, f"no such {self.unit} in this sample (yet)")
        i = self.order[rank]
        box = self.boxes[i]
        if box is None:
            raise HTTPException(404, f"this {self.unit} has no box in the results")
        try:
            if self.frames is None:
                return face_jpeg(self.paths[i], box)
            return frame_face_jpeg(self.paths[i], int(self.frames[i]), box)
        except ImageDecodeError as exc:
            self.unreadable[rank] = str(exc)
            raise

    def label(self, rank: int, gender: str, age: float | None) -> dict:
        with self.lock:
            if rank != self.done:
                raise HTTPException(409, f"face {rank} is not the next to label "
                                         f"({self.done} is); reload the page")
            if self.done >= self.n:
                raise HTTPException(409, "the sample is complete")
            i = self.order[rank]
            stratum = None if self.strata is None else str(self.strata[i])
            self.writer.append(str(self.paths[i]), int(self.indices[i]), gender,
                               None if gender == "not_a_face" else age, rank, stratum)
            self.done += 1
            return self.state()

    def undo(self) -> dict:
        with self.lock:
            if self.done > 0:
                self.writer.remove_last()
                self.done -= 1
            return self.state()


class LabelIn(BaseModel):
    rank: int = Field(ge=0)
    gender: str
    age: float | None = Field(default=None, ge=0, le=MAX_AGE)


def create_label_app(session: LabelSession) -> FastAPI:
    """The app serving ``session``."""
    web = resources.files("genderage").joinpath("web")
    assets = {name: web.joinpath(name).read_bytes() for name in ASSETS}
    app = FastAPI(title="genderage label", docs_url=None, redoc_url=None, openapi_url=None)
    no_store = {**PAGE_HEADERS, "Cache-Control": "no-store"}
    # Only this machine's own pages may talk to it: requests must name the loopback host
    # (no DNS rebinding), and answers must come from this page, not another site's script.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"])

    @app.middleware("http")
    async def same_origin(request: Request, call_next):
        origin = request.headers.get("origin")
        if request.method != "GET" and origin is not None \
                and origin != f"{request.url.scheme}://{request.headers.get('host')}":
            return JSONResponse({"detail": "cross-origin request refused"}, 403)
        return await call_next(request)

    def asset(name: str) -> Response:
        return Response(assets[name], media_type=ASSETS[name], headers=PAGE_HEADERS)

    @app.get("/")
    def index() -> Response:
        return asset("label.html")

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in ASSETS or name == "label.html":
            raise HTTPException(404)
        return asset(name)

    @app.get("/api/state")
    def state() -> JSONResponse:
        return JSONResponse(session.state(), headers=no_store)

    @app.get("/api/face/{rank}")
    def face(rank: int) -> Response:
        try:
            data = session.face(rank)
        except ImageDecodeError as exc:
            what = "image" if session.unit == "face" else "video"
            raise HTTPException(410, f"the {what} cannot be read any more: {exc}") from None
        return Response(data, media_type="image/jpeg", headers=no_store)

    @app.post("/api/label")
    def label(body: LabelIn) -> JSONResponse:
        if body.gender not in GENDERS:
            raise HTTPException(422, f"gender must be one of {', '.join(GENDERS)}")
        return JSONResponse(session.label(body.rank, body.gender, body.age), headers=no_store)

    @app.post("/api/undo")
    def undo() -> JSONResponse:
        return JSONResponse(session.undo(), headers=no_store)

    return app


def summary(session: LabelSession) -> str:
    """One line on where the sample stands."""
    s = session.state()
    unit = s["unit"]
    return (f"{s['done']} of {s['n']} {unit}s labelled ({s['faces']} in the results"
            + (f", stratified by {s['stratified_by']}" if s["stratified_by"] else "") + ")"
            + (f"; {s['unreadable']} {unit}(s) could not be shown (their photo or video "
               "cannot be read)" if s["unreadable"] else ""))

