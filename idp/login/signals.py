"""In-process notice that a card login changed: the recorder (:meth:`idp.login.store.CardLogins.settle`) rings,
the pages' event streams and long polls of the same worker wake at once (:mod:`idp.login.progress`).

A notice is only a hint to look again: the state is always read from the store, and a waiter in another worker
(the card's answer may land in any worker) finds the change by its own short re-check. Example::

    bell = SIGNALS.subscribe(uid)
    try:
        bell.clear(); ...read the store...; await asyncio.wait_for(bell.wait(), 0.05)
    finally:
        SIGNALS.unsubscribe(uid, bell)
"""

from __future__ import annotations

import asyncio
from typing import Final


class Signals:
    """The waiters of each login, by interaction uid (one event loop per worker: no locking needed)."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}

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
        """Ring every bell of ``uid``'s login."""
        for bell in self._waiters.get(uid, ()):
            bell.set()


#: This worker's bells.
SIGNALS: Final = Signals()

__all__ = ["SIGNALS", "Signals"]
