"""The database: SQLite (embedded default) or PostgreSQL, one async API above the dialect.

Stores use two context managers, both yielding a :class:`Connection`:

* :meth:`Database.connection` — autocommit: each statement is its own transaction. For reads and for writes that
  are one statement (an ``INSERT … ON CONFLICT``, an ``UPDATE … RETURNING``), which are atomic by themselves.
* :meth:`Database.begin` — one transaction over several statements, committed on success, rolled back on error.
  Its body awaits only its statements: a transaction is never held open across other I/O.

How each dialect runs them:

* **SQLite** runs in the event loop's thread, through SQLAlchemy's synchronous pysqlite driver: a statement on a
  local file takes tens of microseconds, far less than handing it to a worker thread and back (what aiosqlite
  does, about ten times the cost of the statement). Each process keeps one connection, which its coroutines take
  in turn (:class:`asyncio.Lock`); WAL lets readers run beside the one writer, transactions start with
  ``BEGIN IMMEDIATE`` (the write lock up front, so two processes never deadlock upgrading a read lock), and a
  writer of another process is waited for up to :data:`SQLITE_BUSY_TIMEOUT`.
* **PostgreSQL** runs on SQLAlchemy's asyncio engine (asyncpg or psycopg), autocommit statements on a connection
  without ``BEGIN``/``ROLLBACK`` round trips and without a ping before each use, so a read costs one round trip.

Usage::

    db = Database.connect("sqlite:///var/service.sqlite3")  # or "postgresql+asyncpg://user@host/name"
    async with db.connection() as conn:
        row = (await conn.execute(select(table).where(table.c.id == key))).first()
    async with db.begin() as conn:
        await db.lock_for_writing(conn, LOCK_KEY)
        await conn.execute(update(table).values(...))
    await db.dispose()
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar

from sqlalchemy import Connection as SyncConnection
from sqlalchemy import CursorResult, Executable, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

#: Seconds a SQLite connection waits for another process's write lock before failing.
SQLITE_BUSY_TIMEOUT: Final = 30
_SQLITE_PRAGMAS: Final = ("journal_mode=WAL", f"busy_timeout={SQLITE_BUSY_TIMEOUT * 1000}", "synchronous=NORMAL",
                          "foreign_keys=ON")
#: Seconds after which a pooled PostgreSQL connection is replaced. No ping before each use (it doubled the cost of
#: a statement): a connection found dead fails its one statement, and SQLAlchemy then drops the whole pool.
_PG_RECYCLE: Final = 1800
T = TypeVar("T")
#: The values of a statement's bound parameters, or a list of them (an ``executemany``).
_Parameters = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


class Connection(Protocol):
    """What a store may do with a connection: run SQLAlchemy Core statements. Consume a result (``first``,
    ``all``, ``one``, ``rowcount``) before the next ``await``: on SQLite it reads from a live cursor."""

    async def execute(self, statement: Executable, parameters: _Parameters = None) -> CursorResult[Any]:
        """Run ``statement`` with the values of its bound ``parameters`` (a list of them: once per item)."""
        ...

    async def exec_driver_sql(self, sql: str) -> CursorResult[Any]:
        """Run a literal SQL string (no parameters)."""
        ...

    async def run_sync(self, fn: Callable[[SyncConnection], T]) -> T:
        """Call ``fn`` with the synchronous SQLAlchemy connection (Alembic, schema comparison)."""
        ...


class _InlineConnection:
    """A :class:`Connection` over a synchronous SQLAlchemy connection, run in the caller's thread."""

    def __init__(self, conn: SyncConnection) -> None:
        self._conn = conn

    async def execute(self, statement: Executable, parameters: _Parameters = None) -> CursorResult[Any]:
        return self._conn.execute(statement, parameters)

    async def exec_driver_sql(self, sql: str) -> CursorResult[Any]:
        return self._conn.exec_driver_sql(sql)

    async def run_sync(self, fn: Callable[[SyncConnection], T]) -> T:
        return fn(self._conn)


