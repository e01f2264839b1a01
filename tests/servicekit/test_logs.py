"""``servicekit.logs``: one JSON line per record, UTC with milliseconds, lower-case levels, extra fields kept,
the libraries that log addresses, URLs or SQL parameters quieted."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys

from servicekit.logs import JsonFormatter, logging_config


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord("idp.app", logging.WARNING, __file__, 1, "hello %s", ("world",), None)
    record.created = dt.datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=dt.UTC).timestamp()
    record.__dict__.update(extra)
    return record


def test_one_json_line() -> None:
    line = JsonFormatter().format(_record(event="started", workers=4, _private="x", color_message="ansi"))
    assert "\n" not in line
    assert json.loads(line) == {"time": "2026-01-02T03:04:05.678+00:00", "level": "warning", "logger": "idp.app",
                                "message": "hello world", "event": "started", "workers": 4}


def test_exceptions_and_odd_values() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = _record(path=object())
        record.exc_info = sys.exc_info()
    document = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in document["exception"]
    assert document["path"].startswith("<object object")


def test_logging_config() -> None:
    config = logging_config("DEBUG")
    assert config["root"] == {"handlers": ["stderr"], "level": "DEBUG"}
    assert config["formatters"]["json"]["()"] is JsonFormatter
    quiet = {name for name, c in config["loggers"].items() if c["level"] == "WARNING"}
    assert quiet == {"uvicorn.access", "alembic", "httpx", "sqlalchemy.engine"}
    assert config["loggers"]["uvicorn.access"]["propagate"] is False
