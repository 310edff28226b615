"""What the service logs: uvicorn's access lines (without the client address by default) and
the app's own ``predict: N face(s) in T ms`` lines, both at INFO on stderr/stdout."""

from __future__ import annotations

import logging
import time

ACCESS_FORMAT = '%(levelprefix)s "%(request_line)s" %(status_code)s'
ACCESS_FORMAT_WITH_CLIENT = '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s'


def uvicorn_log_config(client_address: bool = False, app_level: str = "INFO") -> dict:
    """A ``logging.config.dictConfig`` for ``uvicorn.run(log_config=...)``.

    Args:
        client_address: put the client's address and port in each access line (uvicorn's
            own format); off by default, so the access log holds method, path and status only.
        app_level: level of genderage's own loggers (``"DEBUG"`` under ``genderage -v``).
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": {"()": "uvicorn.logging.DefaultFormatter",
                        "fmt": "%(levelprefix)s %(message)s", "use_colors": None},
            "access": {"()": "uvicorn.logging.AccessFormatter",
                       "fmt": ACCESS_FORMAT_WITH_CLIENT if client_address else ACCESS_FORMAT},
        },
        "filters": {"rate_limit": {"()": RateLimitFilter}},
        "handlers": {
            "default": {"formatter": "default", "class": "logging.StreamHandler",
                        "stream": "ext://sys.stderr"},
            "limited": {"formatter": "default", "class": "logging.StreamHandler",
                        "stream": "ext://sys.stderr", "filters": ["rate_limit"]},
            "access": {"formatter": "access", "class": "logging.StreamHandler",
                       "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"handlers": ["limited"], "level": "INFO", "propagate": False},
            "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
            "genderage": {"handlers": ["default"], "level": app_level, "propagate": False},
            # Lines a flood of connections repeats (asyncio's accept() failures, refused and
            # timed-out connections, tracebacks): rate-limited per message.
            "asyncio": {"handlers": ["limited"], "level": "WARNING", "propagate": False},
            "genderage.serve.guard": {"handlers": ["limited"], "level": app_level,
                                      "propagate": False},
        },
    }


class RateLimitFilter(logging.Filter):
    """Lets through at most ``burst`` records per logger and message start every
    ``period_s`` seconds; the first record after a quiet spell says how many were dropped.

    Under a flood (thousands of refused connections, asyncio's ``accept()`` errors) the log
    grows by a few lines a minute instead of megabytes a second. A filter object keeps its
    own counts; it is attached to handlers by :func:`uvicorn_log_config`.
    """

    def __init__(self, period_s: float = 10.0, burst: int = 5):
        super().__init__()
        self.period_s, self.burst = period_s, burst
        self._windows: dict[tuple[str, str], list] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg)[:40])  # asyncio puts object reprs in its text
        now = time.monotonic()
        window = self._windows.get(key)
        if window is None or now - window[0] >= self.period_s:
            dropped = 0 if window is None else window[2]
            self._windows[key] = [now, 1, 0]
            if dropped:
                record.msg = f"{record.msg} [{dropped} similar message(s) dropped]"
            return True
        if window[1] < self.burst:
            window[1] += 1
            return True
        window[2] += 1
        return False