class _AsyncConnection:
    """A :class:`Connection` over an asyncio SQLAlchemy connection (its results are buffered already)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def execute(self, statement: Executable, parameters: _Parameters = None) -> CursorResult[Any]:
        return await self._conn.execute(statement, parameters)

    async def exec_driver_sql(self, sql: str) -> CursorResult[Any]:
        return await self._conn.exec_driver_sql(sql)

    async def run_sync(self, fn: Callable[[SyncConnection], T]) -> T:
        return await self._conn.run_sync(fn)


class Database(ABC):
    """Connections in autocommit mode or in a transaction, plus the few places where the dialects differ."""

    dialect: str

    @classmethod
    def connect(cls, url: str) -> Database:
        """A database for ``url`` (any SQLite URL, or PostgreSQL through asyncpg or psycopg); for a SQLite file
        its directory is created (mode 0700). Nothing connects until the first statement."""
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            return SqliteDatabase(parsed.database or ":memory:")
        return PostgresDatabase(create_async_engine(url, pool_recycle=_PG_RECYCLE))

    @abstractmethod
    def connection(self) -> AbstractAsyncContextManager[Connection]:
        """A connection in autocommit mode (``async with db.connection() as conn``)."""

    @abstractmethod
    def begin(self) -> AbstractAsyncContextManager[Connection]:
        """A connection in a transaction, committed on success (``async with db.begin() as conn``)."""

    def insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT that supports ``on_conflict_do_update``/``on_conflict_do_nothing`` on this dialect."""
        return postgresql.insert(table) if self.dialect == "postgresql" else sqlite.insert(table)

    @abstractmethod
    async def lock_for_writing(self, conn: Connection, key: int) -> None:
        """Serialise writers across processes for the rest of ``conn``'s transaction (a transaction of
        :meth:`begin`): on PostgreSQL a transaction-level advisory lock on ``key``; SQLite transactions hold the
        database's write lock from their start."""

    @abstractmethod
    async def dispose(self) -> None:
        """Close every connection."""


class SqliteDatabase(Database):
    """One SQLite file, one connection per process, statements run inline (see the module docstring)."""

    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self._engine: Engine = create_engine(
            f"sqlite+pysqlite:///{path}", poolclass=StaticPool, isolation_level="AUTOCOMMIT",
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT, "check_same_thread": False})
        event.listen(self._engine, "connect", _sqlite_pragmas)
        self._conn: SyncConnection | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self._holder: asyncio.Task[Any] | None = None

    def _turn(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:  # a lock belongs to one event loop
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    def _connection(self) -> SyncConnection:
        if self._conn is None or self._conn.closed:
            self._conn = self._engine.connect()
        return self._conn

    @asynccontextmanager
    async def _held(self) -> AsyncIterator[SyncConnection]:
        task = asyncio.current_task()
        if task is not None and task is self._holder:
            raise RuntimeError("nested database use: finish the open connection or transaction first")
        async with self._turn():
            self._holder = task
            try:
                yield self._connection()
            finally:
                self._holder = None

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        async with self._held() as conn:
            yield _InlineConnection(conn)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[Connection]:
        async with self._held() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield _InlineConnection(conn)
            except BaseException:
                if conn.connection.dbapi_connection is not None and conn.connection.dbapi_connection.in_transaction:
                    conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")

    async def lock_for_writing(self, conn: Connection, key: int) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` took the write lock."""

    async def dispose(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._engine.dispose()


class PostgresDatabase(Database):
    """PostgreSQL on SQLAlchemy's asyncio engine; autocommit connections share the engine's pool."""

    dialect = "postgresql"

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        async with self._autocommit.connect() as conn:
            yield _AsyncConnection(conn)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[Connection]:
        async with self._engine.begin() as conn:
            yield _AsyncConnection(conn)

    async def lock_for_writing(self, conn: Connection, key: int) -> None:
        await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({int(key)})")

    async def dispose(self) -> None:
        await self._engine.dispose()
