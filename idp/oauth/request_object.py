"""Request objects (JAR, RFC 9101) given by value (``request``) at the authorization and PAR endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from idp.clients import Client
from idp.errors import InvalidRequest
from idp.oauth.client_auth import ASSERTION_ALGORITHMS, client_keys
from idp.runtime import Services
from idp.settings import Settings
from keys.errors import Reason, VerificationError
from keys.jose.jwt import verify_jwt

#: FAPI 2.0 Message Signing §5.3: a request object lives at most 60 minutes (exp - nbf).
MAX_LIFETIME: Final = dt.timedelta(minutes=60)
_ACCEPTED_TYP: Final = ("oauth-authz-req+jwt", None)


def feature_metadata(settings: Settings) -> dict[str, Any]:
    """OIDC Discovery §3: the algorithms request objects may be signed with (never ``none``)."""
    return {"request_object_signing_alg_values_supported": list(ASSERTION_ALGORITHMS)}


class InvalidRequestObject(InvalidRequest):
    """RFC 9101 §6.3 ``invalid_request_object``."""

    error = "invalid_request_object"


async def decode_request_object(
    request: str, *, client: Client, services: Services, now: dt.datetime
) -> dict[str, Any]:
    """The authorization request parameters inside a signed request object from ``client``.

    RFC 9101 §6.1–6.3: signed with one of the client's registered keys (``alg`` allow-listed, never
    ``none``), ``iss`` = ``client_id`` (RFC 9101 §10.2 / FAPI 2.0), ``aud`` = the issuer, ``exp`` present
    and bounded, ``nbf`` not in the future and not too old, ``client_id`` inside equal to the outer one.
    Raises :class:`idp.errors.InvalidRequest` (``invalid_request_object``) otherwise.
    """
    leeway = dt.timedelta(seconds=services.settings.tokens.clock_tolerance)
    keys = client_keys(client)
    if not keys:
        raise InvalidRequestObject("the client has no registered key to sign request objects")
    verified = None
    error: VerificationError | None = None
    for typ in _ACCEPTED_TYP:  # RFC 9101 §10.8 recommends the explicit type; it stays optional for clients
        try:
            verified = verify_jwt(
                request, algorithms=ASSERTION_ALGORITHMS, typ=typ, issuer=client.client_id,
                audience=services.settings.issuer, at=now, leeway=leeway, required_claims=("exp", "nbf"),
                keys=keys,
            )
            break
        except VerificationError as exc:  # report why the attempt whose typ fitted failed
            if error is None or error.reason is Reason.TYP_MISMATCH:
                error = exc
    if verified is None:
        reason = error.reason if error is not None else "unverified"
        raise InvalidRequestObject(f"request object refused: {reason}", detail=str(error))
    claims = dict(verified.claims)
    if claims["exp"] - claims["nbf"] > MAX_LIFETIME.total_seconds():
        raise InvalidRequestObject("request object lives longer than 60 minutes")
    if now.timestamp() - claims["nbf"] > MAX_LIFETIME.total_seconds() + leeway.total_seconds():
        raise InvalidRequestObject("request object nbf is too old")
    if claims.get("client_id", client.client_id) != client.client_id:
        raise InvalidRequestObject("client_id inside the request object differs")
    for name in ("iss", "aud", "exp", "nbf", "iat", "jti", "request", "request_uri"):
        claims.pop(name, None)
    claims["client_id"] = client.client_id
    return claims
