"""The verifier library: one call checks a presented SD-JWT VC end to end (``credentials.verify``).

:func:`verify_credential` runs, in order, each failure a :class:`~credentials.errors.CredentialError` with a
reason (see :mod:`credentials.errors`):

1. the Issuer-signed JWT: signature with a permitted Issuer Signature Mechanism (``x5c`` chain to the pinned trust
   store, or JWT VC Issuer Metadata keys), ``typ``, ``alg`` allow-list, ``exp``/``nbf``/``iat``;
2. every Disclosure against the digests (duplicates, unreferenced Disclosures, name collisions, reserved names),
   and no validity or binding claim disclosed selectively;
3. the KB-JWT when the policy requires Key Binding (the default): ``cnf.jwk`` signature, ``typ``, ``aud``, ``nonce``,
   ``iat`` window, ``sd_hash``; without Key Binding a trailing KB-JWT is refused;
4. ``vct`` among the accepted types;
5. the status, when the credential references a Status List: fetched through the caller's
   :class:`~credentials.status.StatusChecker` (cached by ``ttl``), VALID or rejected; a referenced status that
   cannot be checked is ``status_unavailable`` (fail closed).

The result carries only what was disclosed (plus the always-visible claims): undisclosed claims never reach the
caller.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from credentials.errors import CredentialReason, StatusUnavailable
from credentials.limits import DEFAULT_CREDENTIAL_LIMITS, CredentialLimits
from credentials.sdjwt.keybinding import KeyBindingPolicy
from credentials.sdjwtvc import IssuerKeys, verify_sd_jwt_vc
from credentials.status.check import StatusChecker, StatusReference
from keys.x509.path import ValidatedPath

#: Processed-payload members that are protocol plumbing, not claims: left out of :attr:`VerifiedCredential.claims`.
_PLUMBING = frozenset({"cnf", "status"})


@dataclass(frozen=True, slots=True)
class VerifierPolicy:
    """What a Verifier accepts: issuers (``issuer_keys``), types (``vcts``; ``None`` = any), Key Binding and its
    window, algorithms for the KB-JWT, clock leeway for the credential, the legacy ``vc+sd-jwt`` type."""

    issuer_keys: IssuerKeys
    vcts: frozenset[str] | None = None
    require_key_binding: bool = True
    kb_max_age: dt.timedelta = dt.timedelta(minutes=5)
    kb_leeway: dt.timedelta = dt.timedelta(seconds=30)
    kb_algorithms: frozenset[str] = field(default_factory=lambda: frozenset({"ES256"}))
    leeway: dt.timedelta = dt.timedelta(0)
    accept_legacy_typ: bool = True
    limits: CredentialLimits = DEFAULT_CREDENTIAL_LIMITS


@dataclass(frozen=True, slots=True)
class VerifiedCredential:
    """A verified presentation: the disclosed claims and the credential's type, issuer, validity, Holder key,
    status reference, certificate path (``x5c``) and KB-JWT claims."""

    vct: str
    issuer: str | None
    claims: Mapping[str, Any]
    holder_jwk: Mapping[str, Any] | None
    status: StatusReference | None
    path: ValidatedPath | None
    key_binding: Mapping[str, Any] | None


def verify_credential(
    presentation: str,
    *,
    policy: VerifierPolicy,
    at: dt.datetime,
    audience: str | None = None,
    nonce: str | None = None,
    status: StatusChecker | None = None,
) -> VerifiedCredential:
    """Verify one presented SD-JWT VC (steps in the module docstring). ``audience`` and ``nonce`` are this
    transaction's (OID4VP: the Client Identifier and the request nonce), required with Key Binding."""
    key_binding = None
    if policy.require_key_binding:
        if audience is None or nonce is None:
            raise ValueError("Key Binding needs the transaction's audience and nonce")
        key_binding = KeyBindingPolicy(
            audience=audience, nonce=nonce, max_age=policy.kb_max_age, leeway=policy.kb_leeway,
            algorithms=policy.kb_algorithms,
        )
    verified = verify_sd_jwt_vc(
        presentation, issuer_keys=policy.issuer_keys, key_binding=key_binding, at=at, vcts=policy.vcts,
        accept_legacy_typ=policy.accept_legacy_typ, leeway=policy.leeway, limits=policy.limits,
    )
    if verified.status is not None:
        if status is None:
            raise StatusUnavailable(CredentialReason.STATUS_UNAVAILABLE, "the credential has a status to check")
        status.check(verified.status, at)
    claims = verified.claims
    cnf = claims.get("cnf")
    holder_jwk = cnf.get("jwk") if isinstance(cnf, Mapping) else None
    return VerifiedCredential(
        vct=verified.vct,
        issuer=verified.issuer,
        claims=MappingProxyType({k: v for k, v in claims.items() if k not in _PLUMBING}),
        holder_jwk=holder_jwk if isinstance(holder_jwk, Mapping) else None,
        status=verified.status,
        path=verified.sd_jwt.path,
        key_binding=verified.sd_jwt.key_binding,
    )
