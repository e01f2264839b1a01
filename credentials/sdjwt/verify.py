"""SD-JWT verification (RFC 9901 §7.1 and §7.3): the one entry point :func:`verify_sd_jwt`.

Steps, in the order of the RFC; each failure is a :class:`~credentials.errors.CredentialError` with a reason:

1. Split the compact form (§4): size limits, components (``too_large``, ``malformed``).
2. Validate the Issuer-signed JWT (§7.1 step 2) with :func:`keys.jose.verify_jwt`: ``typ`` one of the accepted
   types (explicit typing, §9.11), an allowed asymmetric ``alg`` (never ``none``), the caller's keys or an
   ``x5c`` chain to the caller's trust store, ``iss`` when expected, ``exp``/``nbf``/``iat`` at ``at``.
   Signature and key failures are :class:`~credentials.errors.UntrustedIssuer`; claim failures
   :class:`~credentials.errors.InvalidCredential`.
3. ``_sd_alg`` is a string naming an allowed hash (``unsupported_hash_alg``; default ``sha-256``, §4.1.1).
4. Process the Disclosures (:mod:`credentials.sdjwt.process`, §7.1 steps 3 to 5).
5. Claims that control validity or binding (``iss``, ``exp``, ``nbf``, ``cnf``, ...) must not arrive through a
   Disclosure (§9.7; ``non_disclosable_claim``): step 2 checked them in the clear.
6. Key Binding (§7.3): required or not by the caller's policy, never by what the Holder sent. Required: the
   KB-JWT must verify (:mod:`credentials.sdjwt.keybinding`). Not required: the SD-JWT must end in ``~``
   (``unexpected_key_binding``, §4).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from credentials.errors import (
    CredentialReason,
    InvalidCredential,
    InvalidKeyBinding,
    UntrustedIssuer,
    translated,
)
from credentials.jose import unverified_header
from credentials.limits import DEFAULT_CREDENTIAL_LIMITS, CredentialLimits
from credentials.sdjwt.compact import CompactSdJwt
from credentials.sdjwt.disclosure import DEFAULT_HASH_ALG, Disclosure
from credentials.sdjwt.keybinding import KeyBindingPolicy, verify_key_binding
from credentials.sdjwt.process import Path, parse_disclosures, process
from keys.errors import InvalidToken, Reason
from keys.jose.jwk import VerificationKey
from keys.jose.jws import X5cTrust
from keys.jose.jwt import VerifiedJwt, verify_jwt
from keys.x509.path import ValidatedPath

#: Registered claims that decide validity or binding (RFC 9901 §9.7): never accepted from a Disclosure.
VALIDITY_CLAIMS = frozenset({"iss", "aud", "exp", "nbf", "cnf"})
#: JWT claim failures (as opposed to key and signature failures) of the Issuer-signed JWT.
_CLAIM_REASONS = frozenset({
    Reason.TOKEN_EXPIRED, Reason.TOKEN_NOT_YET_VALID, Reason.TOKEN_ISSUED_IN_FUTURE, Reason.MISSING_CLAIM,
    Reason.WRONG_ISSUER, Reason.WRONG_AUDIENCE, Reason.TYP_MISMATCH,
})


@dataclass(frozen=True, slots=True)
class IssuerCheck:
    """How to verify the Issuer-signed JWT: accepted ``typ`` values, algorithms, keys or an ``x5c`` trust, the
    expected ``iss`` (``None``: any), required claims and the clock leeway."""

    typ: tuple[str, ...]
    algorithms: frozenset[str] = field(default_factory=lambda: frozenset({"ES256"}))
    keys: tuple[VerificationKey, ...] = ()
    x5c: X5cTrust | None = None
    issuer: str | None = None
    required_claims: tuple[str, ...] = ()
    leeway: dt.timedelta = dt.timedelta(0)


@dataclass(frozen=True, slots=True)
class VerifiedSdJwt:
    """A verified SD-JWT: header, Issuer-signed payload, processed claims (only what was disclosed plus the
    clear claims), the Disclosures with the path each one filled, the KB-JWT claims when Key Binding was
    required, the ``_sd_alg`` and the ``x5c`` path when the key came from one."""

    header: Mapping[str, Any]
    payload: Mapping[str, Any]
    claims: Mapping[str, Any]
    disclosures: tuple[Disclosure, ...]
    placed: Mapping[str, Path]
    key_binding: Mapping[str, Any] | None
    hash_alg: str
    path: ValidatedPath | None


def verify_sd_jwt(
    text: str,
    *,
    issuer: IssuerCheck,
    key_binding: KeyBindingPolicy | None,
    at: dt.datetime,
    hash_algs: Collection[str] = (DEFAULT_HASH_ALG,),
    non_disclosable: Collection[str] = VALIDITY_CLAIMS,
    limits: CredentialLimits = DEFAULT_CREDENTIAL_LIMITS,
) -> VerifiedSdJwt:
    """Verify an SD-JWT or SD-JWT+KB; return normally only when every step of the module docstring passes."""
    compact = CompactSdJwt.parse(text, limits)  # 1
    jwt = verify_issuer_jwt(compact.jwt, issuer, at=at, limits=limits)  # 2
    hash_alg = sd_alg(jwt.claims, hash_algs)  # 3
    disclosures = parse_disclosures(compact.disclosures, hash_alg=hash_alg, limits=limits)  # 4
    processed = process(jwt.claims, disclosures, depth=limits.depth)
    for path in processed.placed.values():  # 5
        if len(path) == 1 and path[0] in non_disclosable:
            raise InvalidCredential(
                CredentialReason.NON_DISCLOSABLE_CLAIM, f"claim {path[0]!r} must not be selectively disclosed"
            )
    kb_claims = None  # 6
    if key_binding is not None:
        kb_claims = verify_key_binding(
            compact, claims=processed.claims, hash_alg=hash_alg, policy=key_binding, at=at, limits=limits
        )
    elif compact.kb_jwt is not None:
        raise InvalidKeyBinding(CredentialReason.UNEXPECTED_KEY_BINDING, "an SD-JWT was expected, not an SD-JWT+KB")
    return VerifiedSdJwt(
        header=jwt.header,
        payload=jwt.claims,
        claims=MappingProxyType(processed.claims),
        disclosures=tuple(disclosures[d] for d in processed.placed),
        placed=MappingProxyType(dict(processed.placed)),
        key_binding=kb_claims,
        hash_alg=hash_alg,
        path=jwt.path,
    )


def verify_issuer_jwt(jwt: str, check: IssuerCheck, *, at: dt.datetime, limits: CredentialLimits) -> VerifiedJwt:
    """Step 2: the Issuer-signed JWT, with the accepted ``typ`` its header names (or the first one)."""
    with translated(UntrustedIssuer):
        typ = _accepted_typ(unverified_header(jwt, limits.jose).get("typ"), check.typ)
        try:
            return verify_jwt(
                jwt,
                algorithms=check.algorithms,
                typ=typ,
                issuer=check.issuer,
                audience=None,
                at=at,
                leeway=check.leeway,
                required_claims=check.required_claims,
                keys=check.keys,
                x5c=check.x5c,
                limits=limits.jose,
            )
        except InvalidToken as exc:
            if exc.reason in _CLAIM_REASONS:
                raise InvalidCredential(exc.reason, exc.detail) from exc
            raise


def sd_alg(payload: Mapping[str, Any], allowed: Collection[str]) -> str:
    """Step 3: ``_sd_alg`` (default ``sha-256``) must be an allowed hash name (case-sensitive, §4.1.1)."""
    name = payload.get("_sd_alg", DEFAULT_HASH_ALG)
    if not isinstance(name, str) or name not in allowed:
        raise InvalidCredential(CredentialReason.UNSUPPORTED_HASH_ALG, "_sd_alg names a hash that is not allowed")
    return name


def _accepted_typ(typ: object, accepted: Sequence[str]) -> str:
    """The accepted ``typ`` the header names (media types compare case-insensitively, ``application/`` implied),
    else the first accepted one, so that verification reports ``typ_mismatch``."""
    if isinstance(typ, str):
        given = typ.lower().removeprefix("application/")
        for candidate in accepted:
            if candidate.lower().removeprefix("application/") == given:
                return candidate
    return accepted[0]
