"""Getting the image bytes out of a request, in memory and within a size limit.

Two request shapes are accepted by ``POST /v1/predict``:

* ``multipart/form-data`` with the image in the field ``file`` (a browser form, ``curl -F``);
* a raw body with ``Content-Type: image/*`` or ``application/octet-stream``
  (``curl --data-binary @photo.jpg -H 'Content-Type: image/jpeg'``).

The body is never read past the limit: a declared ``Content-Length`` over it is refused
before reading, and the bytes are counted as they stream in (chunked uploads). Nothing is
spooled to disk (Starlette's form parser writes parts over 1 MB to a temporary file, so
multipart bodies are parsed here, in memory, with python-multipart's push parser).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import Request
from starlette.requests import ClientDisconnect

from .errors import ApiError

try:
    from python_multipart.multipart import MultipartParser, parse_options_header
except ImportError:  # python-multipart < 0.0.13 names its module ``multipart``
    from multipart.multipart import MultipartParser, parse_options_header

log = logging.getLogger(__name__)

FILE_FIELD = "file"
RAW_TYPES = ("application/octet-stream",)


@dataclass(frozen=True)
class Upload:
    """One uploaded image: its bytes and the client's file name (``None`` for raw bodies)."""

    data: bytes
    filename: str | None


async def read_upload(request: Request, max_bytes: int) -> Upload:
    """The image carried by ``request``.

    Raises:
        ApiError: 413 body over ``max_bytes``; 415 unsupported content type;
            422 multipart without a ``file`` field; 400 malformed multipart or length.
    """
    content_type = request.headers.get("content-type", "")
    media_type, params = parse_options_header(content_type)
    media_type = media_type.decode("latin-1").lower()
    is_multipart = media_type == "multipart/form-data"
    if not (is_multipart or not media_type or media_type.startswith("image/")
            or media_type in RAW_TYPES):
        raise ApiError(415, "unsupported_media_type",
                       f"Content-Type {media_type!r} is not accepted; send multipart/form-data "
                       f"with a '{FILE_FIELD}' field, or the raw image as image/* or "
                       "application/octet-stream")
    body = await read_body(request, max_bytes)
    if not is_multipart:
        return Upload(body, None)
    boundary = params.get(b"boundary")
    if not boundary:
        raise ApiError(400, "malformed_multipart", "multipart/form-data without a boundary")
    parts = parse_multipart(body, boundary)
    part = next((p for p in parts if p.name == FILE_FIELD), None)
    if part is None:
        raise ApiError(422, "missing_file",
                       f"multipart body has no '{FILE_FIELD}' field "
                       f"(fields: {sorted({p.name for p in parts})})")
    return Upload(part.data, part.filename)


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The whole request body, refusing (413) as soon as it would exceed ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise ApiError(400, "bad_content_length",
                           f"invalid Content-Length {declared!r}") from None
        if length > max_bytes:
            raise _too_large(max_bytes)
    chunks, total = [], 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > max_bytes:
                raise _too_large(max_bytes)
            chunks.append(chunk)
    except ClientDisconnect:
        # Nobody is left to read an answer; one log line instead of a traceback.
        log.info("client disconnected during the upload (%d bytes received)", total)
        raise ApiError(400, "client_disconnected", "the client closed the connection "
                       "before the body was complete") from None
    return b"".join(chunks)


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(413, "body_too_large",
                    f"request body over the limit of {max_bytes:,} bytes "
                    f"({max_bytes / 2**20:g} MiB)")


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    data: bytes = b""


def parse_multipart(body: bytes, boundary: bytes) -> list[_Part]:
    """Split a complete in-memory ``multipart/form-data`` body into its parts.

    Raises:
        ApiError: 400 if the body is not valid multipart for ``boundary``.
    """
    parts: list[_Part] = []
    state = {"field": b"", "value": b"", "headers": {}, "data": []}

    def on_part_begin():
        state["headers"], state["data"] = {}, []

    def on_header_field(data, start, end):
        state["field"] += data[start:end]

    def on_header_value(data, start, end):
        state["value"] += data[start:end]

    def on_header_end():
        state["headers"][state["field"].lower()] = state["value"]
        state["field"], state["value"] = b"", b""

    def on_part_data(data, start, end):
        state["data"].append(data[start:end])

    def on_part_end():
        disposition, options = parse_options_header(
            state["headers"].get(b"content-disposition", b""))
        if disposition != b"form-data":
            raise ApiError(400, "malformed_multipart", "part without form-data disposition")
        filename = options.get(b"filename")
        parts.append(_Part(
            name=options.get(b"name", b"").decode("utf-8", "replace"),
            filename=filename.decode("utf-8", "replace") if filename is not None else None,
            data=b"".join(state["data"])))

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field,
        "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_part_data": on_part_data, "on_part_end": on_part_end})
    try:
        parser.write(body)
        parser.finalize()
    except ApiError:
        raise
    except Exception as exc:  # python-multipart raises several error types for bad input
        raise ApiError(400, "malformed_multipart", f"malformed multipart body ({exc})") from None
    if not parts:
        raise ApiError(400, "malformed_multipart", "multipart body has no parts")
    return parts
