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
  The hot single statements (:class:`Prepared`, run by :meth:`Database.first`, :meth:`Database.all` and
  :meth:`Database.run`) go straight to asyncpg on a pool of its own: compiled by SQLAlchemy once, prepared once per
  connection by asyncpg's statement cache, so each call costs a bind and one round trip (about a fifth of the CPU
  of the asyncio layer's path).

A lost or refused PostgreSQL connection raises :class:`DatabaseUnavailable` (answered 503 with ``Retry-After`` by
:func:`servicekit.http.errors.exception_handlers`); both pools drop dead connections and reconnect on later use, so
a restarted server needs no restart of the workers.

Usage::

    db = Database.connect("sqlite:///var/service.sqlite3")  # or "postgresql+asyncpg://user@host/name"
    async with db.connection() as conn:
        row = (await conn.execute(select(table).where(table.c.id == key))).first()
    async with db.begin() as conn:
        await db.lock_for_writing(conn, LOCK_KEY)
        await conn.execute(update(table).values(...))
    found = await db.first(FIND, {"b_id": key})          # FIND = Prepared(select(...)), built once per module
    await db.dispose()
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar

import asyncpg
from sqlalchemy import Connection as SyncConnection
from sqlalchemy import CursorResult, Executable, Select, Table, bindparam, create_engine, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

#: Seconds a SQLite connection waits for another process's write lock before failing.
SQLITE_BUSY_TIMEOUT: Final = 30
_SQLITE_PRAGMAS: Final = ("journal_mode=WAL", f"busy_timeout={SQLITE_BUSY_TIMEOUT * 1000}", "synchronous=NORMAL",
                          "foreign_keys=ON")
#: Seconds after which a pooled PostgreSQL connection is replaced. No ping before each use (it doubled the cost of
#: a statement): a connection found dead fails its one statement, and SQLAlchemy then drops the whole pool.
_PG_RECYCLE: Final = 1800
#: Connections per process in each PostgreSQL pool (the asyncio engine's, and the one for :class:`Prepared`), unless
#: :meth:`Database.connect` is given another: each worker process has its own pools, so a deployment's total is
#: workers x 2 x this (plus the engine's overflow of as many again at peaks, and one per :class:`Watch`), within
#: PostgreSQL's max_connections.
PG_POOL_SIZE: Final = 10
#: Seconds to wait for a PostgreSQL connection before answering that the database is unavailable.
_PG_CONNECT_TIMEOUT: Final = 5.0
#: Seconds a :class:`Watch` whose connection could not be opened waits before trying again (meanwhile caches read
#: through).
WATCH_RETRY_SECONDS: Final = 1.0
#: Seconds a client should wait before retrying when the database was unavailable (``Retry-After``).
RETRY_AFTER_SECONDS: Final = 2
T = TypeVar("T")
#: The values of a statement's bound parameters, or a list of them (an ``executemany``).
_Parameters = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


class DatabaseUnavailable(Exception):
    """The database cannot be reached now (connection refused, lost, or the server shutting down or starting):
    a temporary condition, answered 503 with ``Retry-After`` (RFC 9110 §15.6.4, §10.2.3)."""


class Prepared:
    """A statement built once and run with only its values bound (:meth:`Database.first`, :meth:`Database.run`).

    On PostgreSQL through asyncpg it is compiled once per set of value names (an INSERT's columns come from them)
    into ``$n`` SQL, and asyncpg prepares it once per connection; values pass through the column types' bind
    processors, results come as the driver decodes them (JSON documents, aware datetimes). Elsewhere it runs as the
    SQLAlchemy statement it is. Rows are tuples in the order of the statement's columns::

        FIND = Prepared(select(t.c.a, t.c.b).where(t.c.id == bindparam("b_id")))
        row = await db.first(FIND, {"b_id": key})        # (a, b) or None
    """

    __slots__ = ("_compiled", "reads_only", "statement")

    def __init__(self, statement: Executable, *, reads_only: bool | None = None) -> None:
        self.statement = statement
        # so sending it twice changes nothing (a SELECT whose WITH writes is not: say reads_only=False)
        self.reads_only = isinstance(statement, Select) if reads_only is None else reads_only
        self._compiled: dict[frozenset[str], _Compiled] = {}

    def compiled(self, dialect: Any, names: frozenset[str]) -> _Compiled:
        """The statement's SQL for ``dialect`` and values named ``names`` (memoised)."""
        found = self._compiled.get(names)
        if found is None:
            found = self._compiled[names] = _Compiled.build(self.statement, dialect, names)
        return found


