"""One ``genderage batch`` run per output folder: a lock file naming its owner.

Two runs on one ``--out`` would both see the same images as not done and both write them
(issue #28: 300 of 300 images written twice). The lock is a file created exclusively in the
output folder holding the owner's host name and process id. A lock whose process is gone
(the run was killed) is stale: the next run removes it and takes the folder over.
"""

from __future__ import annotations

import json
import logging
import os
import socket

log = logging.getLogger(__name__)

LOCK_NAME = ".genderage-batch.lock"


class OutputLockedError(ValueError):
    """Another live run holds the output folder."""


class OutputLock:
    """The lock of one output folder (a local path), taken on construction.

    Raises:
        OutputLockedError: a live process on this host (or any process on another host)
            holds it; the message names the process.
    """

    def __init__(self, folder: str):
        self.path = os.path.join(folder, LOCK_NAME)
        self.held = False
        for _ in range(3):  # lose a race for a stale lock at most twice
            if self._create():
                return
            owner = self._owner()
            if owner is not None and not self._stale(owner):
                raise OutputLockedError(
                    f"{folder}: in use by another genderage batch run (pid {owner.get('pid')} "
                    f"on {owner.get('host')}); wait for it to finish (if it is gone, "
                    f"remove {self.path})")
            log.warning("%s: removing a stale lock (%s)", self.path, owner or "unreadable")
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        raise OutputLockedError(f"{folder}: could not take the lock {self.path}")

    def _create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | getattr(os, "O_CLOEXEC", 0), 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            json.dump({"pid": os.getpid(), "host": socket.gethostname()}, f)
        self.held = True
        return True

    def _owner(self) -> dict | None:
        try:
            with open(self.path, encoding="utf-8") as f:
                owner = json.load(f)
        except (OSError, ValueError):
            return None  # half-written by a run killed at that moment, or removed meanwhile
        return owner if isinstance(owner, dict) else None

    @staticmethod
    def _stale(owner: dict) -> bool:
        if owner.get("host") != socket.gethostname():
            return False  # cannot tell from here: assume it lives
        pid = owner.get("pid")
        if not isinstance(pid, int) or pid <= 0:
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # alive, someone else's
        return False

    def release(self) -> None:
        if self.held:
            self.held = False
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    def __enter__(self) -> OutputLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
