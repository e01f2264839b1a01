"""JWT claims on top of :func:`keys.jose.jws.verify_jws`: :func:`verify_jwt` (RFC 7519 §7.2, RFC 8725).

The signature is verified first; only then are the claims read, from a strict JSON object (duplicate names
rejected). Checks, at the caller's time ``at`` with a symmetric ``leeway`` (RFC 7519 §4.1.4–4.1.6):

* ``exp``, ``nbf``, ``iat`` are JSON numbers (never booleans or strings) — ``MALFORMED``;
* ``at < exp + leeway`` — else ``TOKEN_EXPIRED``; ``at >= nbf - leeway`` — else ``TOKEN_NOT_YET_VALID``;
* ``iat <= at + leeway`` — else ``TOKEN_ISSUED_IN_FUTURE``; with ``max_age``, ``at - iat <= max_age + leeway`` —
  else ``TOKEN_EXPIRED``;
* ``iss`` equals ``issuer`` exactly (``WRONG_ISSUER``); ``aud``, a string or an array of strings, contains one of
  the accepted audiences (``WRONG_AUDIENCE``);
* every required claim is present (``MISSING_CLAIM``). ``issuer``/``audience``/``max_age`` make ``iss``/``aud``/
  ``iat`` required.

``issuer``, ``audience`` and ``typ`` have no defaults: a caller states ``None`` to skip a check on purpose
(a DPoP proof has neither ``iss`` nor ``aud``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from keys.errors import InvalidToken, MalformedInput, Reason
from keys.jose.json import loads_object
from keys.jose.jwk import VerificationKey
from keys.jose.jws import X5cTrust, verify_jws
from keys.limits import DEFAULT_LIMITS, Limits
from keys.signatures import JOSE, SignaturePolicy
from keys.x509.path import ValidatedPath


@dataclass(frozen=True, slots=True)
class VerifiedJwt:
    """A verified JWT: protected header, claims, the key that verified it and the ``x5c`` path if any."""

    header: Mapping[str, Any]
    claims: Mapping[str, Any]
    key: VerificationKey
    path: ValidatedPath | None = None


def verify_jwt(
    token: str,
    *,
    algorithms: Collection[str],
    typ: str | None,
    issuer: str | None,
    audience: str | Collection[str] | None,
    at: dt.datetime,
    leeway: dt.timedelta = dt.timedelta(0),
    required_claims: Collection[str] = ("exp",),
    max_age: dt.timedelta | None = None,
    keys: Sequence[VerificationKey] = (),
    allow_embedded_jwk: bool = False,
    x5c: X5cTrust | None = None,
    understood_crit: Collection[str] = (),
    policy: SignaturePolicy = JOSE,
    limits: Limits = DEFAULT_LIMITS,
) -> VerifiedJwt:
    """Verify a JWT: :func:`~keys.jose.jws.verify_jws` with the same key arguments, then the claims above."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    if leeway < dt.timedelta(0):
        raise ValueError("leeway must not be negative")
    jws = verify_jws(
        token,
        algorithms=algorithms,
        typ=typ,
        keys=keys,
        allow_embedded_jwk=allow_embedded_jwk,
        x5c=x5c,
        understood_crit=understood_crit,
        policy=policy,
        limits=limits,
    )
    if isinstance(jws.header.get("cty"), str) and jws.header["cty"].lower() in ("jwt", "application/jwt"):
        raise MalformedInput(Reason.MALFORMED, "nested JWTs are not accepted")
    claims = loads_object(jws.payload, what="JWT claims", limits=limits)
    required = set(required_claims)
    required |= {name for name, needed in (("iss", issuer), ("aud", audience), ("iat", max_age)) if needed is not None}
    if missing := sorted(required - claims.keys()):
        raise InvalidToken(Reason.MISSING_CLAIM, f"missing claims: {', '.join(missing)}")
    _check_times(claims, at.timestamp(), leeway.total_seconds(), max_age)
    if issuer is not None and claims["iss"] != issuer:
        raise InvalidToken(Reason.WRONG_ISSUER, "iss is not the expected issuer")
    if audience is not None:
        _check_audience(claims["aud"], {audience} if isinstance(audience, str) else set(audience))
    return VerifiedJwt(jws.header, MappingProxyType(claims), jws.key, jws.path)


def _numeric_date(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None and name not in claims:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedInput(Reason.MALFORMED, f"{name} is not a NumericDate")
    return float(value)


def _check_times(claims: Mapping[str, Any], now: float, leeway: float, max_age: dt.timedelta | None) -> None:
    exp, nbf, iat = (_numeric_date(claims, n) for n in ("exp", "nbf", "iat"))
    if exp is not None and now >= exp + leeway:
        raise InvalidToken(Reason.TOKEN_EXPIRED, "token has expired")
    if nbf is not None and now < nbf - leeway:
        raise InvalidToken(Reason.TOKEN_NOT_YET_VALID, "token is not valid yet (nbf)")
    if iat is not None:
        if iat > now + leeway:
            raise InvalidToken(Reason.TOKEN_ISSUED_IN_FUTURE, "token is issued in the future (iat)")
        if max_age is not None and now - iat > max_age.total_seconds() + leeway:
            raise InvalidToken(Reason.TOKEN_EXPIRED, "token is older than the maximum age")


def _check_audience(aud: object, accepted: set[str]) -> None:
    """RFC 7519 §4.1.3: a string or an array of strings, one of which must be ours."""
    values = [aud] if isinstance(aud, str) else aud
    if not isinstance(values, list) or not values or not all(isinstance(a, str) for a in values):
        raise MalformedInput(Reason.MALFORMED, "aud is not a string or a non-empty array of strings")
    if accepted.isdisjoint(values):
        raise InvalidToken(Reason.WRONG_AUDIENCE, "aud does not name this recipient")
