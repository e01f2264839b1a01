"""Counter readers: card agents registered as CIBA authentication devices (CIBA Core 1.0 §1, "Authentication
Device"), and the CIBA settings of clients.

A counter's card agent has its own P-256 key (``python -m cardreader counter-key FILE`` makes one and prints the
public JWK). An administrator registers that public key under the reader's name
(``python -m idp counter add NAME --jwk FILE``); from then on the agent proves each request to the provider with a
short-lived ES256 JWT (:func:`verify_agent_assertion`): ``iss`` = the reader's name, ``aud`` = the provider's URL
of the endpoint, ``iat``/``exp`` at most :data:`MAX_ASSERTION_LIFETIME` apart, a ``jti`` used once. Another
host cannot act for the reader without its private key; a replayed request fails.

Clients name a reader in CIBA's ``login_hint`` as ``reader:NAME`` (:data:`LOGIN_HINT_PREFIX`): the counter, never
a person (the provider knows no person before the card is read). Objects:

==================  ===============  =====================================================================
kind                id               payload
==================  ===============  =====================================================================
``CounterReader``   the name         ``jwk`` (public), ``registered_at``; lives :data:`REGISTRATION_LIFETIME`
``CounterSeen``     the name         ``at``: when the agent last asked for work (online if recent)
``CibaClient``      the client id    ``mode`` (``poll``/``ping``), ``notification_endpoint`` (ping)
``CounterBusy``     the name         ``pending``: the reader's current CIBA request
==================  ===============  =====================================================================
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from idp.oauth.client_auth import single_use_key
from idp.runtime import Services
from keys.errors import VerificationError
from keys.jose.b64 import b64url_decode_loose
from keys.jose.json import loads_object
from keys.jose.jwk import VerificationKey, jwk_thumbprint
from keys.jose.jwt import verify_jwt

READER_KIND: Final = "CounterReader"
SEEN_KIND: Final = "CounterSeen"
CIBA_CLIENT_KIND: Final = "CibaClient"
JTI_KIND: Final = "CounterJti"
#: The reader's one CIBA request at a time (payload ``pending``), until it is answered or expires.
BUSY_KIND: Final = "CounterBusy"
LOGIN_HINT_PREFIX: Final = "reader:"
READER_NAME: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
MAX_ASSERTION_LIFETIME: Final = dt.timedelta(seconds=60)
#: A reader is online while its agent asked for work this recently.
ONLINE_WITHIN: Final = dt.timedelta(seconds=15)
REGISTRATION_LIFETIME: Final = dt.timedelta(days=3650)
DeliveryMode = Literal["poll", "ping"]


class AgentRefused(Exception):
    """An agent request that is not signed by a registered reader's key (or is a replay)."""


@dataclass(frozen=True, slots=True)
class CibaClient:
    """A client's CIBA delivery (CIBA Core §4: ``backchannel_token_delivery_mode``,
    ``backchannel_client_notification_endpoint``); a client without a record polls."""

    mode: DeliveryMode = "poll"
    notification_endpoint: str | None = None


def reader_from_hint(login_hint: str) -> str | None:
    """The reader a ``login_hint`` of the form ``reader:NAME`` names, or None if it is not one."""
    if not login_hint.startswith(LOGIN_HINT_PREFIX):
        return None
    name = login_hint[len(LOGIN_HINT_PREFIX):]
    return name if READER_NAME.fullmatch(name) else None


async def register_reader(services: Services, name: str, jwk: Mapping[str, Any], now: dt.datetime) -> None:
    """Register (or re-key) reader ``name`` with the agent's public ``jwk`` (EC P-256, no private part)."""
    if not READER_NAME.fullmatch(name):
        raise ValueError("a reader name is 1-63 of a-z 0-9 . _ - (starting with a letter or digit)")
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or "d" in jwk:
        raise ValueError("the agent's key is a public EC P-256 JWK")
    VerificationKey.from_jwk({**jwk, "alg": "ES256"})
    public = {k: jwk[k] for k in ("kty", "crv", "x", "y")}
    await services.objects.upsert(READER_KIND, name, {"jwk": public, "registered_at": int(now.timestamp())},
                                  now + REGISTRATION_LIFETIME)


async def remove_reader(services: Services, name: str) -> None:
    """Forget reader ``name`` (its agent can no longer ask for work)."""
    await services.objects.destroy(READER_KIND, name)


async def reader_known(services: Services, name: str, now: dt.datetime) -> bool:
    """Whether ``name`` is a registered reader."""
    return await services.objects.find(READER_KIND, name, now=now) is not None


