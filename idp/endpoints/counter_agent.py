"""The counter agent's half of CIBA (CIBA Core 1.0 §1 "Authentication Device"; Keycloak's "authentication channel"
is the model): a registered card agent (:mod:`idp.login.counter`) asks for work and reports the outcome. Every body
is ``{"assertion": JWT}``, the JWT signed by the reader's registered key for this endpoint's URL (single use).

``POST /card-agent/counter/next``
    ``200 {"request", "token", "binding_message", "client_id", "expires_at"}``: the reader's pending CIBA request,
    with a card-login token for :mod:`idp.endpoints.card_login`'s challenge and response (the PIN pad shows
    the client and the binding message); ``204`` when there is none. Each request is handed out once.
``POST /card-agent/counter/result`` (claims ``request`` and ``outcome``: ``done`` or ``failed``)
    ``done``: the card login of that request was verified: the request is approved with its ``account_id``,
    ``acr``, ``amr`` and ``auth_time``; ``failed`` (PIN cancelled, card removed, refused): ``access_denied``.
    In ping mode the client is then notified (§10.2: ``POST`` of ``{"auth_req_id"}`` with
    ``Authorization: Bearer client_notification_token``) through the provider's outbound client.

403 ``{"error": "agent_refused"}`` for an assertion that is not a registered reader's (or a replay); 404 for a
request that is not this reader's or has ended.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from litestar import Response, post
from litestar.di import NamedDependency

from idp.login import counter
from idp.login.store import CardLogins
from idp.oauth import decoupled
from idp.oauth.interaction import LoginRecord
from idp.runtime import Services, utcnow
from idp.storage.audit import record
from idp.web.forms import AnyRequest
from keys.x509.profile import Purpose
from servicekit.http import openapi as doc
from servicekit.http.bodies import BodyError, read_json
from servicekit.outbound import OutboundError

NEXT_PATH: Final = "/card-agent/counter/next"
RESULT_PATH: Final = "/card-agent/counter/result"
_NO_STORE: Final = {"Cache-Control": "no-store"}
_PING_DEADLINE: Final = 5.0
_log = logging.getLogger("idp.counter")


def _json(body: dict[str, Any], status: int = 200) -> Response[Any]:
    return Response(body, status_code=status, headers=_NO_STORE, media_type="application/json")


Work = Callable[[Services, str, Mapping[str, Any], dt.datetime], Awaitable[Response[Any]]]


async def _for_agent(request: AnyRequest, services: Services, path: str, work: Work) -> Response[Any]:
    """``work(services, reader, claims, now)`` for the reader whose agent signed the body's assertion for ``path``;
    the refusal (403) for anyone else."""
    now = utcnow()
    try:
        body = await read_json(request, max_bytes=8 * 1024)
        assertion = body.get("assertion")
        if not isinstance(assertion, str):
            raise counter.AgentRefused("no assertion")
        reader, claims = await counter.verify_agent_assertion(services, assertion, services.settings.issuer + path,
                                                              now)
    except (BodyError, counter.AgentRefused) as exc:
        _log.info("agent_refused", extra={"path": path, "reason": str(exc)})
        return _json({"error": "agent_refused"}, 403)
    return await work(services, reader, claims, now)


async def _current(services: Services, reader: str, now: dt.datetime) -> decoupled.Pending | None:
    busy = await services.objects.find(counter.BUSY_KIND, reader, now=now)
    if busy is None or busy.consumed_at is not None or busy.payload is None:
        return None
    pending = await decoupled.find(services, str(busy.payload["pending"]), now)
    return None if pending is None or pending.state != "pending" or pending.expired(now) else pending


async def _next(services: Services, reader: str, claims: Mapping[str, Any], now: dt.datetime) -> Response[Any]:
    """The reader's pending request with a card-login token, once; 204 when there is none."""
    pending = await _current(services, reader, now)
    if pending is None or pending.extra.get("dispatched"):
        return Response(None, status_code=204, headers=_NO_STORE)
    client = await services.clients.get(str(pending.payload["client_id"]))
    client_id = str(pending.payload["client_id"]) if client is None else client.client_id
    binding = str(pending.extra["binding_message"])
    deadline = dt.datetime.fromtimestamp(float(pending.payload["deadline"]), dt.UTC)
    opened = await CardLogins.of(services).open(pending.id, key=Purpose.AUTH, client_id=client_id,
                                                client_name=client_id, expires_at=deadline, now=now,
                                                binding_message=binding)
    await decoupled.update_extra(services, pending, dispatched=True)
    return _json({"request": pending.id, "token": opened.token, "binding_message": binding, "client_id": client_id,
                  "expires_at": int(deadline.timestamp())})