class _Compiled:
    """One compiled form of a :class:`Prepared`: its SQL, and how values become the positional arguments."""

    __slots__ = ("_defaults", "_order", "_processors", "sql")

    def __init__(self, compiled: Any, dialect: Any) -> None:
        self._defaults: dict[str, Any] = compiled.construct_params(_check=False)  # values built into the statement
        self.sql: str = compiled.string
        self._order: tuple[str, ...] = tuple(compiled.positiontup or ())
        self._processors = tuple(compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
                                 for name in self._order)

    @classmethod
    def build(cls, statement: Executable, dialect: Any, names: frozenset[str]) -> _Compiled:
        return cls(statement.compile(dialect=dialect, column_keys=sorted(names)), dialect)  # type: ignore[attr-defined]

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        arguments = []
        for name, process in zip(self._order, self._processors, strict=True):
            value = values[name] if name in values else self._defaults[name]
            arguments.append(value if process is None else process(value))
        return arguments


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
    def connect(cls, url: str, *, pool_size: int = PG_POOL_SIZE) -> Database:
        """A database for ``url`` (any SQLite URL, or PostgreSQL through asyncpg or psycopg); for a SQLite file
        its directory is created (mode 0700). ``pool_size``: PostgreSQL connections per process in each pool.
        Nothing connects until the first statement."""
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            return SqliteDatabase(parsed.database or ":memory:")
        if parsed.get_driver_name() == "asyncpg":
            connect_args: dict[str, Any] = {"timeout": _PG_CONNECT_TIMEOUT}
        else:
            connect_args = {"connect_timeout": int(_PG_CONNECT_TIMEOUT)}
        engine = create_async_engine(url, pool_recycle=_PG_RECYCLE, pool_size=pool_size, connect_args=connect_args)
        direct = parsed.set(drivername="postgresql").render_as_string(hide_password=False) \
            if parsed.get_driver_name() == "asyncpg" else None
        return PostgresDatabase(engine, direct, pool_size)

    @abstractmethod
    def connection(self) -> AbstractAsyncContextManager[Connection]:
        """A connection in autocommit mode (``async with db.connection() as conn``)."""

    @abstractmethod
    def begin(self) -> AbstractAsyncContextManager[Connection]:
        """A connection in a transaction, committed on success (``async with db.begin() as conn``)."""

    def insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT that supports ``on_conflict_do_update``/``on_conflict_do_nothing`` on this dialect."""
        return postgresql.insert(table) if self.dialect == "postgresql" else sqlite.insert(table)

    async def first(self, statement: Prepared, values: Mapping[str, Any]) -> Sequence[Any] | None:
        """The first row ``statement`` gives with ``values`` (autocommit), or None."""
        async with self.connection() as conn:
            return (await conn.execute(statement.statement, values)).first()

    async def all(self, statement: Prepared, values: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
        """Every row ``statement`` gives with ``values`` (autocommit)."""
        async with self.connection() as conn:
            return (await conn.execute(statement.statement, values)).all()

    async def run(self, statement: Prepared, values: Mapping[str, Any]) -> int:
        """Run ``statement`` with ``values`` (autocommit); the number of rows it changed."""
        async with self.connection() as conn:
            return int((await conn.execute(statement.statement, values)).rowcount)

    def watch(self, channel: str, on_notice: Callable[[str | None], None] | None = None) -> Watch:
        """A :class:`Watch` on ``channel``: it tells a cache in this process when a transaction of any process that
        called :meth:`announce` (or :meth:`notify`) on ``channel`` committed, and calls ``on_notice`` with each
        notice's payload (None: notices may have been missed). Only PostgreSQL through asyncpg can: elsewhere the
        watch is never up, and a cache must read through."""
        return Watch(channel, None, on_notice)

    async def announce(self, conn: Connection, channel: str, payload: str = "") -> None:
        """In ``conn``'s transaction (of :meth:`begin`): tell every :meth:`watch` on ``channel`` of every process,
        when the transaction commits, that what it covers changed (nothing on SQLite, where nothing watches)."""
        return None

    async def notify(self, channel: str, payload: str = "") -> None:
        """:meth:`announce` outside a transaction: every :meth:`watch` on ``channel`` is told now (after what this
        process wrote before the call, each statement committed on its own)."""
        return None

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


#: :meth:`PostgresDatabase.notify` (a notice is harmless twice, but it is no read).
_NOTIFY: Final = Prepared(select(func.pg_notify(bindparam("channel"), bindparam("payload"))), reads_only=False)


class PostgresDatabase(Database):
    """PostgreSQL on SQLAlchemy's asyncio engine; autocommit connections share the engine's pool. With asyncpg,
    :class:`Prepared` statements run on a pool of raw asyncpg connections (``direct``: its DSN)."""

    dialect = "postgresql"

    def __init__(self, engine: AsyncEngine, direct: str | None = None, pool_size: int = PG_POOL_SIZE) -> None:
        self._engine = engine
        self._pool_size = pool_size
        event.listen(engine.sync_engine, "checkout", _replace_if_closed)
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._direct = direct
        self._pool: _Connections | None = None
        self._pool_loop: asyncio.AbstractEventLoop | None = None
        self._watches: list[Watch] = []

    @asynccontextmanager
    async def _unavailable_when_disconnected(self) -> AsyncIterator[None]:
        """Turn a lost connection (from asyncpg directly or wrapped by SQLAlchemy) into :class:`DatabaseUnavailable`,
        after marking every pooled connection of both pools stale: a server that restarted cut them all, and one
        left idle meanwhile would fail its next statement long after the server is back."""
        try:
            yield
        except DBAPIError as exc:
            if not (exc.connection_invalidated or isinstance(exc.orig, _DISCONNECTED)
                    or isinstance(getattr(exc.orig, "__cause__", None), _DISCONNECTED)):
                raise
            await self._renew_pools()
            raise DatabaseUnavailable(_name(exc.orig or exc)) from exc
        except _DISCONNECTED as exc:
            await self._renew_pools()
            raise DatabaseUnavailable(_name(exc)) from exc

    async def _renew_pools(self) -> None:
        if self._pool is not None and self._pool_loop is asyncio.get_running_loop():
            self._pool.expire()
        await self._engine.dispose(close=False)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        async with self._unavailable_when_disconnected(), self._autocommit.connect() as conn:
            yield _AsyncConnection(conn)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[Connection]:
        async with self._unavailable_when_disconnected(), self._engine.begin() as conn:
            yield _AsyncConnection(conn)

    def _direct_pool(self) -> _Connections:
        loop = asyncio.get_running_loop()
        if self._pool is None or self._pool_loop is not loop:  # a pool belongs to one event loop
            assert self._direct is not None
            self._pool, self._pool_loop = _Connections(self._direct, self._pool_size), loop
        return self._pool

    async def first(self, statement: Prepared, values: Mapping[str, Any]) -> Sequence[Any] | None:
        if self._direct is None:
            return await super().first(statement, values)
        row: Sequence[Any] | None = await self._on_asyncpg(statement, values, "fetchrow")
        return row

    async def all(self, statement: Prepared, values: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
        if self._direct is None:
            return await super().all(statement, values)
        rows: Sequence[Sequence[Any]] = await self._on_asyncpg(statement, values, "fetch")
        return rows

    async def run(self, statement: Prepared, values: Mapping[str, Any]) -> int:
        if self._direct is None:
            return await super().run(statement, values)
        status: str = await self._on_asyncpg(statement, values, "execute")
        count = status.rpartition(" ")[2]  # "UPDATE 1", "INSERT 0 1", "DELETE 3"
        return int(count) if count.isdigit() else 0

    async def _on_asyncpg(self, statement: Prepared, values: Mapping[str, Any], method: str) -> Any:
        """``connection.method(sql, *arguments)`` on a pooled asyncpg connection. A connection found dead is
        replaced and the statement sent once more when that cannot run it twice: a read, or a connection that
        refused it before sending (asyncpg's InterfaceError); else the caller gets :class:`DatabaseUnavailable`."""
        compiled = statement.compiled(self._engine.dialect, frozenset(values))
        arguments = compiled.arguments(values)
        async with self._unavailable_when_disconnected():
            for last in (False, True):
                pool = self._direct_pool()
                try:
                    async with pool.connection() as conn:
                        return await getattr(conn, method)(compiled.sql, *arguments)
                except _DISCONNECTED as exc:
                    if last or not (statement.reads_only or isinstance(exc, asyncpg.InterfaceError)):
                        raise
                    await self._renew_pools()

    async def lock_for_writing(self, conn: Connection, key: int) -> None:
        await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({int(key)})")

    def watch(self, channel: str, on_notice: Callable[[str | None], None] | None = None) -> Watch:
        watch = Watch(channel, self._direct, on_notice)
        self._watches.append(watch)
        return watch

    async def announce(self, conn: Connection, channel: str, payload: str = "") -> None:
        await conn.execute(select(func.pg_notify(channel, payload)))

    async def notify(self, channel: str, payload: str = "") -> None:
        await self.first(_NOTIFY, {"channel": channel, "payload": payload})

    async def dispose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None and self._pool_loop is asyncio.get_running_loop():
            await pool.close()
        for watch in self._watches:
            await watch.close()
        await self._engine.dispose()


class Watch:
    """Whether what this process cached from the database about ``channel`` may still be used.

    On PostgreSQL through asyncpg, a connection of its own ``LISTEN``s on the channel (opened on first use,
    reopened after it is lost, at most once per :data:`WATCH_RETRY_SECONDS`); :attr:`generation` moves on every
    notification (:meth:`Database.announce`, delivered when the writer's transaction commits), when the connection
    is lost and when :meth:`changed` is called. A cache keeps an entry with the generation it read it under and uses
    it only while :meth:`up` and the generation is the same; an entry read while the generation moved is not kept
    (it may predate the change). Elsewhere the watch is never up::

        watch = db.watch("clients")
        generation = watch.generation
        value = await read()                       # from the database
        if await watch.up() and generation == watch.generation:
            cache[key] = (generation, value)

    A waiter rather than a cache gives ``on_notice``: it is called with each notification's payload, and with None
    when the connection is lost (notices may have been missed), in the event loop, so it must not block::

        watch = db.watch("card_login", on_notice=heard)   # heard(uid), or heard(None): wake every waiter
    """

    def __init__(self, channel: str, dsn: str | None,
                 on_notice: Callable[[str | None], None] | None = None) -> None:
        self.channel = channel
        self.generation = 0
        self._dsn = dsn
        self._on_notice = on_notice
        self._conn: asyncpg.Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None
        self._retry_at = 0.0

    def changed(self, *_: object) -> None:
        """What this process changed itself (its own notification comes too, later): forget at once."""
        self.generation += 1

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self.generation += 1
        if self._on_notice is not None:
            self._on_notice(payload)

    def _lost(self, *_: object) -> None:
        self._conn = None
        self.generation += 1
        if self._on_notice is not None:
            self._on_notice(None)

    async def up(self) -> bool:
        """Whether notifications are being received now (connecting first when they are not)."""
        if self._dsn is None:
            return False
        loop = asyncio.get_running_loop()
        if self._conn is not None and self._loop is loop and not self._conn.is_closed():
            return True
        if loop.time() < self._retry_at:
            return False
        if self._lock is None or self._loop is not loop:  # a connection and a lock belong to one event loop
            self._lock, self._loop, self._conn = asyncio.Lock(), loop, None
        async with self._lock:
            if self._conn is None or self._conn.is_closed():
                self._lost()
                try:
                    conn = await asyncpg.connect(self._dsn, timeout=_PG_CONNECT_TIMEOUT)
                    conn.add_termination_listener(self._lost)
                    await conn.add_listener(self.channel, self._notified)
                except (*_DISCONNECTED, asyncpg.PostgresError):
                    self._retry_at = loop.time() + WATCH_RETRY_SECONDS
                    return False
                self._conn = conn
                self.generation += 1  # anything read before now may predate a missed notification
        return True

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and self._loop is asyncio.get_running_loop():
            conn.remove_termination_listener(self._lost)
            await conn.close()


def _replace_if_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """SQLAlchemy's pool hands out no connection the driver already knows closed (the server restarted while it
    sat in the pool): the pool replaces it, at no round trip (a ping before each use would cost one)."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    is_closed = getattr(driver, "is_closed", None)  # asyncpg
    if (is_closed() if callable(is_closed) else getattr(driver, "closed", False) is True):  # psycopg: .closed
        raise DisconnectionError("the connection was closed by the server")


async def _json_codecs(conn: asyncpg.Connection) -> None:
    """JSON documents arrive serialised by the column type's bind processor and leave decoded."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=str, decoder=json.loads, schema="pg_catalog")


class _Connections:
    """Up to ``size`` asyncpg connections of one process and event loop, for :class:`Prepared` statements.

    Taken and given back as plainly as a list allows: asyncpg's own pool spends about as much CPU per use as the
    statement itself (a task per release, an idle timer per connection, a reset query unless told otherwise), and
    these connections hold no session state to reset (single autocommit statements: no transaction, LISTEN,
    cursor, setting or advisory lock). A connection given back after an error (a cancelled or interrupted
    statement may leave it mid-protocol) is closed, as is every connection after :meth:`expire` (the server went
    away). Callers queue when all ``size`` are in use."""

    def __init__(self, dsn: str, size: int) -> None:
        self._dsn, self._size = dsn, size
        self._idle: list[asyncpg.Connection] = []
        self._open = 0  # connections in use, idle, or being opened
        self._waiters: deque[asyncio.Future[asyncpg.Connection | None]] = deque()
        self._generation = 0  # moved by expire(): connections of an older one are closed when given back

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        conn, generation = await self._take(), self._generation
        try:
            yield conn
        except asyncpg.PostgresError:  # the server refused the statement: the connection is as good as before
            self._return(conn, generation)
            raise
        except BaseException:
            self._discard(conn)
            raise
        self._return(conn, generation)

    def _return(self, conn: asyncpg.Connection, generation: int) -> None:
        if generation != self._generation or conn.is_closed() or conn.is_in_transaction():
            self._discard(conn)
        else:
            self._give_back(conn)

    async def _take(self) -> asyncpg.Connection:
        while self._idle:
            conn = self._idle.pop()
            if not conn.is_closed():
                return conn
            self._open -= 1
        if self._open >= self._size:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                handed = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():  # handed over just as the wait was cancelled
                    given = waiter.result()
                    if given is None:
                        self._open -= 1
                        self._wake()
                    else:
                        self._give_back(given)
                raise
            if handed is not None:
                return handed
            # else: a connection was closed and its place handed over: open one in it (counted already)
        else:
            self._open += 1
        try:
            conn = await asyncpg.connect(self._dsn, timeout=_PG_CONNECT_TIMEOUT)
            await _json_codecs(conn)
        except BaseException:
            self._open -= 1
            self._wake()
            raise
        return conn

    def _give_back(self, conn: asyncpg.Connection) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append(conn)

    def _discard(self, conn: asyncpg.Connection) -> None:
        conn.terminate()
        self._open -= 1
        self._wake()

    def _wake(self) -> None:
        """A place became free: the first waiter opens a connection in it."""
        while self._waiters and self._open < self._size:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._open += 1
                waiter.set_result(None)
                return

    def expire(self) -> None:
        """Close every idle connection now and every connection in use when it is given back."""
        self._generation += 1
        idle, self._idle = self._idle, []
        for conn in idle:
            self._discard(conn)

    async def close(self) -> None:
        self.expire()


#: What a lost, refused or shutting-down PostgreSQL connection raises (asyncpg's class 08 and 57P0x errors).
_DISCONNECTED: Final = (OSError, asyncio.TimeoutError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                        asyncpg.exceptions.OperatorInterventionError)


def _name(exc: BaseException) -> str:
    """An exception's class with its module (asyncpg's and SQLAlchemy's adapter's InterfaceError differ) and the
    start of its message (a connection error's says which: refused, closed, shutting down; no statement values)."""
    return f"{type(exc).__module__}.{type(exc).__qualname__}: {str(exc)[:80]}"