async def reader_online(services: Services, name: str, now: dt.datetime) -> bool:
    """Whether the reader's agent asked for work within :data:`ONLINE_WITHIN`."""
    return await services.objects.find(SEEN_KIND, name, now=now) is not None


async def verify_agent_assertion(services: Services, assertion: str, audience: str,
                                 now: dt.datetime) -> tuple[str, Mapping[str, Any]]:
    """The name of the reader whose agent signed ``assertion`` for ``audience``, and the assertion's claims; marks
    the reader online.
    Raises :class:`AgentRefused` for anything else (unknown reader, bad signature, expired, replayed)."""
    parts = assertion.split(".")
    try:
        unverified = loads_object(b64url_decode_loose(parts[1]), what="agent assertion") if len(parts) == 3 else {}
    except (ValueError, VerificationError):
        raise AgentRefused("unreadable assertion") from None
    name = unverified.get("iss")
    if not isinstance(name, str) or not READER_NAME.fullmatch(name):
        raise AgentRefused("no reader name")
    stored = await services.objects.find(READER_KIND, name, now=now)
    if stored is None:
        raise AgentRefused("unknown reader")
    jwk = stored.payload["jwk"]
    key = VerificationKey.from_jwk({**jwk, "alg": "ES256", "kid": jwk_thumbprint(jwk)})  # the agent's kid (RFC 7638)
    leeway = dt.timedelta(seconds=services.settings.tokens.clock_tolerance)
    try:
        claims = verify_jwt(assertion, algorithms=("ES256",), typ=None, issuer=name, audience=audience, at=now,
                            leeway=leeway, required_claims=("exp", "iat", "jti"), keys=(key,)).claims
    except VerificationError as exc:
        raise AgentRefused(f"assertion refused: {exc}") from None
    expires = dt.datetime.fromtimestamp(claims["exp"], dt.UTC)
    issued = dt.datetime.fromtimestamp(claims["iat"], dt.UTC)
    if expires - issued > MAX_ASSERTION_LIFETIME or not isinstance(claims["jti"], str) or len(claims["jti"]) > 255:
        raise AgentRefused("assertion lives too long or has a bad jti")
    if not await services.objects.remember_once(JTI_KIND, single_use_key(name, claims["jti"]),
                                                expires_at=expires + leeway, now=now):
        raise AgentRefused("assertion replayed")
    await services.objects.upsert(SEEN_KIND, name, {"at": int(now.timestamp())}, now + ONLINE_WITHIN)
    return name, claims


async def set_ciba_client(services: Services, client_id: str, client: CibaClient, now: dt.datetime) -> None:
    """Record a client's CIBA delivery mode (ping needs an https notification endpoint; http only in test mode)."""
    if client.mode == "ping" and not client.notification_endpoint:
        raise ValueError("ping mode needs backchannel_client_notification_endpoint")
    endpoint = client.notification_endpoint
    if endpoint is not None and not (endpoint.startswith("https://") or (
            services.settings.test_mode and endpoint.startswith("http://"))):
        raise ValueError("backchannel_client_notification_endpoint must be https")
    await services.objects.upsert(CIBA_CLIENT_KIND, client_id, {"mode": client.mode, "notification_endpoint": endpoint},
                                  now + REGISTRATION_LIFETIME)


async def recorded_ciba_client(services: Services, client_id: str, now: dt.datetime) -> CibaClient | None:
    """The client's recorded CIBA delivery, if one was recorded."""
    stored = await services.objects.find(CIBA_CLIENT_KIND, client_id, now=now)
    if stored is None:
        return None
    return CibaClient(stored.payload["mode"], stored.payload.get("notification_endpoint"))


async def ciba_client(services: Services, client_id: str, now: dt.datetime) -> CibaClient:
    """The client's CIBA delivery (poll when none was recorded)."""
    return await recorded_ciba_client(services, client_id, now) or CibaClient()


async def remove_ciba_client(services: Services, client_id: str) -> None:
    """Forget the client's CIBA delivery (it polls)."""
    await services.objects.destroy(CIBA_CLIENT_KIND, client_id)


__all__ = ["BUSY_KIND", "LOGIN_HINT_PREFIX", "READER_NAME", "AgentRefused", "CibaClient", "DeliveryMode", "ciba_client",
           "reader_from_hint", "reader_known", "reader_online", "recorded_ciba_client", "register_reader",
           "remove_ciba_client", "remove_reader", "set_ciba_client", "verify_agent_assertion"]
