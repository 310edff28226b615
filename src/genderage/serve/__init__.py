"""``genderage serve``: the HTTP API and web page (needs the ``serve`` extra)."""

from .app import MAX_BODY_BYTES, create_app

__all__ = ["MAX_BODY_BYTES", "create_app"]
