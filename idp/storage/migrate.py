"""Schema migrations (Alembic, scripts inside this package), applied at start-up or by ``idp migrate``.

Concurrent starts are safe: the upgrade runs under a cross-process write lock, so a second process
waits and then finds nothing to do.
"""

from __future__ import annotations

from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from idp.storage.database import Database

_LOCK_KEY: Final = 0x6D796E61  # "myna": the advisory lock serialising migrations on PostgreSQL


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", "idp.storage:migrations")
    return config


def head_revision() -> str | None:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def _upgrade(connection: Connection) -> None:
    config = _config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(db: Database) -> str | None:
    """The revision the database is at (None when empty)."""
    async with db.connection() as conn:
        return await conn.run_sync(_current)


async def migrate(db: Database) -> str | None:
    """Upgrade the database to :func:`head_revision`; return the revision reached."""
    async with db.begin() as conn:
        await db.lock_for_writing(conn, _LOCK_KEY)
        await conn.run_sync(_upgrade)
    return await current_revision(db)