@post(NEXT_PATH, status_code=200, summary="Counter agent: the next CIBA request", tags=["Card login"])
async def next_request(request: AnyRequest, services: NamedDependency[Services]) -> Response[Any]:
    """The reader's pending CIBA request, once."""
    return await _for_agent(request, services, NEXT_PATH, _next)


async def _notify(services: Services, pending: decoupled.Pending) -> None:
    """CIBA Core §10.2: tell a ping client that the result is ready (failures are logged; it may still poll)."""
    ping = pending.extra.get("ping")
    if not ping:
        return
    try:
        answer = await services.outbound.request(
            "POST", str(ping["endpoint"]), content=json.dumps({"auth_req_id": ping["auth_req_id"]}).encode(),
            headers={"Authorization": f"Bearer {ping['token']}", "Content-Type": "application/json"},
            deadline=_PING_DEADLINE, max_bytes=4096)
    except OutboundError as exc:
        _log.warning("ciba_ping_failed", extra={"client_id": pending.payload["client_id"], "reason": exc.reason.value})
        return
    if answer.status not in (200, 204):
        _log.warning("ciba_ping_refused", extra={"client_id": pending.payload["client_id"], "status": answer.status})


async def _result(services: Services, reader: str, claims: Mapping[str, Any], now: dt.datetime) -> Response[Any]:
    """Approve the reader's current request with its verified card login, or deny it; then ping the client."""
    pending = await _current(services, reader, now)
    if pending is None or claims.get("request") != pending.id:
        return _json({"error": "unknown_request"}, 404)
    logins = CardLogins.of(services)
    login = await logins.get(pending.id, now)
    verified = None if login is None or claims.get("outcome") != "done" else await logins.collect(login, now)
    if verified is None:
        if login is not None:
            await logins.close(login)
        await decoupled.deny(services, pending, now)
        outcome = "denied"
    else:
        record_ = LoginRecord(str(verified["account_id"]), str(verified["acr"]), tuple(verified["amr"]),
                              int(verified["auth_time"]), {})
        await decoupled.approve(services, pending, record_, released={}, now=now)
        await record(services, "login", now, client_id=pending.payload["client_id"], account=record_.account_id,
                     acr=record_.acr, amr=list(record_.amr))
        outcome = "approved"
    await services.objects.destroy(counter.BUSY_KIND, reader)
    _log.info("ciba_result", extra={"client_id": pending.payload["client_id"], "reader": reader, "outcome": outcome})
    await _notify(services, pending)
    return _json({"status": outcome})


@post(RESULT_PATH, status_code=200, summary="Counter agent: the outcome of a CIBA request", tags=["Card login"])
async def result(request: AnyRequest, services: NamedDependency[Services]) -> Response[Any]:
    """Approve (the card login was verified) or deny the reader's current request."""
    return await _for_agent(request, services, RESULT_PATH, _result)


_ASSERTION: Final = doc.json_body(doc.obj(doc.strings("assertion"), ("assertion",)))
OPENAPI: Final = {
    NEXT_PATH: {"post": doc.operation(body=_ASSERTION, responses=doc.responses(
        doc.json_answer(200, "the reader's pending request", doc.obj({
            **doc.strings("request", "token", "binding_message", "client_id"), "expires_at": {"type": "integer"}})),
        doc.answer((204,), "nothing pending", None),
        doc.json_answer(403, "not a registered reader's assertion", doc.obj(doc.strings("error")))))},
    RESULT_PATH: {"post": doc.operation(body=_ASSERTION, responses=doc.responses(
        doc.json_answer(200, "approved or denied", doc.obj(doc.strings("status"))),
        doc.json_answer(403, "not a registered reader's assertion", doc.obj(doc.strings("error"))),
        doc.json_answer(404, "not this reader's current request", doc.obj(doc.strings("error")))))},
}

ROUTES: Final = (next_request, result)

__all__ = ["NEXT_PATH", "RESULT_PATH", "ROUTES"]
