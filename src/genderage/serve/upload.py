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
from pathlib import PurePosixPath

import anyio
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
MAX_PARTS = 16
"""Parts of a multipart body looked at before giving up on finding ``file`` (422)."""
MAX_HEADER_BYTES = 8192
"""Header bytes allowed per multipart part (400 beyond)."""
MAX_BOUNDARY_BYTES = 256
"""Longest multipart boundary accepted (python-multipart's own limit; RFC 2046 says 70)."""
BODY_TIMEOUT_S = 60.0
"""Seconds a request may take to send its body (408 beyond): 10 MiB at 175 KB/s."""


@dataclass(frozen=True)
class Upload:
    """One uploaded image: its bytes and the client's file name (``None`` for raw bodies)."""

    data: bytes
    filename: str | None


async def read_upload(request: Request, max_bytes: int,
                      timeout_s: float = BODY_TIMEOUT_S) -> Upload:
    """The image carried by ``request``.

    The body is read on the event loop (it arrives there); a multipart body is then parsed
    in a worker thread, so that a body of many tiny parts cannot stall other requests.

    Raises:
        ApiError: 413 body over ``max_bytes``; 408 body not complete within
            ``timeout_s``; 415 unsupported content type;
            422 multipart without a ``file`` field; 400 malformed multipart or length.
    """
    content_type = request.headers.get("content-type", "")
    media_type, params = parse_options_header(content_type)
    media_type = media_type.decode("latin-1").lower()
    is_multipart = media_type == "multipart/form-data"
    if not (is_multipart or not media_type or media_type.startswith("image/")
            or media_type in RAW_TYPES):
        raise ApiError(415, "unsupported_media_type",
                       f"Content-Type {_clip(media_type)!r} is not accepted; send "
                       f"multipart/form-data with a '{FILE_FIELD}' field, or the raw image as "
                       "image/* or application/octet-stream")
    body = await read_body(request, max_bytes, timeout_s)
    if not is_multipart:
        return Upload(body, None)
    boundary = params.get(b"boundary")
    if not boundary:
        raise ApiError(400, "malformed_multipart", "multipart/form-data without a boundary")
    if len(boundary) > MAX_BOUNDARY_BYTES:
        raise ApiError(400, "malformed_multipart", f"multipart boundary of {len(boundary)} "
                       f"bytes; at most {MAX_BOUNDARY_BYTES} are allowed (RFC 2046: 70)")
    return await anyio.to_thread.run_sync(find_file_part, body, boundary)


async def read_body(request: Request, max_bytes: int,
                    timeout_s: float = BODY_TIMEOUT_S) -> bytes:
    """The whole request body, refusing (413) as soon as it would exceed ``max_bytes`` and
    (408) when it is not complete ``timeout_s`` after reading began (a slow-body client
    would otherwise hold its slot for ever)."""
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
        with anyio.fail_after(timeout_s):
            async for chunk in request.stream():
                total += len(chunk)
                if total > max_bytes:
                    raise _too_large(max_bytes)
                chunks.append(chunk)
    except TimeoutError:
        log.info("upload timed out after %g s (%d bytes received)", timeout_s, total)
        raise ApiError(408, "body_timeout", f"the request body did not arrive within "
                       f"{timeout_s:g} s", headers={"Connection": "close"}) from None
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


def _clip(text: str, limit: int = 40) -> str:
    """Client-supplied text quoted in an error message, cut short."""
    return text if len(text) <= limit else text[:limit] + "..."


def client_filename(raw: bytes | None) -> str | None:
    """The base name of a client's file name (``../../etc/passwd`` -> ``passwd``), or
    ``None`` when there is none. Both ``/`` and ``\\`` count as separators."""
    if raw is None:
        return None
    name = PurePosixPath(raw.decode("utf-8", "replace").replace("\\", "/")).name
    return name if name not in ("", ".", "..") else None


class _FileFound(Exception):
    """Raised from the parser callbacks to stop at the ``file`` part."""


def find_file_part(body: bytes, boundary: bytes) -> Upload:
    """The first ``file`` part of a complete in-memory ``multipart/form-data`` body.

    Parsing stops at that part; at most :data:`MAX_PARTS` parts and :data:`MAX_HEADER_BYTES`
    of headers per part are looked at, so the work per request stays small whatever the
    body holds.

    Raises:
        ApiError: 400 if the body is not valid multipart for ``boundary`` or has a part with
            oversized headers; 422 if no ``file`` part comes within the first
            :data:`MAX_PARTS` parts.
    """
    names: list[str] = []
    state = {"field": b"", "value": b"", "headers": {}, "data": [], "header_bytes": 0}
    found: list[Upload] = []

    def on_part_begin():
        if len(names) >= MAX_PARTS:
            raise ApiError(422, "missing_file", f"no '{FILE_FIELD}' field in the first "
                           f"{MAX_PARTS} parts of the multipart body")
        state["headers"], state["data"], state["header_bytes"] = {}, [], 0

    def on_header_bytes(key, data, start, end):
        state["header_bytes"] += end - start
        if state["header_bytes"] > MAX_HEADER_BYTES:
            raise ApiError(400, "malformed_multipart",
                           f"multipart part headers over {MAX_HEADER_BYTES} bytes")
        state[key] += data[start:end]

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
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name == FILE_FIELD:
            found.append(Upload(b"".join(state["data"]), client_filename(options.get(b"filename"))))
            raise _FileFound
        names.append(name)

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin,
        "on_header_field": lambda data, start, end: on_header_bytes("field", data, start, end),
        "on_header_value": lambda data, start, end: on_header_bytes("value", data, start, end),
        "on_header_end": on_header_end, "on_part_data": on_part_data,
        "on_part_end": on_part_end})
    try:
        parser.write(body)
        parser.finalize()
    except _FileFound:
        return found[0]
    except ApiError:
        raise
    except Exception as exc:  # python-multipart raises several error types for bad input
        raise ApiError(400, "malformed_multipart",
                       f"malformed multipart body ({_clip(str(exc), 120)})") from None
    if not names:
        raise ApiError(400, "malformed_multipart", "multipart body has no parts")
    shown = ", ".join(repr(_clip(n)) for n in names[:5]) + (", ..." if len(names) > 5 else "")
    raise ApiError(422, "missing_file",
                   f"multipart body has no '{FILE_FIELD}' field (fields: {shown})")
