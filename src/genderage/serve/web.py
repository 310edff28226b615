"""The web page: static files shipped inside the package (``genderage/web/``), no CDN.

The files are read once, with :mod:`importlib.resources`, when the app is created, and
served from memory. The page's Content-Security-Policy allows only this origin, so the
page works offline and cannot send a photo anywhere but to this server.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' blob: data:; media-src 'self' blob: mediastream:; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def load_assets() -> dict[str, bytes]:
    """The web page files by name, read from the installed package."""
    web = resources.files("genderage").joinpath("web")
    return {name: web.joinpath(name).read_bytes() for name in ASSETS}


def web_router() -> APIRouter:
    """Routes ``GET /`` (the page) and ``GET /static/{name}`` (its script and style)."""
    assets = load_assets()
    router = APIRouter(include_in_schema=False)

    def asset(name: str) -> Response:
        return Response(assets[name], media_type=ASSETS[name], headers=PAGE_HEADERS)

    @router.get("/")
    def index() -> Response:
        return asset("index.html")

    @router.get("/static/app.js")
    def script() -> Response:
        return asset("app.js")

    @router.get("/static/style.css")
    def style() -> Response:
        return asset("style.css")

    return router
