"""Access tokens (RFC 9068 JWTs) and ID tokens (OIDC Core §2): issuance, verification, revocation.

Access tokens are JWTs signed with ``tokens.access_token_alg``, typed ``at+jwt`` (RFC 9068 §2.1) so that
no other JWT of ours (an ID token is typed ``JWT``) passes for one, with ``iss``, ``aud`` (the issuer: the
userinfo and introspection endpoints are its resources), ``sub``, ``client_id``, ``scope``, ``iat``,
``exp``, ``jti``, ``auth_time``/``acr``/``amr`` of the login (RFC 9068 §2.2.1), ``gid`` (the grant) and
``cnf.jkt`` when DPoP-bound (RFC 9449 §6.1). Resource servers may verify them offline against the JWKS;
:func:`verify_access_token` also sees revocation at once: the grant must still exist, the client still be
registered, and the ``jti`` not be revoked (RFC 7009; objects of kind ``RevokedAccessToken`` until ``exp``).

ID tokens are signed with the client's ``id_token_signed_response_alg`` (ES256 by default) and carry
``at_hash`` (OIDC Core §3.3.2.11) beside the claims the grant released.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from idp.clients import Client
from idp.errors import InvalidGrant, InvalidToken
from idp.oauth.authorization_request import OPENID, PROTOCOL_CLAIMS
from idp.oauth.scope import format_scope
from idp.runtime import Services
from idp.storage.audit import record
from keys.errors import VerificationError
from keys.jose.b64 import b64url_encode
from keys.jose.jwk import VerificationKey
from keys.jose.jwt import verify_jwt
from keys.service import encode_jwt

ACCESS_TOKEN_TYP: Final = "at+jwt"
GRANT_KIND: Final = "Grant"
REVOKED_KIND: Final = "RevokedAccessToken"
#: Longest token string looked at (ours are far shorter); longer input is simply not a token of ours.
MAX_TOKEN_CHARS: Final = 8192


@dataclass(frozen=True, slots=True)
class Authorization:
    """A person's authorization of one client, as authorization codes and refresh tokens carry it."""

    grant_id: str
    client_id: str
    sub: str
    account_id: str
    scope: tuple[str, ...]
    auth_time: int
    acr: str | None
    amr: tuple[str, ...]
    sid: str | None

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], grant_id: str) -> Authorization:
        """From a stored code or refresh-token payload (the contract's field names)."""
        return cls(grant_id=grant_id, client_id=str(payload["client_id"]), sub=str(payload["sub"]),
                   account_id=str(payload["account_id"]), scope=tuple(str(payload["scope"]).split()),
                   auth_time=int(payload["auth_time"]), acr=payload.get("acr"), amr=tuple(payload.get("amr") or ()),
                   sid=payload.get("sid"))

    def to_payload(self) -> dict[str, Any]:
        """The JSON members :meth:`from_payload` reads."""
        return {"grant_id": self.grant_id, "client_id": self.client_id, "sub": self.sub,
                "account_id": self.account_id, "scope": format_scope(self.scope), "auth_time": self.auth_time,
                "acr": self.acr, "amr": list(self.amr), "sid": self.sid}


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A verified access token: its claims, the client it was issued to and the active grant's payload
    (``None`` for client_credentials tokens, which have no grant)."""

    claims: Mapping[str, Any]
    client: Client
    grant: Mapping[str, Any] | None

    @property
    def jti(self) -> str:
        """The token's identifier (RFC 7519 §4.1.7)."""
        return str(self.claims["jti"])

    @property
    def client_id(self) -> str:
        """The client the token was issued to."""
        return self.client.client_id

    @property
    def sub(self) -> str:
        """The subject: a pairwise identifier, or the client_id for client_credentials tokens."""
        return str(self.claims["sub"])

    @property
    def scope(self) -> tuple[str, ...]:
        """The granted scope values."""
        return tuple(str(self.claims.get("scope", "")).split())

    @property
    def grant_id(self) -> str | None:
        """The grant the token was issued under."""
        gid = self.claims.get("gid")
        return None if gid is None else str(gid)

    @property
    def jkt(self) -> str | None:
        """The DPoP key thumbprint the token is bound to (RFC 9449 §6.1), if any."""
        cnf = self.claims.get("cnf")
        return str(cnf["jkt"]) if isinstance(cnf, Mapping) and "jkt" in cnf else None

    @property
    def token_type(self) -> str:
        """``DPoP`` for bound tokens, ``Bearer`` otherwise."""
        return token_type(self.jkt)

    @property
    def expires_at(self) -> int:
        """``exp`` as seconds since the epoch."""
        return int(self.claims["exp"])


