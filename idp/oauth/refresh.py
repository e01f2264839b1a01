"""Refresh tokens (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14.2).

A refresh token is 256 random bits, stored only as its SHA-256 (objects of kind ``RefreshToken``, under the
grant, expiring with it: rotation never extends a grant). Each use consumes the token atomically and
issues a successor, so every grant has one live refresh token at a time.

Presenting a consumed token again (a replay) is either a retry or an attack (RFC 9700 §4.14.2), and is always
detected: logged as ``refresh_replay`` (outcome, the client, the first 16 hex digits of the grant id's SHA-256)
and counted (``idp_refresh_replays{outcome}``). The policy:

* A public client (``token_endpoint_auth_method`` none) whose refresh token is not sender-constrained (not bound
  to a DPoP key) gets no grace: whoever presents its token proves nothing but possession, so any replay of a
  rotated token revokes the grant with all its tokens (:func:`idp.oauth.tokens.revoke_grant`).
* Every other client gets ``tokens.refresh_token_reuse_grace`` after a rotation, in which ONE retry by the same
  client with the same DPoP key and the same scope gets the very same response back, successor included: the
  winner stores it encrypted under a key derived from the old token (HKDF-SHA256, AES-256-GCM; kind
  ``RefreshRetry``, consumed by that retry), so nothing usable lies in the database and only a holder of the old
  token can read it. A second replay within the grace, a replay that differs, or one after the grace revokes
  the grant. A retry that arrives while the winner is still writing waits for it, for at most
  :data:`RETRY_WAIT` seconds.

Refresh tokens of public clients that used DPoP are bound to that key (RFC 9449 §5); confidential
clients' are bound to the client by its authentication instead.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from idp.clients import AuthMethod, Client
from idp.errors import InvalidGrant, InvalidScope, InvalidToken
from idp.metrics import Metrics
from idp.oauth.dpop import DpopProof
from idp.oauth.tokens import (
    GRANT_KIND,
    MAX_TOKEN_CHARS,
    AccessToken,
    Authorization,
    issue_user_tokens,
    revoke_grant,
    verify_access_token,
)
from idp.runtime import Services
from idp.storage import StoredObject
from keys.errors import VerificationError
from keys.jose.b64 import b64url_decode, b64url_encode

REFRESH_KIND: Final = "RefreshToken"
RETRY_KIND: Final = "RefreshRetry"
#: Longest a retry waits for the rotation it lost to finish writing its response.
RETRY_WAIT: Final = 2.0
_POLL: Final = 0.05
_HKDF_INFO: Final = b"mynacard-id refresh-token retry"
_log = logging.getLogger("idp.refresh")


@dataclass(frozen=True, slots=True)
class RefreshToken:
    """A stored refresh token: the authorization it carries, the DPoP key it is bound to (public clients),
    its expiry (the grant's) and when it was consumed (rotated), if it was."""

    authorization: Authorization
    jkt: str | None
    expires_at: dt.datetime
    consumed_at: dt.datetime | None

    @property
    def client_id(self) -> str:
        """The client the token was issued to."""
        return self.authorization.client_id

    @classmethod
    def from_stored(cls, stored: StoredObject) -> RefreshToken:
        """From the object store's row."""
        grant_id = stored.grant_id or str(stored.payload["grant_id"])
        return cls(Authorization.from_payload(stored.payload, grant_id), stored.payload.get("jkt"), stored.expires_at,
                   stored.consumed_at)


def token_id(token: str) -> str:
    """The stored identifier of a refresh token: SHA-256 hex (the token itself is never stored)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def issue_refresh_token(
    services: Services, authorization: Authorization, *, jkt: str | None, expires_at: dt.datetime
) -> str:
    """A new refresh token for ``authorization``, bound to ``jkt`` when given, valid until ``expires_at``."""
    token = secrets.token_urlsafe(32)
    payload = {**authorization.to_payload(), "jkt": jkt}
    await services.objects.upsert(REFRESH_KIND, token_id(token), payload, expires_at, grant_id=authorization.grant_id)
    return token


def has_grace(client: Client, jkt: str | None) -> bool:
    """Whether a replay of ``client``'s refresh token bound to ``jkt`` may be a retry: not for public clients
    without sender constraint (RFC 9700 §4.14.2; module docstring)."""
    return client.auth_method is not AuthMethod.NONE or jkt is not None


def refresh_binding(client: Client, dpop: DpopProof | None, current: str | None = None) -> str | None:
    """The DPoP key a refresh token is bound to: kept once bound; else the proof's key for public clients
    (RFC 9449 §5)."""
    if current is not None:
        return current
    return dpop.jkt if dpop is not None and client.auth_method is AuthMethod.NONE else None


async def find_refresh_token(services: Services, token: str, now: dt.datetime) -> RefreshToken | None:
    """The unexpired stored refresh token ``token``, consumed or not; None when unknown."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    stored = await services.objects.find(REFRESH_KIND, token_id(token), now=now)
    return None if stored is None else RefreshToken.from_stored(stored)


def _retry_key(token: str) -> AESGCM:
    return AESGCM(HKDF(hashes.SHA256(), 32, salt=None, info=_HKDF_INFO).derive(token.encode("utf-8")))


def _seal(token: str, body: Mapping[str, Any], scope: tuple[str, ...], jkt: str | None) -> dict[str, Any]:
    nonce = os.urandom(12)
    sealed = _retry_key(token).encrypt(nonce, json.dumps(body).encode("utf-8"), token_id(token).encode("ascii"))
    return {"nonce": b64url_encode(nonce), "sealed": b64url_encode(sealed), "scope": sorted(scope), "jkt": jkt}


def _open(token: str, payload: Mapping[str, Any]) -> dict[str, Any] | None:
    try:
        plain = _retry_key(token).decrypt(b64url_decode(payload["nonce"], "nonce"),
                                          b64url_decode(payload["sealed"], "sealed"), token_id(token).encode("ascii"))
    except (InvalidTag, VerificationError, KeyError):
        return None
    body = json.loads(plain)
    return body if isinstance(body, dict) else None


async def refresh(
    services: Services,
    *,
    client: Client,
    token: str,
    scope: tuple[str, ...] | None,
    dpop: DpopProof | None,
    now: dt.datetime,
    metrics: Metrics | None = None,
) -> dict[str, Any]:
    """The refresh_token grant (RFC 6749 §6): rotate ``token`` and answer for ``scope`` (None: the granted
    scope; otherwise a subset of it: narrowing only). Replays follow the module docstring's policy, counted in
    ``metrics`` when given."""
    current = await find_refresh_token(services, token, now)
    if current is None:
        raise InvalidGrant("the refresh token is invalid, expired or revoked")
    authorization = current.authorization
    access_jkt = None if dpop is None else dpop.jkt
    if current.consumed_at is not None:  # a replay: the identical retry, or revoke, whatever else differs
        wanted = authorization.scope if scope is None else scope
        return await _retry_or_revoke(services, token, current, client, wanted, access_jkt, now, metrics)
    if authorization.client_id != client.client_id:
        raise InvalidGrant("the refresh token was issued to another client",
                           detail=f"issued to {authorization.client_id}")
    if current.jkt is not None and (dpop is None or dpop.jkt != current.jkt):
        raise InvalidGrant("the refresh token is bound to another DPoP key (RFC 9449 §5)")
    if scope is None:
        scope = authorization.scope
    elif not set(scope) <= set(authorization.scope):
        raise InvalidScope("the requested scope exceeds the granted scope (RFC 6749 §6)")
    consumed = await services.objects.consume_in_grant(REFRESH_KIND, token_id(token), GRANT_KIND, now=now)
    if consumed is None:
        if await services.objects.find(GRANT_KIND, authorization.grant_id, now=now) is None:
            raise InvalidGrant("the grant has been revoked or has expired")
        lost = await find_refresh_token(services, token, now)
        if lost is None or lost.consumed_at is None:
            raise InvalidGrant("the refresh token is invalid, expired or revoked")
        return await _retry_or_revoke(services, token, lost, client, scope, access_jkt, now, metrics)
    grant = consumed[1]
    successor = await issue_refresh_token(services, authorization, jkt=refresh_binding(client, dpop, current.jkt),
                                          expires_at=grant.expires_at)
    claims = grant.payload.get("claims") or {}
    body = await issue_user_tokens(services, client, authorization, scope=scope,
                                   released=claims.get("id_token") or {}, nonce=None, jkt=access_jkt,
                                   refresh_token=successor, now=now)
    grace = services.settings.tokens.refresh_token_reuse_grace
    if grace > 0 and has_grace(client, current.jkt):
        await services.objects.upsert(RETRY_KIND, token_id(token), _seal(token, body, scope, access_jkt),
                                      now + dt.timedelta(seconds=grace), grant_id=authorization.grant_id)
    return body


async def _retry_or_revoke(
    services: Services,
    token: str,
    used: RefreshToken,
    client: Client,
    scope: tuple[str, ...],
    jkt: str | None,
    now: dt.datetime,
    metrics: Metrics | None,
) -> dict[str, Any]:
    """A consumed token again: the stored response for the first identical retry (same client, DPoP key and scope)
    within the grace of a client that has one (:func:`has_grace`), else revoke the grant."""
    assert used.consumed_at is not None
    grace = dt.timedelta(seconds=services.settings.tokens.refresh_token_reuse_grace)
    grant_id = used.authorization.grant_id
    if client.client_id == used.client_id and has_grace(client, used.jkt) and now < used.consumed_at + grace:
        deadline = time.monotonic() + RETRY_WAIT
        while await services.objects.find(RETRY_KIND, token_id(token), now=now) is None:
            if time.monotonic() >= deadline:
                raise InvalidGrant("the refresh token is being rotated; retry shortly",
                                   detail=f"grant {grant_id}: no retry record after {RETRY_WAIT} s")
            await asyncio.sleep(_POLL)
        stored = await services.objects.consume(RETRY_KIND, token_id(token), now=now)  # one retry only
        same = stored is not None and stored.payload.get("scope") == sorted(scope) and stored.payload.get("jkt") == jkt
        body = _open(token, stored.payload) if stored is not None and same else None
        if body is not None:
            _replayed(metrics, client, grant_id, "answered")
            return body
    _replayed(metrics, client, grant_id, "revoked")
    raise await revoke_grant(services, grant_id, "refresh_token")


def _replayed(metrics: Metrics | None, client: Client, grant_id: str, outcome: str) -> None:
    """Log and count a replay of a rotated refresh token (the grant id only as a hash prefix)."""
    grant = hashlib.sha256(grant_id.encode("utf-8")).hexdigest()[:16]
    _log.log(logging.INFO if outcome == "answered" else logging.WARNING, "refresh_replay",
             extra={"outcome": outcome, "client_id": client.client_id, "grant": grant})
    if metrics is not None:
        metrics.refresh_replays.labels(outcome).inc()


async def find_token(services: Services, token: str, now: dt.datetime) -> AccessToken | RefreshToken | None:
    """The access token (a JWT of ours that verifies) or the stored refresh token (opaque, so without
    dots) ``token`` is; None for anything else. Token type hints are not needed (RFC 7009 §2.1, RFC 7662 §2.1)."""
    if "." not in token:
        return await find_refresh_token(services, token, now)
    try:
        return await verify_access_token(services, token, now)
    except InvalidToken:
        return None
