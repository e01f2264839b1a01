"""The database engine: SQLite (embedded default) or PostgreSQL, one code path above the dialect."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

#: Seconds a SQLite connection waits for another process's write lock before failing.
SQLITE_BUSY_TIMEOUT: Final = 30


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside one writer; busy_timeout makes writers of other processes queue."""
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", f"busy_timeout={SQLITE_BUSY_TIMEOUT * 1000}", "synchronous=NORMAL",
                   "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


class Database:
    """An async engine plus the few places where SQLite and PostgreSQL differ (upsert, locking)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @classmethod
    def connect(cls, url: str) -> Database:
        """An engine for ``url``; for a SQLite file its directory is created (mode 0700)."""
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT})
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            engine = create_async_engine(url, pool_pre_ping=True)
        return cls(engine)

    def begin(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection in a transaction, committed on success (``async with db.begin() as conn``)."""
        return self.engine.begin()

    def insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT that supports ``on_conflict_do_update``/``on_conflict_do_nothing`` on this dialect."""
        return postgresql.insert(table) if self.dialect == "postgresql" else sqlite.insert(table)

    async def lock_for_writing(self, conn: AsyncConnection, key: int) -> None:
        """Serialise writers across processes for the rest of ``conn``'s transaction.

        SQLite: take the database write lock now (BEGIN IMMEDIATE). PostgreSQL: a transaction-level
        advisory lock on ``key``.
        """
        if self.dialect == "sqlite":
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({int(key)})")

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
