"""What the login page learns of its card login, pushed as it happens: the status view, and waiting for its change.

The page's view of a login (``GET /interaction/{uid}/card/status``, :mod:`idp.endpoints.card_login`) is
``{"state": "pending"|"verified"|"failed", "error", "token"}``. It changes once, when the card's answer is recorded
(:meth:`idp.login.store.CardLogins.settle`). :func:`next_view` waits for that change: woken at once by the login's
bell (:mod:`idp.login.signals`: rung in the worker that recorded the answer, and on PostgreSQL in every other
worker through ``NOTIFY``). It re-reads the store every :data:`LISTENING_RECHECK` seconds while this worker
listens, and every :data:`RECHECK` seconds where a change recorded by another worker cannot be announced (SQLite,
or while the listening connection is down). Each waiter is bounded by its caller's deadline (the event stream's
lifetime, the long poll's ``wait``), so one page costs at most ``lifetime / RECHECK`` small reads (on PostgreSQL
``lifetime / LISTENING_RECHECK``).

Example (the event stream of :mod:`idp.endpoints.card_login_events`)::

    view = await current_view(services, uid)
    while view is not None and view["state"] == "pending":
        view = await next_view(services, uid, view, deadline=loop.time() + 15)
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Final

from idp.login.signals import SIGNALS
from idp.login.store import CardLogin, CardLogins
from idp.oauth.interaction import INTERACTION_COOKIE, browser_interaction
from idp.runtime import Services, utcnow

#: How often a waiter re-reads the store for a change recorded by another worker that could not announce it
#: (seconds; the page's target is to move on within 100 ms of the card's answer).
RECHECK: Final = 0.05
#: How often a waiter that hears every worker's announcements re-reads the store all the same (seconds).
LISTENING_RECHECK: Final = 1.0
#: The longest long poll a page may ask for (``?wait=``, seconds).
MAX_WAIT: Final = 30.0
#: The state after which a login's view no longer changes (a failed one may still be answered again: the code).
DONE: Final = "verified"

View = dict[str, Any]


def status_view(login: CardLogin) -> View:
    """What the login page may see of ``login`` (``token`` names what the agent read: card or smartphone)."""
    return {"state": login.state, "error": login.payload.get("error"),
            "token": (login.payload.get("result") or {}).get("token")}


async def page_login(services: Services, uid: str, cookies: dict[str, str]) -> CardLogin | None:
    """The card login of interaction ``uid``, for the browser that started the interaction only."""
    now = utcnow()
    if await browser_interaction(services, uid, cookies.get(INTERACTION_COOKIE), now) is None:
        return None
    return await CardLogins.of(services).get(uid, now)


async def current_view(services: Services, uid: str) -> View | None:
    """The view of interaction ``uid``'s login now, ``None`` once it is gone (collected or expired)."""
    login = await CardLogins.of(services).get(uid, utcnow())
    return None if login is None else status_view(login)


async def next_view(services: Services, uid: str, seen: View, *, deadline: float) -> View | None:
    """The login's view as soon as it differs from ``seen`` (``None``: gone), or at ``deadline`` (the event loop's
    clock) the unchanged one."""
    loop = asyncio.get_running_loop()
    watch = SIGNALS.watch(services.db)
    bell = SIGNALS.subscribe(uid)
    try:
        while True:
            listening = await watch.up()  # before the read: what commits after it is announced to this worker
            bell.clear()  # a ring from here on wakes the wait below at once
            view = await current_view(services, uid)
            left = deadline - loop.time()
            if view != seen or left <= 0:
                return view
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(bell.wait(), timeout=min(LISTENING_RECHECK if listening else RECHECK, left))
    finally:
        SIGNALS.unsubscribe(uid, bell)


async def changed_view(services: Services, uid: str, known: str, wait: float) -> View | None:
    """The long poll: the view once the login's state is no longer ``known`` (the state the page has), or after
    ``wait`` seconds (at most :data:`MAX_WAIT`) as it is."""
    deadline = asyncio.get_running_loop().time() + min(wait, MAX_WAIT)
    view = await current_view(services, uid)
    while view is not None and view["state"] == known and asyncio.get_running_loop().time() < deadline:
        view = await next_view(services, uid, view, deadline=deadline)
    return view


__all__ = ["DONE", "LISTENING_RECHECK", "MAX_WAIT", "RECHECK", "changed_view", "current_view", "next_view",
           "page_login", "status_view"]
