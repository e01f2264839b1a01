"""Schema migrations (Alembic): a service's scripts, applied at start-up or by its ``migrate`` command.

A service names its script directory, the advisory-lock key that serialises its migrations on PostgreSQL and the
table that records its revision, so several services can keep their schemas in one PostgreSQL database without
colliding: each has its own tables, its own revision history and its own lock. Concurrent starts are safe: the
upgrade runs under a cross-process write lock (:meth:`~servicekit.database.Database.lock_for_writing`), so a second
process waits and then finds nothing to do. Within a process, runs take turns: Alembic's ``context`` and ``op`` are
process-wide, and a run on an asyncio connection yields to the event loop between its statements.

Usage::

    MIGRATIONS = Migrations("myservice.storage:migrations", lock_key=0x6D797376,
                            version_table="myservice_alembic_version")
    await MIGRATIONS.migrate(db)  # at start-up: returns the revision reached

and the script directory's ``env.py`` is two lines::

    from servicekit.migrations import run_environment
    run_environment()
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from typing import Final

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from servicekit.database import Database

_CONNECTION = "connection"
_VERSION_TABLE = "version_table"
#: One Alembic run at a time per event loop (module docstring).
_TURNS: Final[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class Baseline:
    """A schema made before the service had migrations (``metadata.create_all``): a database that has ``table``
    but no revision recorded is at ``revision``, which is stamped before upgrading."""

    table: str
    revision: str


@dataclass(frozen=True, slots=True)
class Migrations:
    """The Alembic scripts of one service (``script_location``, ``package:directory``) and where they record
    their revision (``version_table``) and lock (``lock_key``, a PostgreSQL advisory lock)."""

    script_location: str
    lock_key: int
    version_table: str = "alembic_version"
    baseline: Baseline | None = None

    def config(self) -> Config:
        """The Alembic configuration (no ini file); :func:`run_environment` reads the version table from it."""
        config = Config()
        config.set_main_option("script_location", self.script_location)
        config.attributes[_VERSION_TABLE] = self.version_table
        return config

    def head_revision(self) -> str | None:
        """The newest revision the code knows."""
        return ScriptDirectory.from_config(self.config()).get_current_head()

    async def current_revision(self, db: Database) -> str | None:
        """The revision the database is at (None when none is recorded)."""
        async with db.connection() as conn:
            return await conn.run_sync(self._current)

    async def migrate(self, db: Database) -> str | None:
        """Upgrade the database to :meth:`head_revision`; return the revision reached."""
        async with _TURNS.setdefault(asyncio.get_running_loop(), asyncio.Lock()), db.begin() as conn:
            await db.lock_for_writing(conn, self.lock_key)
            await conn.run_sync(self._upgrade)
        return await self.current_revision(db)

    def _current(self, connection: Connection) -> str | None:
        return MigrationContext.configure(connection, opts={_VERSION_TABLE: self.version_table}).get_current_revision()

    def _upgrade(self, connection: Connection) -> None:
        config = self.config()
        config.attributes[_CONNECTION] = connection
        baseline = self.baseline
        if baseline is not None and self._current(connection) is None and inspect(connection).has_table(baseline.table):
            command.stamp(config, baseline.revision)
        command.upgrade(config, "head")


def run_environment() -> None:
    """The body of a script directory's ``env.py``: run the scripts on the connection :meth:`Migrations.migrate`
    passes in, recording the revision in its version table."""
    config = context.config
    connection = config.attributes.get(_CONNECTION)
    if not isinstance(connection, Connection):
        raise RuntimeError("run migrations through the service's migrate command (Migrations.migrate)")
    context.configure(connection=connection, target_metadata=None, render_as_batch=True,
                      version_table=config.attributes[_VERSION_TABLE])
    with context.begin_transaction():
        context.run_migrations()
