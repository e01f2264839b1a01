"""What a provider process holds: settings, database, keyset and stores (:class:`Services`).

:func:`open_services` is shared by the application's lifespan and the admin commands, so both see
the same migrated database and the same keys. The clock lives here too: everything below takes time
as an argument.

Features above the protocol (the credential issuer, :mod:`idp.vci`) are *extensions*: ``open_services`` takes
their openers, and the composition layer (:func:`idp.app.provider_services`) passes them, so this module (and
everything in :mod:`idp.oauth`) never names a feature. A feature finds its part by type::

    async with open_services(settings, extensions=(open_vci,)) as services:
        vci = services.extension(Vci)  # the Vci instance, or None when it was not opened
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar

from idp.settings import Settings, outbound_policy
from idp.signing import build_keyset
from idp.storage import ClientStore, Database, ObjectStore, current_revision, head_revision, migrate
from keys.service.keyset import Keyset
from servicekit.outbound import AddressPolicy, OutboundClient

_log = logging.getLogger("idp.runtime")
_T = TypeVar("_T")


class Extension(Protocol):
    """A feature's process-wide part (its keys, its stores), closed when the process ends."""

    def close(self) -> None:
        """Release what the extension holds."""


#: Opens an extension from the settings and the migrated database, at the given time.
ExtensionOpener = Callable[[Settings, Database, dt.datetime], Extension]


class StartupError(Exception):
    """The process cannot start (for instance, the schema is behind and migrations are disabled)."""


#: The setting ``test_clock_offset_file`` (test mode only; refused otherwise): a file holding a number of seconds
#: added to this clock, re-read whenever it changes, so that a test can step every worker's clock forward and back
#: without a restart (``python -m conformance faults``). Read here from the environment, since the clock is needed
#: before and apart from the settings. Unset in production: the clock is the system's.
CLOCK_OFFSET_FILE_ENV: Final = "MYNACARD_TEST_CLOCK_OFFSET_FILE"
_clock_offset_file = os.environ.get(CLOCK_OFFSET_FILE_ENV)
_clock_offset: tuple[float, dt.timedelta] = (0.0, dt.timedelta())


def utcnow() -> dt.datetime:
    """The current time, aware UTC (plus the test clock's offset, see :data:`CLOCK_OFFSET_FILE_ENV`)."""
    now = dt.datetime.now(dt.UTC)
    return now if _clock_offset_file is None else now + _test_clock_offset(_clock_offset_file)


def _test_clock_offset(path: str) -> dt.timedelta:
    global _clock_offset
    try:
        changed = Path(path).stat().st_mtime
        if changed != _clock_offset[0]:
            _clock_offset = (changed, dt.timedelta(seconds=float(Path(path).read_text() or 0)))
    except (OSError, ValueError):
        _clock_offset = (0.0, dt.timedelta())
    return _clock_offset[1]


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a request handler or command may use."""

    settings: Settings
    db: Database
    keyset: Keyset
    objects: ObjectStore
    clients: ClientStore
    #: The features' parts, by their type (see the module docstring).
    extensions: Mapping[type[Any], Extension] = field(default_factory=dict)
    #: Every request the provider sends (sector_identifier_uri, back-channel logout) goes through this client:
    #: the address policy of ``http.outbound_allow`` and test mode; each caller gives its own deadline and size
    #: cap. Tests replace its ``resolver`` to check the policy's decisions without sending anything.
    outbound: OutboundClient = field(default_factory=lambda: OutboundClient(AddressPolicy()))

    def extension(self, kind: type[_T]) -> _T | None:
        """The extension of type ``kind``, or None when this process did not open one."""
        found = self.extensions.get(kind)
        return found if isinstance(found, kind) else None


@asynccontextmanager
async def open_services(settings: Settings, *, extensions: Sequence[ExtensionOpener] = ()) -> AsyncIterator[Services]:
    """Open the database (migrating it when ``database.migrate_on_start``), the keyset and the ``extensions``;
    close them all."""
    if _clock_offset_file is not None and not settings.test_mode:  # the settings refuse it too; belt and braces
        raise StartupError(f"{CLOCK_OFFSET_FILE_ENV} is honoured in test mode only")
    db = Database.connect(settings.database_url, pool_size=settings.database.pool_size)
    try:
        if settings.database.migrate_on_start:
            revision = await migrate(db)
            _log.info("database_ready", extra={"dialect": db.dialect, "revision": revision})
        elif (revision := await current_revision(db)) != head_revision():
            raise StartupError(f"database schema at {revision}, code expects {head_revision()}: run `idp migrate`")
        keyset = build_keyset(settings, db)
        opened: dict[type[Any], Extension] = {}
        outbound = OutboundClient(outbound_policy(settings))
        try:
            for opener in extensions:
                extension = opener(settings, db, utcnow())
                opened[type(extension)] = extension
            yield Services(settings, db, keyset, ObjectStore(db),
                           ClientStore(db, cache_seconds=settings.database.client_cache_seconds), opened, outbound)
        finally:
            await outbound.aclose()
            for extension in reversed(opened.values()):
                extension.close()
            keyset.close()
    finally:
        await db.dispose()
