"""Logging for app and workers: JSON lines in production (one object per line, with the
operation, actor and pool a line is about), readable text in the demo.

No secret reaches a log line: every line (message and traceback) goes through mask_secrets, which
hides the password of any URL (postgresql://user:***@host, redis://:***@host) and any
password=/secret=/token= setting, whoever logged it (our code, SQLAlchemy, psycopg, RQ, redis-py).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("log_context", default=None)
FIELDS = ("operation_id", "actor_id", "pool_id")

# scheme://user:password@host (the user may be empty, as in redis://:password@host)
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*):(?P<secret>[^\s/?#]+)@")
# password=..., secret: ..., token=..., in libpq DSNs, query strings, reprs; with any prefix joined by
# an underscore (client_secret, OIDC_CLIENT_SECRET, id_token, refresh_token)
_KEY_VALUE = re.compile(
    r"(?P<head>\b(?:\w*_)?(?:password|passwd|pwd|secret|token|api_key)\b['\"]?\s*[=:]\s*['\"]?)"
    r"(?P<secret>[^\s&;,'\")]+)",
    re.IGNORECASE,
)


def mask_secrets(text: str) -> str:
    """The text with every password in a URL or a password=... setting replaced by ***."""
    if not text:
        return text
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}:***@", text)
    return _KEY_VALUE.sub(lambda m: f"{m['head']}***", text)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Everything logged inside the block carries these fields (operation_id, actor_id, pool_id)."""
    token = _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Copies the log_context fields onto every record a handler emits (configure() installs it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_context.get() or {}).items():
            setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_secrets(record.getMessage()),
        }
        for key in FIELDS:
            if hasattr(record, key):
                line[key] = str(getattr(record, key))
        if record.exc_info:
            line["exception"] = mask_secrets(self.formatException(record.exc_info))
        return json.dumps(line)


class TextFormatter(logging.Formatter):
    """Readable lines for people, secrets masked like the JSON ones."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return mask_secrets(super().format(record))


def configure(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
