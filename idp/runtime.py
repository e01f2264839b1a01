"""What a provider process holds: settings, database, keyset and stores (:class:`Services`).

:func:`open_services` is shared by the application's lifespan and the admin commands, so both see
the same migrated database and the same keys. The clock lives here too: everything below takes time
as an argument.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from idp.settings import Settings
from idp.signing import build_keyset
from idp.storage import ClientStore, Database, ObjectStore, current_revision, head_revision, migrate
from idp.vci.service import Vci, open_vci
from keys.service.keyset import Keyset

_log = logging.getLogger("idp.runtime")


class StartupError(Exception):
    """The process cannot start (for instance, the schema is behind and migrations are disabled)."""


def utcnow() -> dt.datetime:
    """The current time, aware UTC."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a request handler or command may use."""

    settings: Settings
    db: Database
    keyset: Keyset
    objects: ObjectStore
    clients: ClientStore
    #: The credential issuer (OID4VCI; idp.vci).
    vci: Vci | None = None


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """Open the database (migrating it when ``database.migrate_on_start``) and the keyset; close both."""
    db = Database.connect(settings.database_url)
    try:
        if settings.database.migrate_on_start:
            revision = await migrate(db)
            _log.info("database_ready", extra={"dialect": db.dialect, "revision": revision})
        elif (revision := await current_revision(db)) != head_revision():
            raise StartupError(f"database schema at {revision}, code expects {head_revision()}: run `idp migrate`")
        keyset = build_keyset(settings, db)
        vci = None
        try:
            vci = open_vci(settings, db, utcnow())
            yield Services(settings, db, keyset, ObjectStore(db), ClientStore(db), vci)
        finally:
            if vci is not None:
                vci.close()
            keyset.close()
    finally:
        await db.dispose()
