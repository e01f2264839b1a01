"""Decoupled authorizations: the client waits on one device while the person logs in on another, and then polls
the token endpoint (CIBA Core 1.0 §7.3, §10-§11; RFC 8628 §3.4-§3.5). One owner for both flows' rules:

* the handle the client polls with (``auth_req_id``, ``device_code``) is 32 random octets, stored as its SHA-256;
* a poll sooner than ``interval`` after the previous one answers ``slow_down``, and the *client* adds 5 seconds to
  its interval for this and every later request (RFC 8628 §3.5; CIBA Core §11); the provider keeps enforcing the
  announced interval (as Keycloak does), so a client that obeys converges even when a second poller interfered;
  otherwise ``authorization_pending`` until the person answered;
* after ``expires_in`` without an answer: ``expired_token``; a denial: ``access_denied``; each is answered once and
  then the handle is spent (``invalid_grant``); an approval given in time gives tokens exactly once (one
  conditional consume), until the object itself expires (another ``expires_in``);
* nothing half-authenticated: the login is recorded only when it is complete (account, acr, amr, auth_time and the
  claims the person released), and the tokens carry ``auth_time`` and ``acr`` (OIDC Core §2), so the client can
  enforce its own limits (NIST SP 800-63B §7.2.1: the RP states a maximum authentication age).

Objects of kind ``Decoupled`` under ``sha256(handle)``: ``flow`` (``ciba``/``device``), ``client_id``, ``scope``,
``deadline`` (seconds since the epoch; the object itself lives ``expires_in`` longer so that a late poll still gets
``expired_token``), ``interval``, ``last_poll``, ``state`` (pending/approved/denied), ``login`` (once approved) and
flow-specific ``extra`` members. Usage::

    handle, pending = await start(services, "device", client_id=..., scope=("openid",), expires_in=600,
                                  interval=5, now=now)
    await approve(services, pending.id, login, released={"name": ...}, now=now)     # the person logged in
    body = await redeem(services, client, handle, "device", jkt=None, now=now)        # the token endpoint
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from idp.clients import Client
from idp.errors import InvalidGrant, InvalidScope, OAuthError
from idp.oauth.authorization_request.request import CREDENTIAL_TARGET, OPENID, SCOPE_CLAIMS
from idp.oauth.consent import release
from idp.oauth.interaction import Interaction, LoginRecord
from idp.oauth.scope import format_scope, parse_scope
from idp.oauth.subject import subject_for
from idp.oauth.tokens import GRANT_KIND, Authorization, issue_user_tokens
from idp.runtime import Services

KIND: Final = "Decoupled"
#: RFC 8628 §3.5 / CIBA Core §11: the client's interval grows by 5 seconds on each ``slow_down``.
SLOW_DOWN_STEP: Final = 5
Flow = Literal["ciba", "device"]
State = Literal["pending", "approved", "denied"]


class AuthorizationPending(OAuthError):
    """RFC 8628 §3.5, CIBA Core §11: the person has not answered yet."""

    error = "authorization_pending"
    status_code = 400


class SlowDown(OAuthError):
    """RFC 8628 §3.5, CIBA Core §11: polling faster than ``interval``; the client adds 5 seconds to it."""

    error = "slow_down"
    status_code = 400


class ExpiredToken(OAuthError):
    """RFC 8628 §3.5, CIBA Core §11: the handle expired before the person answered."""

    error = "expired_token"
    status_code = 400


class AccessDenied(OAuthError):
    """RFC 8628 §3.5, CIBA Core §11: the person (or the reader, e.g. the card was taken out) refused."""

    error = "access_denied"
    status_code = 400


def checked_scope(value: str | None, *, personal: bool) -> tuple[str, ...]:
    """The requested scope: ``openid`` and, where the person can see a consent page (``personal``: the device
    grant's verification page), the personal-data scopes; no ``offline_access`` (a shared device keeps nothing)
    and no credential scopes. ``invalid_scope`` otherwise (RFC 6749 §3.3)."""
    scope = parse_scope(value or OPENID)
    allowed = {OPENID, *SCOPE_CLAIMS} if personal else {OPENID}
    if not set(scope) <= allowed:
        raise InvalidScope("scope values not available to this grant",
                           detail=f"refused: {sorted(set(scope) - allowed)}")
    return scope


def handle_id(handle: str) -> str:
    """The stored id of a handle (``auth_req_id``, ``device_code``): its SHA-256, hex."""
    return hashlib.sha256(handle.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Pending:
    """A stored decoupled authorization."""

    id: str
    payload: Mapping[str, Any]
    expires_at: dt.datetime

    @property
    def state(self) -> State:
        """pending, approved or denied."""
        state: State = self.payload["state"]
        return state

    @property
    def extra(self) -> Mapping[str, Any]:
        """The flow's own members (binding message, reader, user code, ping endpoint, ...)."""
        extra: Mapping[str, Any] = self.payload.get("extra") or {}
        return extra

    def expired(self, now: dt.datetime) -> bool:
        """Whether ``expires_in`` has passed."""
        return now.timestamp() >= float(self.payload["deadline"])


async def start(services: Services, flow: Flow, *, client_id: str, scope: tuple[str, ...], expires_in: int,
                interval: int, now: dt.datetime, extra: Mapping[str, Any] | None = None) -> tuple[str, Pending]:
    """Store a new pending authorization; returns the handle for the client (never stored) and the object."""
    handle = secrets.token_urlsafe(32)
    payload = {"flow": flow, "client_id": client_id, "scope": format_scope(scope),
               "deadline": now.timestamp() + expires_in, "interval": interval, "last_poll": None,
               "state": "pending", "login": None, "extra": dict(extra or {})}
    expires_at = now + dt.timedelta(seconds=2 * expires_in)
    await services.objects.upsert(KIND, handle_id(handle), payload, expires_at)
    return handle, Pending(handle_id(handle), payload, expires_at)


async def find(services: Services, pending_id: str, now: dt.datetime) -> Pending | None:
    """The stored authorization ``pending_id`` (expired or not, but not yet spent), or None."""
    stored = await services.objects.find(KIND, pending_id, now=now)
    if stored is None or stored.consumed_at is not None:
        return None
    return Pending(pending_id, stored.payload, stored.expires_at)


async def _update(services: Services, pending: Pending, **changes: Any) -> Pending:
    payload = {**pending.payload, **changes}
    await services.objects.upsert(KIND, pending.id, payload, pending.expires_at)
    return Pending(pending.id, payload, pending.expires_at)


async def update_extra(services: Services, pending: Pending, **changes: Any) -> Pending:
    """Store changes to the flow's own members."""
    return await _update(services, pending, extra={**pending.extra, **changes})


async def approve(services: Services, pending: Pending, login: LoginRecord, *, released: Mapping[str, Any],
                  now: dt.datetime) -> bool:
    """Record the person's complete login and the claims they released (by target, as
    :func:`idp.oauth.consent.release` gives them); False if it is no longer pending."""
    if pending.state != "pending" or pending.expired(now):
        return False
    await _update(services, pending, state="approved", login={**login.to_payload(), "claims": dict(released)})
    return True


async def deny(services: Services, pending: Pending, now: dt.datetime) -> bool:
    """Record a refusal (the person, or the reader on the person's behalf); False if it is no longer pending."""
    if pending.state != "pending" or pending.expired(now):
        return False
    await _update(services, pending, state="denied")
    return True


async def answer_from_browser(services: Services, interaction: Interaction, *, approved: frozenset[str] | None,
                              now: dt.datetime) -> bool:
    """The person answered on an interaction that stands for a decoupled authorization (payload ``decoupled``):
    approve with the login and the claims released from ``approved``, or deny (``approved`` None). False when the
    authorization has ended meanwhile."""
    pending = await find(services, str(interaction.payload["decoupled"]), now)
    login = interaction.login
    if pending is None:
        return False
    if approved is None or login is None:
        return await deny(services, pending, now)
    released = release(interaction.request, login.claims, approved)
    released.pop(CREDENTIAL_TARGET, None)
    return await approve(services, pending, login, released=released, now=now)


async def redeem(services: Services, client: Client, handle: str, flow: Flow, *, jkt: str | None,
                 now: dt.datetime) -> dict[str, Any]:
    """The token endpoint's answer to ``client``'s poll with ``handle`` (RFC 8628 §3.4-§3.5, CIBA Core
    §10.1-§11); ``jkt``: the DPoP key of the request, if any."""
    pending = await find(services, handle_id(handle), now)
    if pending is None or pending.payload["flow"] != flow:
        raise InvalidGrant("unknown, spent or expired handle")
    if pending.payload["client_id"] != client.client_id:
        raise InvalidGrant("the handle was issued to another client",
                           detail=f"issued to {pending.payload['client_id']}")
    if pending.state == "approved":
        if await services.objects.consume(KIND, pending.id, now=now) is None:
            raise InvalidGrant("the handle has been used")
        return await _tokens(services, client, pending, jkt=jkt, now=now)
    if pending.state == "denied" or pending.expired(now):
        await services.objects.consume(KIND, pending.id, now=now)  # the answer is given once, then the handle is spent
        if pending.state == "denied":
            raise AccessDenied("the person or the reader refused the authentication")
        raise ExpiredToken("the request expired before the person answered")
    last, interval = pending.payload.get("last_poll"), int(pending.payload["interval"])
    await _update(services, pending, last_poll=now.timestamp())
    if last is not None and now.timestamp() - float(last) < interval:
        raise SlowDown(f"polled within {interval} seconds of the last poll: add {SLOW_DOWN_STEP} seconds to the "
                       "interval for this and every later request (RFC 8628 §3.5)")
    raise AuthorizationPending("the person has not finished yet")


async def _tokens(services: Services, client: Client, pending: Pending, *, jkt: str | None,
                  now: dt.datetime) -> dict[str, Any]:
    """A new grant and its tokens for the approved login (OIDC Core §3.1.3.3 shape; no refresh token)."""
    login, settings = pending.payload["login"], services.settings
    scope = tuple(str(pending.payload["scope"]).split())
    grant_id = secrets.token_urlsafe(24)
    sub = subject_for(str(login["account_id"]), client, settings)
    claims = dict(login.get("claims") or {})
    await services.objects.upsert(GRANT_KIND, grant_id, {
        "client_id": client.client_id, "sub": sub, "account_id": login["account_id"], "scope": format_scope(scope),
        "claims": claims},
        now + dt.timedelta(seconds=settings.tokens.refresh_token_ttl), grant_id=grant_id)
    authorization = Authorization(grant_id=grant_id, client_id=client.client_id, sub=sub,
                                  account_id=str(login["account_id"]), scope=scope, auth_time=int(login["auth_time"]),
                                  acr=login.get("acr"), amr=tuple(login.get("amr") or ()), sid=None)
    return await issue_user_tokens(services, client, authorization, scope=scope, released=claims.get("id_token") or {},
                                   nonce=None,
                                   jkt=jkt, refresh_token=None,
                                   now=now)


__all__ = ["KIND", "SLOW_DOWN_STEP", "AccessDenied", "AuthorizationPending", "ExpiredToken", "Flow", "Pending",
           "SlowDown", "answer_from_browser", "approve", "checked_scope", "deny", "find", "handle_id", "redeem",
           "start", "update_extra"]
