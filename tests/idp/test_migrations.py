"""Migrations: idempotent, safe to run concurrently, and in step with the table definitions."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from idp.storage import Database, current_revision, head_revision, migrate
from idp.storage.tables import metadata

pytestmark = pytest.mark.anyio


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_concurrent_migrations_reach_head_once(db_url: str) -> None:
    first, second = Database.connect(db_url), Database.connect(db_url)
    try:
        assert await current_revision(first) is None
        assert await asyncio.gather(migrate(first), migrate(second)) == [head_revision(), head_revision()]
        assert await migrate(first) == head_revision()
        async with first.connection() as conn:
            assert await conn.run_sync(_differences) == []
    finally:
        await first.dispose()
        await second.dispose()
