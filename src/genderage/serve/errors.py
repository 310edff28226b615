"""JSON errors for the HTTP API: one shape, ``{"error": code, "detail": message}``.

Every error the API returns goes through here, so that a client never sees an HTML error
page or a traceback. Bad input maps to a 4xx; a 500 means a bug on our side.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..imageio import ImageDecodeError

DECODE_ERROR_STATUS = {
    "empty": (400, "empty_image"),
    "corrupt": (400, "corrupt_image"),
    "unreadable": (400, "corrupt_image"),
    "not_image": (415, "not_an_image"),
    "too_large": (413, "too_many_pixels"),
    "too_complex": (422, "too_complex"),
}
"""``ImageDecodeError.kind`` -> (HTTP status, error code)."""

HTTP_ERROR_CODES = {404: "not_found", 405: "method_not_allowed"}


class ApiError(Exception):
    """An error with an HTTP status, a stable machine-readable code and a human message."""

    def __init__(self, status: int, code: str, detail: str, headers: dict | None = None):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers

    @classmethod
    def from_decode_error(cls, exc: ImageDecodeError) -> ApiError:
        status, code = DECODE_ERROR_STATUS.get(exc.kind, (400, "corrupt_image"))
        return cls(status, code, str(exc))


def error_response(status: int, code: str, detail, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception to a JSON body; unexpected ones become a bare 500."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error_response(exc.status, exc.code, exc.detail, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        code = HTTP_ERROR_CODES.get(exc.status_code, f"http_{exc.status_code}")
        return error_response(exc.status_code, code, exc.detail, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        return error_response(422, "invalid_request", _plain(exc.errors()))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        # Starlette re-raises after this response, so the server logs the traceback
        # (which holds no request body); the client gets no internals.
        return error_response(500, "internal_error", "internal server error")


def _plain(errors) -> list[dict]:
    """Validation errors without the offending input values (they may be image bytes)."""
    return [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in errors]
