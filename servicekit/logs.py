"""Structured JSON logs of both services, one object per line on standard error.

Log records carry only what operators need: event names, route templates, status codes, key ids, reason
codes, counts. Never query strings, client addresses, tokens, PINs, claims or personal data; callers pass
fields through ``extra=`` and :class:`JsonFormatter` adds them as JSON members. Times are UTC with
milliseconds; levels are lower case (``"info"``).

Usage::

    configure_logging("INFO")                               # this process
    uvicorn.run(..., log_config=logging_config("INFO"))     # every uvicorn worker
    logging.getLogger("idp.app").info("started", extra={"workers": 4})
    # {"time": "2026-01-02T03:04:05.678+00:00", "level": "info", "logger": "idp.app", "message": "started",
    #  "workers": 4}
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import logging.config
from typing import Any, Final

#: LogRecord attributes that are not extra fields (plus uvicorn's ANSI-coloured duplicate message, and
#: ``taskName``, which Python 3.12 adds).
_RESERVED: Final = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message", "asctime", "color_message", "taskName"}


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", …extra, "exception"?}`` as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        document.update((k, v) for k, v in record.__dict__.items() if k not in _RESERVED and not k.startswith("_"))
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str, ensure_ascii=False)


def logging_config(level: str) -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` mapping for our loggers and the libraries'. uvicorn's access log
    and httpx's request lines are off: they carry query strings and addresses (the services log requests
    themselves, by route template, if at all)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
            "alembic": {"handlers": [], "propagate": True, "level": "WARNING"},
            "httpx": {"handlers": [], "propagate": True, "level": "WARNING"},  # its INFO lines carry full URLs
            # their DEBUG/INFO lines carry SQL parameters: stored payloads, which may hold personal data
            "sqlalchemy.engine": {"handlers": [], "propagate": True, "level": "WARNING"},
        },
    }


def configure_logging(level: str) -> None:
    """Send every log record through :class:`JsonFormatter` at ``level``."""
    logging.config.dictConfig(logging_config(level))