class TokenReuse(InvalidGrant):
    """A used authorization code or a rotated refresh token was presented again; its grant was revoked
    (RFC 6749 §4.1.2, RFC 9700 §4.14.2). ``kind`` names which: ``authorization_code`` or ``refresh_token``."""

    def __init__(self, kind: str, description: str, *, detail: str | None = None) -> None:
        super().__init__(description, detail=detail)
        self.kind = kind


async def revoke_grant(services: Services, grant_id: str | None, kind: str) -> TokenReuse:
    """Revoke the grant (and so every token issued under it) after a reuse of ``kind``; the error to raise."""
    revoked = 0 if grant_id is None else await services.objects.revoke_by_grant(grant_id)
    await record(services, "grant_revoked", grant=grant_id, reason=f"{kind}_reused", count=revoked)
    return TokenReuse(kind, f"the {kind.replace('_', ' ')} was already used; the grant is revoked",
                      detail=f"grant {grant_id}: {revoked} objects revoked")


def token_type(jkt: str | None) -> str:
    """The ``token_type`` of an access token bound to ``jkt`` (RFC 9449 §5) or unbound (RFC 6750)."""
    return "DPoP" if jkt is not None else "Bearer"


def at_hash(access_token: str) -> str:
    """OIDC Core §3.3.2.11: base64url of the left half of the hash of the ASCII access token; SHA-256 for
    every algorithm we sign with (ES256, PS256, RS256)."""
    return b64url_encode(hashlib.sha256(access_token.encode("ascii")).digest()[:16])


def _epoch(now: dt.datetime) -> int:
    return int(now.timestamp())


