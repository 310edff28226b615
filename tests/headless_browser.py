"""What the browser tests share: Debian's ``chromium`` driven by ``playwright`` (its own
browser downloads are not used), and an app served by uvicorn in a thread.

Tests that use :func:`chromium` skip cleanly without Chromium or playwright. The ``browser``
fixture of ``conftest.py`` is one such context per test module.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync")


@contextlib.contextmanager
def chromium(profile: Path, extra_args: tuple[str, ...] = ()) -> Iterator:
    """A headless Chromium browser context with its profile in ``profile``; skips the test
    when Chromium or playwright is missing.

    Args:
        profile: an empty folder for the browser's profile.
        extra_args: command-line switches after :data:`CHROMIUM_ARGS` (a fake camera...).
    """
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.is_file() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True,
            args=[*CHROMIUM_ARGS, *extra_args])
        try:
            yield context
        finally:
            context.close()


class ThreadedServer:
    """``app`` served by uvicorn on a free loopback port, in a daemon thread, until
    :meth:`stop`.

    Attributes:
        url: the base URL, ``http://127.0.0.1:PORT`` (no trailing slash).
    """

    def __init__(self, app, **config):
        uvicorn = pytest.importorskip("uvicorn")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                                    log_level="warning", **config))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("uvicorn did not start")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
