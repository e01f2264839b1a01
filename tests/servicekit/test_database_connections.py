"""The prepared statements' own asyncpg connections on a real PostgreSQL: at most ``pool_size`` per process,
callers beyond that queue; a connection whose statement was cancelled is closed and its place reopened; one whose
statement the server refused is used again."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import bindparam, func, literal_column, select, text

from servicekit.database import Database, Prepared
from tests.support.postgres import Cluster

pytestmark = pytest.mark.anyio
_SLEEP = Prepared(select(func.pg_sleep(bindparam("seconds")), func.pg_backend_pid()))
_BACKEND = Prepared(select(func.pg_backend_pid()))
_DIVIDE = Prepared(select(literal_column("1") / bindparam("by")))


async def _connections(db: Database) -> int:
    async with db.connection() as conn:
        return int((await conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = '' AND pid <> pg_backend_pid() AND backend_type = 'client backend'"))).scalar())


async def test_callers_queue_for_the_connections_and_errors_are_handled(postgres: Cluster) -> None:
    db = Database.connect(postgres.create_database(), pool_size=2)
    try:
        rows = await asyncio.gather(*(db.first(_SLEEP, {"seconds": 0.05}) for _ in range(8)))
        assert len({row[1] for row in rows if row is not None}) == 2  # eight statements, two connections
        assert await _connections(db) == 2

        cancelled = asyncio.create_task(db.first(_SLEEP, {"seconds": 5}))
        await asyncio.sleep(0.3)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        # its connection was closed (mid-statement) and its place reopened: two callers at once are served
        answers = await asyncio.wait_for(asyncio.gather(*(db.first(_SLEEP, {"seconds": 0.2}) for _ in range(2))), 2)
        assert len({row[1] for row in answers if row is not None}) == 2

        backend = await db.first(_BACKEND, {})
        with pytest.raises(Exception, match="division by zero"):
            await db.first(_DIVIDE, {"by": 0})
        assert await db.first(_BACKEND, {}) == backend  # kept after the server's refusal (one idle: the same)
    finally:
        await db.dispose()
