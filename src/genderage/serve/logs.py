"""What the service logs: uvicorn's access lines (without the client address by default) and
the app's own ``predict: N face(s) in T ms`` lines, both at INFO on stderr/stdout."""

from __future__ import annotations

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
        "handlers": {
            "default": {"formatter": "default", "class": "logging.StreamHandler",
                        "stream": "ext://sys.stderr"},
            "access": {"formatter": "access", "class": "logging.StreamHandler",
                       "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
            "genderage": {"handlers": ["default"], "level": app_level, "propagate": False},
        },
    }
