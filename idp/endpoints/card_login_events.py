"""The card login's progress as server-sent events (WHATWG HTML §9.2), for the login page.

``GET /interaction/{uid}/card/events`` (the interaction's cookie, as ``/card/status``; 404 ``unknown_login``
without it)
    ``text/event-stream``: at once the login's status view (the JSON of ``GET /interaction/{uid}/card/status``,
    :func:`idp.login.progress.status_view`) as a ``message`` event, then the view again as soon as it changes —
    within :data:`idp.login.progress.RECHECK` of the card's answer being recorded by any worker, at once by this
    one. A comment every 15 s keeps proxies from closing an idle stream. The stream ends once ``verified`` (a
    ``failed`` login may still be answered again, by the code from another device), when the login is gone (the
    page's next status request says why), or after :data:`LIFETIME` (the browser reconnects after ``retry``).
    Where a proxy forbids event streams, the page long polls
    ``GET /interaction/{uid}/card/status?wait=25&state=pending`` instead.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, Final

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage

from idp.login.progress import DONE, View, next_view, page_login, status_view
from idp.oauth.interaction import INTERACTION_COOKIE
from idp.runtime import Services
from idp.web.pages import MESSAGES
from servicekit.http import openapi as doc

EVENTS_PATH: Final = "/interaction/{uid}/card/events"
#: The longest one stream lives (seconds); then the browser reconnects (a bound on the store reads per page).
LIFETIME: Final = 120.0
#: Seconds between keep-alive comments.
HEARTBEAT: Final = 15.0
#: What the browser waits before reconnecting (milliseconds).
RETRY_MS: Final = 500
_HEADERS: Final = {"Cache-Control": "no-store", "X-Accel-Buffering": "no", "X-Content-Type-Options": "nosniff"}

AnyRequest = Request[Any, Any, Any]


def _event(view: View) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=json.dumps(view, ensure_ascii=False), retry=RETRY_MS)


async def _stream(services: Services, uid: str, first: View) -> AsyncIterator[ServerSentEventMessage]:
    loop = asyncio.get_running_loop()
    end = loop.time() + LIFETIME
    view: View | None = first
    yield _event(first)
    while view is not None and view["state"] != DONE and loop.time() < end:
        changed = await next_view(services, uid, view, deadline=min(end, loop.time() + HEARTBEAT))
        if changed == view:
            yield ServerSentEventMessage(comment="keep-alive")
            continue
        view = changed
        if view is not None:
            yield _event(view)


@get(EVENTS_PATH.replace("{uid}", "{uid:str}"), summary="Card login: progress as events", tags=["Card login"])
async def events(uid: FromPath[str], request: AnyRequest, services: NamedDependency[Services]) -> Response[Any]:
    """The login's status view, pushed at each change."""
    login = await page_login(services, uid, request.cookies)
    if login is None:
        message_ja, message = MESSAGES.both("card_login.refusal.unknown_login")
        return Response({"error": "unknown_login", "message": message, "message_ja": message_ja}, status_code=404,
                        headers={"Cache-Control": "no-store"}, media_type="application/json")
    return ServerSentEvent(_stream(services, uid, status_view(login)), headers=_HEADERS)


OPENAPI: Final = {EVENTS_PATH: {"get": doc.operation(
    parameters=[doc.parameter("cookie", INTERACTION_COOKIE, "binds the interaction to the browser that started it")],
    responses=doc.responses(
        doc.answer((200,), "the login's status view at once and at each change (server-sent events)",
                   {"text/event-stream": {"type": "string"}}),
        doc.json_answer(404, "no such login for this browser", doc.obj(doc.strings("error", "message", "message_ja"),
                                                                      ("error", "message", "message_ja")))))}}

ROUTES: Final = (events,)

__all__ = ["EVENTS_PATH", "HEARTBEAT", "LIFETIME", "ROUTES"]
