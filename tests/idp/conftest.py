"""Fixtures for the provider's tests: every storage test runs on SQLite and on PostgreSQL (``postgres``: the
session's cluster, from ``tests/conftest.py``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from idp.settings import Settings, load_settings
from idp.storage import Database, migrate
from tests.idp.plans import planned  # noqa: F401 (a fixture of the plan tests)

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """A migrated database."""
    database = Database.connect(db_url)
    await migrate(database)
    yield database
    await database.dispose()


def settings_for(tmp_path: Path, db_url: str | None = None, **env: str) -> Settings:
    """Settings as the environment would give them, with the data directory in ``tmp_path``."""
    environ = {"MYNACARD_DATA_DIR": str(tmp_path / "var"), **env}
    if db_url is not None:
        environ["MYNACARD_DATABASE_URL"] = db_url
    return load_settings(environ=environ)
