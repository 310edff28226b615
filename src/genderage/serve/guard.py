"""Connection limits for ``genderage serve``: what uvicorn leaves open.

uvicorn times out idle keep-alive connections, but not a connection that never finishes its
request headers, and it accepts connections until the process runs out of file descriptors,
after which asyncio logs a traceback for every failed ``accept()`` (issue #28: 300
half-open connections under a 256-descriptor limit made the service unreachable and wrote
15 MB of tracebacks in 5 s). :func:`guarded_protocol` gives uvicorn an HTTP/1.1 protocol
that

* closes a connection whose request headers have not all arrived ``header_timeout_s``
  after it opened (or after its previous response);
* closes new connections at once beyond ``max_connections``, a cap set below the
  descriptor limit (:func:`connection_cap`), so ``accept()`` never fails;
* logs both through :class:`~genderage.serve.logs.RateLimitFilter`.

The body has its own deadline in the app (:func:`~genderage.serve.upload.read_body`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

HEADER_TIMEOUT_S = 10.0
"""Seconds a connection may take to send its request line and headers."""

RESERVED_DESCRIPTORS = 32
"""File descriptors kept free beyond those open when the server starts (the model, the
logs, onnxruntime's and the event loop's own), for files the process opens later."""

MAX_CONNECTIONS = 1024
"""Open connections at most, however high the descriptor limit."""

ACCEPT_BACKLOG = 64
"""The listening socket's backlog, passed to uvicorn. asyncio accepts up to this many
connections in one go before any protocol sees them, so the cap leaves this many
descriptors free as well."""


def connection_cap(limit: int | None = None, in_use: int | None = None) -> int:
    """Connections the service keeps open at once: :data:`MAX_CONNECTIONS`, and never more
    than the descriptor limit (``RLIMIT_NOFILE``, or ``limit``) less the descriptors
    already open (``in_use``, counted in ``/proc/self/fd`` when not given) and
    :data:`RESERVED_DESCRIPTORS` and :data:`ACCEPT_BACKLOG`; at least 8. With a limit of
    256 and the 9 descriptors the server holds at start, 151."""
    if limit is None:
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if limit == resource.RLIM_INFINITY:
            limit = 2 * MAX_CONNECTIONS
    if in_use is None:
        try:
            in_use = len(os.listdir("/proc/self/fd"))
        except OSError:  # not Linux: assume a loaded server's count
            in_use = 64
    return max(8, min(MAX_CONNECTIONS,
                      limit - in_use - RESERVED_DESCRIPTORS - ACCEPT_BACKLOG))


def guarded_protocol(header_timeout_s: float = HEADER_TIMEOUT_S,
                     max_connections: int | None = None) -> type[H11Protocol]:
    """An :class:`H11Protocol` subclass with the limits above, for ``uvicorn.run(http=...)``;
    call it once the model is loaded (the cap counts the descriptors open now)."""
    cap = connection_cap() if max_connections is None else max_connections

    class GuardedH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._header_timer: asyncio.TimerHandle | None = None
            if len(self.connections) > cap:
                log.warning("connection refused: %d connections open, the limit is %d",
                            len(self.connections) - 1, cap)
                transport.abort()
                return
            self._start_header_timer()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not None and not self.cycle.response_complete:
                self._stop_header_timer()  # the headers are in: the app has the request

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._start_header_timer()  # the next request on this connection

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_header_timer()
            super().connection_lost(exc)

        def _start_header_timer(self) -> None:
            self._stop_header_timer()
            if not self.transport.is_closing():
                self._header_timer = self.loop.call_later(header_timeout_s,
                                                          self._header_timeout)

        def _stop_header_timer(self) -> None:
            timer = getattr(self, "_header_timer", None)
            if timer is not None:
                timer.cancel()
                self._header_timer = None

        def _header_timeout(self) -> None:
            self._header_timer = None
            log.info("connection closed: no complete request headers within %g s",
                     header_timeout_s)
            self.transport.close()

    return GuardedH11Protocol
