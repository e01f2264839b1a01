"""Logout: the ``id_token_hint`` of RP-initiated logout (OIDC RP-Initiated Logout 1.0 §2–3) and back-channel logout
tokens sent to the clients of an ended session (OIDC Back-Channel Logout 1.0 §2.4–2.7).

An ``id_token_hint`` must be an ID token we signed (signature with a published key, ``iss`` us, one audience that is
a registered client). Its ``exp`` may have passed (RP-Initiated Logout §2: RPs log out after their ID token expired),
but not longer ago than a session lives.

A logout token is a JWT typed ``logout+jwt`` (§2.4, RFC 8725 §3.11), signed with the client's
``id_token_signed_response_alg``, with ``iss``, ``aud`` = client_id, ``iat``, ``exp`` (``logout.logout_token_ttl``),
``jti``, ``events`` holding the back-channel-logout event, and both ``sub`` (the client's pairwise subject) and
``sid``; never a ``nonce`` (§2.4). It is POSTed as ``logout_token`` (form-encoded, §2.5) to the client's
``backchannel_logout_uri`` through the provider's outbound client (:mod:`servicekit.outbound`: the address policy
on every resolved address, so a name that resolves to a private or metadata address is never posted to;
``logout.backchannel_timeout`` for the whole request; no redirects); all clients are told concurrently, and a
client that fails or answers other than 200/204 is logged with the reason (§2.8), never retried and never stops
the logout.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from idp.clients import Client
from idp.errors import InvalidRequest
from idp.oauth.session import Session
from idp.oauth.subject import subject_for
from idp.runtime import Services
from keys.errors import VerificationError
from keys.jose.json import loads_object
from keys.jose.jwk import VerificationKey
from keys.jose.jws import verify_jws
from keys.service.jws import encode_jwt
from servicekit.outbound import OutboundError

LOGOUT_TOKEN_TYP: Final = "logout+jwt"
BACKCHANNEL_EVENT: Final = "http://schemas.openid.net/event/backchannel-logout"
#: Longest ``id_token_hint`` accepted (characters).
MAX_HINT: Final = 16 * 1024
#: Most of a client's answer read (its body means nothing to us; a longer one counts as a failure).
MAX_ANSWER_OCTETS: Final = 16 * 1024
_log = logging.getLogger("idp.logout")


class InvalidIdTokenHint(InvalidRequest):
    """The ``id_token_hint`` is not an ID token of ours that is still usable for logout."""


@dataclass(frozen=True, slots=True)
class IdTokenHint:
    """What a verified ``id_token_hint`` tells: the client it was issued to, its subject and session."""

    client: Client
    sub: str
    sid: str | None


def _keys(jwks: Sequence[Mapping[str, Any]]) -> list[VerificationKey]:
    keys = []
    for jwk in jwks:
        try:
            keys.append(VerificationKey.from_jwk(jwk))
        except VerificationError:
            continue
    return keys


async def verify_id_token_hint(services: Services, token: str, now: dt.datetime) -> IdTokenHint:
    """The ID token ``token`` if we issued it (OIDC RP-Initiated Logout §2 ``id_token_hint``); expired ones are
    accepted for as long as a session lives after the token's ``iat``. Raises :class:`InvalidIdTokenHint`."""
    settings = services.settings
    if len(token) > MAX_HINT:
        raise InvalidIdTokenHint("id_token_hint is too long")
    try:
        verified = verify_jws(token, algorithms=settings.keys.algorithms, typ=None,
                              keys=_keys((await services.keyset.jwks(now))["keys"]))
        claims = loads_object(verified.payload, what="id_token_hint")
    except VerificationError as exc:
        raise InvalidIdTokenHint("id_token_hint is not an ID token issued here", detail=str(exc)) from None
    aud, iat, sub, sid = claims.get("aud"), claims.get("iat"), claims.get("sub"), claims.get("sid")
    if isinstance(aud, list) and len(aud) == 1:
        aud = aud[0]
    if claims.get("iss") != settings.issuer or not isinstance(aud, str) or not isinstance(sub, str):
        raise InvalidIdTokenHint("id_token_hint is not an ID token issued here")
    if isinstance(iat, bool) or not isinstance(iat, int | float) or "events" in claims:
        raise InvalidIdTokenHint("id_token_hint is not an ID token")
    age = now.timestamp() - iat
    tolerance = settings.tokens.clock_tolerance
    if age < -tolerance or age > settings.tokens.id_token_ttl + settings.authorization.session_ttl:
        raise InvalidIdTokenHint("id_token_hint is too old or from the future")
    client = await services.clients.get(aud) if len(aud) <= 255 else None
    if client is None:
        raise InvalidIdTokenHint("id_token_hint names a client that is not registered")
    return IdTokenHint(client, sub, sid if isinstance(sid, str) else None)


async def logout_token(services: Services, client: Client, session: Session, now: dt.datetime) -> str:
    """A logout token for ``client`` about ``session`` (OIDC Back-Channel Logout §2.4)."""
    settings = services.settings
    iat = int(now.timestamp())
    claims = {"iss": settings.issuer, "aud": client.client_id, "iat": iat,
              "exp": iat + int(settings.logout.logout_token_ttl), "jti": secrets.token_urlsafe(24),
              "sub": subject_for(session.account_id, client, settings), "sid": session.sid,
              "events": {BACKCHANNEL_EVENT: {}}}
    signer = await services.keyset.signer(client.id_token_signed_response_alg, now)
    return encode_jwt(claims, signer, typ=LOGOUT_TOKEN_TYP)


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of telling one client: ``status`` is its HTTP status, or None when it could not be reached."""

    client_id: str
    delivered: bool
    status: int | None


async def _deliver(services: Services, client: Client, session: Session, now: dt.datetime) -> Delivery:
    assert client.backchannel_logout_uri is not None
    try:
        token = await logout_token(services, client, session, now)
        response = await services.outbound.request(
            "POST", client.backchannel_logout_uri, data={"logout_token": token},
            headers={"Cache-Control": "no-store"}, deadline=services.settings.logout.backchannel_timeout,
            max_bytes=MAX_ANSWER_OCTETS)
    except Exception as exc:  # refused, unreachable, timed out, or no key to sign: never stops the logout (§2.8)
        reason = exc.reason.value if isinstance(exc, OutboundError) else type(exc).__name__
        _log.warning("backchannel_logout_failed", extra={"client_id": client.client_id, "reason": reason})
        return Delivery(client.client_id, False, None)
    delivered = response.status in (200, 204)
    if not delivered:
        _log.warning("backchannel_logout_refused", extra={"client_id": client.client_id, "status": response.status})
    return Delivery(client.client_id, delivered, response.status)


async def notify_clients(services: Services, session: Session, now: dt.datetime) -> list[Delivery]:
    """Send a logout token to every client of ``session`` that registered a ``backchannel_logout_uri``."""
    clients = [c for c in [await services.clients.get(cid) for cid in session.clients]
               if c is not None and c.backchannel_logout_uri is not None]
    if not clients:
        return []
    deliveries = await asyncio.gather(*(_deliver(services, c, session, now) for c in clients))
    _log.info("backchannel_logout", extra={"sid_clients": len(clients),
                                           "delivered": sum(d.delivered for d in deliveries)})
    return list(deliveries)


__all__ = ["BACKCHANNEL_EVENT", "LOGOUT_TOKEN_TYP", "Delivery", "IdTokenHint", "InvalidIdTokenHint", "logout_token",
           "notify_clients", "verify_id_token_hint"]
