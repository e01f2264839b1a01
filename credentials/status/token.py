"""Status List Tokens in JWT format (draft-ietf-oauth-status-list §5.1): issuance and verification.

Verification (§8.3 step 3 and 4), every failure a :class:`~credentials.errors.StatusUnavailable` (no statement
about the status can be made, so the Referenced Token is rejected) with the reason of the failed check:

* a JWS with ``typ: statuslist+jwt``, an allowed algorithm, signed by a caller key or an ``x5c`` chain to the
  caller's trust store (:func:`keys.jose.verify_jwt`);
* ``sub`` and ``iat`` present (``missing_claim``); ``exp`` not passed (``token_expired``); ``iat`` not in the future;
* ``sub`` equals the ``uri`` of the Referenced Token (``status_list_mismatch``);
* ``ttl``, if present, a positive number (``malformed``); ``status_list`` a valid Status List (:mod:`.bits`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from credentials.errors import CredentialReason, MalformedCredential, StatusUnavailable, translated
from credentials.limits import DEFAULT_CREDENTIAL_LIMITS, CredentialLimits
from credentials.status.bits import StatusList
from keys.errors import Reason
from keys.jose.jwk import VerificationKey
from keys.jose.jws import X5cTrust
from keys.jose.jwt import verify_jwt
from keys.service.jws import encode_jwt
from keys.service.signer import Signer
from keys.x509.path import ValidatedPath

#: The Status List Token ``typ`` (§5.1).
STATUS_LIST_TYP = "statuslist+jwt"


def status_list_token(
    status_list: StatusList,
    *,
    uri: str,
    iat: dt.datetime,
    signer: Signer,
    exp: dt.datetime | None = None,
    ttl: dt.timedelta | None = None,
    header: Mapping[str, Any] | None = None,
    extra_claims: Mapping[str, Any] | None = None,
) -> str:
    """A signed Status List Token for the list served at ``uri`` (its ``sub``), issued at ``iat``, optionally
    expiring at ``exp`` and cacheable for ``ttl``; ``header`` adds e.g. ``x5c`` (HAIP)."""
    claims: dict[str, Any] = dict(extra_claims or {})
    claims.update({"sub": uri, "iat": int(iat.timestamp()), "status_list": status_list.to_json()})
    if exp is not None:
        claims["exp"] = int(exp.timestamp())
    if ttl is not None:
        if ttl.total_seconds() < 1:
            raise ValueError("ttl is a positive number of seconds")
        claims["ttl"] = int(ttl.total_seconds())
    return encode_jwt(claims, signer, typ=STATUS_LIST_TYP, header=header)


@dataclass(frozen=True, slots=True)
class StatusListToken:
    """A verified Status List Token: its URI (``sub``), times, cache lifetime and the decoded list."""

    uri: str
    iat: dt.datetime
    exp: dt.datetime | None
    ttl: dt.timedelta | None
    status_list: StatusList
    claims: Mapping[str, Any] = field(repr=False)
    path: ValidatedPath | None = field(default=None, repr=False)


def verify_status_list_token(
    token: str,
    *,
    uri: str,
    at: dt.datetime,
    keys: tuple[VerificationKey, ...] = (),
    x5c: X5cTrust | None = None,
    algorithms: frozenset[str] = frozenset({"ES256"}),
    leeway: dt.timedelta = dt.timedelta(0),
    limits: CredentialLimits = DEFAULT_CREDENTIAL_LIMITS,
) -> StatusListToken:
    """Verify a Status List Token fetched from ``uri`` (checks in the module docstring)."""
    with translated(StatusUnavailable):
        jwt = verify_jwt(
            token, algorithms=algorithms, typ=STATUS_LIST_TYP, issuer=None, audience=None, at=at, leeway=leeway,
            required_claims=("sub", "iat", "status_list"), keys=keys, x5c=x5c, limits=limits.status_jose,
        )
    claims = jwt.claims
    if claims["sub"] != uri:
        raise StatusUnavailable(CredentialReason.STATUS_LIST_MISMATCH, "the Status List Token's sub is not the uri")
    ttl = claims.get("ttl")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0):
        raise MalformedCredential(Reason.MALFORMED, "ttl is not a positive number")
    status_list = StatusList.from_json(claims["status_list"], limits=limits)
    exp = claims.get("exp")
    return StatusListToken(
        uri=uri,
        iat=dt.datetime.fromtimestamp(claims["iat"], dt.UTC),
        exp=dt.datetime.fromtimestamp(exp, dt.UTC) if exp is not None else None,
        ttl=dt.timedelta(seconds=ttl) if ttl is not None else None,
        status_list=status_list,
        claims=claims,
        path=jwt.path,
    )
