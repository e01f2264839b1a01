"""Migrations: idempotent, safe to run concurrently, in step with the table definitions, and side by side with the
verifier service's in one database."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from credentials.verifier.store import MIGRATIONS as VERIFIER_MIGRATIONS
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
        assert list(await asyncio.gather(migrate(first), migrate(second))) == [head_revision(), head_revision()]
        assert await migrate(first) == head_revision()
        async with first.connection() as conn:
            assert await conn.run_sync(_differences) == []
    finally:
        await first.dispose()
        await second.dispose()


def _versions(connection: Connection) -> dict[str, str]:
    tables = ("alembic_version", VERIFIER_MIGRATIONS.version_table)
    assert set(tables) <= set(inspect(connection).get_table_names())
    return {table: connection.execute(text(f"SELECT version_num FROM {table}")).scalar_one() for table in tables}


async def test_provider_and_verifier_share_one_database(db_url: str) -> None:
    """Each service keeps its revision in its own table under its own lock: migrating both at once, in either
    order, reaches both heads."""
    provider, verifier = Database.connect(db_url), Database.connect(db_url)
    try:
        assert list(await asyncio.gather(migrate(provider), VERIFIER_MIGRATIONS.migrate(verifier))) == [
            head_revision(), VERIFIER_MIGRATIONS.head_revision()]
        assert await VERIFIER_MIGRATIONS.migrate(provider) == VERIFIER_MIGRATIONS.head_revision()
        assert await migrate(verifier) == head_revision()
        async with provider.connection() as conn:
            assert await conn.run_sync(_versions) == {
                "alembic_version": head_revision(), "verifier_alembic_version": VERIFIER_MIGRATIONS.head_revision()}
    finally:
        await provider.dispose()
        await verifier.dispose()