async def issue_access_token(
    services: Services,
    *,
    client_id: str,
    sub: str,
    scope: Sequence[str],
    now: dt.datetime,
    authorization: Authorization | None = None,
    jkt: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """A signed RFC 9068 access token and its claims; ``authorization`` is None for client_credentials."""
    settings = services.settings
    iat = _epoch(now)
    claims: dict[str, Any] = {"iss": settings.issuer, "sub": sub, "aud": settings.issuer, "client_id": client_id,
                              "iat": iat, "exp": _epoch(now + dt.timedelta(seconds=settings.tokens.access_token_ttl)),
                              "jti": secrets.token_urlsafe(24)}
    if scope:
        claims["scope"] = format_scope(scope)
    if authorization is not None:
        claims.update(gid=authorization.grant_id, auth_time=authorization.auth_time)
        if authorization.acr is not None:
            claims["acr"] = authorization.acr
        if authorization.amr:
            claims["amr"] = list(authorization.amr)
    if jkt is not None:
        claims["cnf"] = {"jkt": jkt}
    signer = await services.keyset.signer(settings.tokens.access_token_alg, now)
    return encode_jwt(claims, signer, typ=ACCESS_TOKEN_TYP), claims


async def issue_id_token(
    services: Services,
    client: Client,
    authorization: Authorization,
    *,
    released: Mapping[str, Any],
    nonce: str | None,
    access_token: str | None,
    now: dt.datetime,
) -> str:
    """An ID token for ``client`` (OIDC Core §2, §3.1.3.6; §12.2 on refresh, where ``nonce`` is None),
    signed with its ``id_token_signed_response_alg``; ``released`` are the claims the person released."""
    settings = services.settings
    iat = _epoch(now)
    claims: dict[str, Any] = {name: value for name, value in released.items() if name not in PROTOCOL_CLAIMS}
    claims.update(iss=settings.issuer, sub=authorization.sub, aud=client.client_id, iat=iat,
                  exp=_epoch(now + dt.timedelta(seconds=settings.tokens.id_token_ttl)),
                  auth_time=authorization.auth_time)
    optional = {"nonce": nonce, "acr": authorization.acr, "amr": list(authorization.amr) or None,
                "sid": authorization.sid, "at_hash": None if access_token is None else at_hash(access_token)}
    claims.update({name: value for name, value in optional.items() if value is not None})
    signer = await services.keyset.signer(client.id_token_signed_response_alg, now)
    return encode_jwt(claims, signer)


async def issue_user_tokens(
    services: Services,
    client: Client,
    authorization: Authorization,
    *,
    scope: tuple[str, ...],
    released: Mapping[str, Any],
    nonce: str | None,
    jkt: str | None,
    refresh_token: str | None,
    now: dt.datetime,
) -> dict[str, Any]:
    """The RFC 6749 §5.1 / OIDC Core §3.1.3.3 token response for a person's grant: an access token for
    ``scope``, an ID token when ``scope`` holds ``openid``, and ``refresh_token`` when given."""
    access_token, claims = await issue_access_token(services, client_id=client.client_id, sub=authorization.sub,
                                                    scope=scope, now=now, authorization=authorization, jkt=jkt)
    body: dict[str, Any] = {"access_token": access_token, "token_type": token_type(jkt),
                            "expires_in": claims["exp"] - claims["iat"], "scope": format_scope(scope)}
    if OPENID in scope:
        body["id_token"] = await issue_id_token(services, client, authorization, released=released, nonce=nonce,
                                                access_token=access_token, now=now)
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    return body


@lru_cache(maxsize=64)
def _verification_key(jwk_json: str) -> VerificationKey:
    return VerificationKey.from_jwk(json.loads(jwk_json))


def _keys(jwks: Iterable[Mapping[str, Any]]) -> list[VerificationKey]:
    return [_verification_key(json.dumps(jwk, sort_keys=True)) for jwk in jwks]


def _string(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidToken("the access token is invalid", detail=f"claim {name} is not a non-empty string")
    return value


def _optional_string(claims: Mapping[str, Any], name: str) -> str | None:
    return None if claims.get(name) is None else _string(claims, name)


async def verify_access_token(services: Services, token: str, now: dt.datetime) -> AccessToken:
    """The access token ``token`` if it is ours, unexpired, its grant active, its client registered and it
    is not revoked; :class:`idp.errors.InvalidToken` otherwise (RFC 6750 §3.1)."""
    settings = services.settings
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise InvalidToken("the access token is invalid", detail="empty or oversize")
    try:
        verified = verify_jwt(token, algorithms=settings.keys.algorithms, typ=ACCESS_TOKEN_TYP, issuer=settings.issuer,
                              audience=settings.issuer, at=now,
                              leeway=dt.timedelta(seconds=settings.tokens.clock_tolerance),
                              required_claims=("exp", "iat", "jti", "sub", "client_id"),
                              keys=_keys((await services.keyset.jwks(now))["keys"]))
    except VerificationError as exc:
        raise InvalidToken("the access token is invalid or has expired", detail=exc.reason.value) from None
    claims = verified.claims
    jti, client_id, _ = _string(claims, "jti"), _string(claims, "client_id"), _string(claims, "sub")
    grant_id, _ = _optional_string(claims, "gid"), _optional_string(claims, "scope")
    cnf = claims.get("cnf")
    if cnf is not None and not (isinstance(cnf, Mapping) and _string(cnf, "jkt")):
        raise InvalidToken("the access token is invalid", detail="cnf without jkt")
    if len(jti) > 255:
        raise InvalidToken("the access token has been revoked", detail=f"jti {jti} revoked")
    grant_key = None if grant_id is None or len(grant_id) > 255 else (GRANT_KIND, grant_id)
    found = await services.objects.find_many([(REVOKED_KIND, jti)] + ([grant_key] if grant_key else []), now=now)
    if (REVOKED_KIND, jti) in found:
        raise InvalidToken("the access token has been revoked", detail=f"jti {jti} revoked")
    client = await services.clients.get(client_id)
    if client is None:
        raise InvalidToken("the access token's client is no longer registered", detail=f"client {client_id}")
    grant = None
    if grant_id is not None:
        stored = None if grant_key is None else found.get(grant_key)
        if stored is None or stored.payload.get("client_id") != client_id:
            raise InvalidToken("the access token's grant has been revoked or has expired", detail=f"grant {grant_id}")
        grant = stored.payload
    return AccessToken(claims, client, grant)


async def revoke_access_token(services: Services, token: AccessToken) -> None:
    """Record the token's ``jti`` as revoked until the token would have expired anyway (RFC 7009 §2)."""
    expires_at = dt.datetime.fromtimestamp(token.expires_at, dt.UTC) + dt.timedelta(
        seconds=services.settings.tokens.clock_tolerance)
    await services.objects.upsert(REVOKED_KIND, token.jti, {"client_id": token.client_id}, expires_at)
