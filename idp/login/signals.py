"""Notice that a card login changed: the recorder (:meth:`idp.login.store.CardLogins.settle`) announces it, and the
pages' event streams and long polls wake at once (:mod:`idp.login.progress`): in the same worker by an in-process
bell, in the other workers through PostgreSQL's ``NOTIFY`` on :data:`CHANNEL` (the payload is the interaction uid),
which each worker ``LISTEN``s to on a connection of its own (:class:`servicekit.database.Watch`).

A notice is only a hint to look again: the state is always read from the store. Where no notice can cross
workers (SQLite, or while the listening connection is down) a waiter finds a change recorded elsewhere by its own
short re-check. Example::

    watch = SIGNALS.watch(services.db)       # listening from here on (PostgreSQL)
    bell = SIGNALS.subscribe(uid)
    try:
        listening = await watch.up(); bell.clear(); ...read the store...; await asyncio.wait_for(bell.wait(), 1)
    finally:
        SIGNALS.unsubscribe(uid, bell)
    ...
    await SIGNALS.announce(services.db, uid)  # after the change is written
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Final

from servicekit.database import Database, DatabaseUnavailable, Watch

_log = logging.getLogger(__name__)

#: The channel on which a recorded card answer is announced to every worker.
CHANNEL: Final = "card_login"


class Signals:
    """The waiters of each login, by interaction uid (one event loop per worker: no locking needed)."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._watches: weakref.WeakKeyDictionary[Database, Watch] = weakref.WeakKeyDictionary()

    def subscribe(self, uid: str) -> asyncio.Event:
        """A new bell for changes of ``uid``'s login."""
        bell = asyncio.Event()
        self._waiters.setdefault(uid, set()).add(bell)
        return bell

    def unsubscribe(self, uid: str, bell: asyncio.Event) -> None:
        """Forget ``bell`` (its waiter left)."""
        waiters = self._waiters.get(uid)
        if waiters is not None:
            waiters.discard(bell)
            if not waiters:
                del self._waiters[uid]

    def notify(self, uid: str) -> None:
        """Ring every bell of ``uid``'s login in this worker."""
        for bell in self._waiters.get(uid, ()):
            bell.set()

    def watch(self, db: Database) -> Watch:
        """This worker's watch of the announcements made through ``db`` (one per database; it listens once
        :meth:`~servicekit.database.Watch.up` is awaited): each rings that login's bells, a lost connection rings
        them all (a notice may have been missed)."""
        found = self._watches.get(db)
        if found is None:
            found = self._watches[db] = db.watch(CHANNEL, on_notice=self._heard)
        return found

    def _heard(self, uid: str | None) -> None:
        if uid is not None:
            self.notify(uid)
            return
        for bells in self._waiters.values():  # notices may have been missed: every waiter looks again
            for bell in bells:
                bell.set()

    async def announce(self, db: Database, uid: str) -> None:
        """``uid``'s login changed (written already): ring its bells here at once, and in every other worker
        through ``db``. A notice that cannot be sent (the database went away after the write) is dropped: it is
        only a hint, and the other workers' pages find the change at their next re-check."""
        self.notify(uid)
        try:
            await db.notify(CHANNEL, uid)
        except DatabaseUnavailable:
            _log.warning("card_login_notice_lost", extra={"channel": CHANNEL})


#: This worker's bells.
SIGNALS: Final = Signals()

__all__ = ["CHANNEL", "SIGNALS", "Signals"]
