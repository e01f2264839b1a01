"""Key proofs of the Credential Request (OpenID4VCI 1.0 §8.2.1.1, Appendix F.1, F.4) and key attestations (Appendix D).

:func:`verify_jwt_proof` checks one ``jwt`` proof; each failure is ``invalid_proof`` with the reason of the check:

1. a JWS typed ``openid4vci-proof+jwt`` with an allow-listed ``alg`` (never ``none`` or a MAC), signed by the
   public ``jwk`` of its header (``kid``/``x5c``/``trust_chain`` name keys we cannot bind: refused); the key type
   and curve are on the allow-list (P-256 by default) and the ``jwk`` holds no private member;
2. ``aud`` is this Credential Issuer, ``iat`` within the window (not after ``at + leeway``, not older than
   ``max_age``), ``nonce`` present (``missing_nonce``; whether it is a live ``c_nonce`` is the caller's atomic
   check, ``invalid_nonce``); ``iss``, when present, is the client the access token was issued to;
3. the ``key_attestation`` header, when present and checkable, or when the policy requires one: a JWS typed
   ``key-attestation+jwt`` whose ``x5c`` chain validates to the wallet-provider roots, with ``iat``, ``exp``
   (required with the ``jwt`` proof type) and ``attested_keys`` naming the proof's key; ``key_storage`` and
   ``user_authentication`` among the accepted levels when the policy lists any; its ``nonce``, if present, the
   proof's.

:func:`verify_proofs` applies that to every proof of a request and refuses two proofs of one key (each key
binds at most one credential, §8.3).
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from credentials.oid4vci.errors import IssuanceError, IssuanceErrorCode, IssuanceReason, invalid_proof
from keys.errors import Reason, VerificationError
from keys.jose.jwk import jwk_thumbprint
from keys.jose.jws import X5cTrust
from keys.jose.jwt import verify_jwt
from keys.trust import TrustStore
from keys.x509.profile import GENERIC

PROOF_TYP: Final = "openid4vci-proof+jwt"
KEY_ATTESTATION_TYP: Final = "key-attestation+jwt"
#: Public members of the JWK key types we bind credentials to.
_PUBLIC: Final = {"EC": ("kty", "crv", "x", "y")}
_PRIVATE: Final = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


@dataclass(frozen=True, slots=True)
class KeyAttestationPolicy:
    """Whether key attestations are required, whom they are accepted from, and the accepted levels."""

    required: bool = False
    trust: TrustStore | None = None
    key_storage: frozenset[str] = frozenset()
    user_authentication: frozenset[str] = frozenset()
    algorithms: frozenset[str] = frozenset({"ES256"})


@dataclass(frozen=True, slots=True)
class ProofPolicy:
    """What a ``jwt`` proof must satisfy at this issuer."""

    audience: str
    algorithms: frozenset[str] = frozenset({"ES256"})
    key_types: frozenset[tuple[str, str]] = frozenset({("EC", "P-256")})
    max_age: dt.timedelta = dt.timedelta(minutes=5)
    leeway: dt.timedelta = dt.timedelta(seconds=30)
    attestation: KeyAttestationPolicy = field(default_factory=KeyAttestationPolicy)


@dataclass(frozen=True, slots=True)
class KeyAttestation:
    """A verified key attestation: the levels it asserts."""

    key_storage: tuple[str, ...]
    user_authentication: tuple[str, ...]
    issuer: str | None


@dataclass(frozen=True, slots=True)
class VerifiedProof:
    """A verified proof: the holder's public key (members of RFC 7638 only), its thumbprint, the nonce used."""

    jwk: Mapping[str, str]
    jkt: str
    nonce: str
    attestation: KeyAttestation | None = None


def verify_jwt_proof(proof: object, *, policy: ProofPolicy, at: dt.datetime, client_id: str | None) -> VerifiedProof:
    """Verify one ``jwt`` proof (steps in the module docstring)."""
    if not isinstance(proof, str) or not proof:
        raise invalid_proof(IssuanceReason.MALFORMED_REQUEST, "a jwt proof is a compact JWS string")
    try:
        verified = verify_jwt(proof, algorithms=policy.algorithms, typ=PROOF_TYP, issuer=None,
                              audience=policy.audience, at=at, leeway=policy.leeway, required_claims=("iat",),
                              max_age=policy.max_age, allow_embedded_jwk=True)
    except VerificationError as exc:
        raise invalid_proof(exc.reason, f"the proof does not verify: {exc.reason.value}") from None
    header, claims = verified.header, verified.claims
    jwk = header.get("jwk")
    if not isinstance(jwk, Mapping):
        raise invalid_proof(Reason.HEADER_KEY_REFUSED, "the proof names its key with jwk (kid and x5c are not bound)")
    public = _public_jwk(jwk, policy)
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise invalid_proof(IssuanceReason.MISSING_NONCE, "the proof has no c_nonce")
    iss = claims.get("iss")
    if iss is not None and (not isinstance(iss, str) or (client_id is not None and iss != client_id)):
        raise invalid_proof(IssuanceReason.WRONG_PROOF_ISSUER, "the proof's iss is not the client")
    jkt = jwk_thumbprint(public)
    attestation = _attestation(header.get("key_attestation"), jkt, nonce, policy.attestation, at, policy.leeway)
    return VerifiedProof(public, jkt, nonce, attestation)


def verify_proofs(
    proofs: Sequence[object], *, policy: ProofPolicy, at: dt.datetime, client_id: str | None
) -> tuple[VerifiedProof, ...]:
    """Verify every proof of one request; two proofs of the same key are ``invalid_proof`` (``duplicate_key``)."""
    verified = tuple(verify_jwt_proof(p, policy=policy, at=at, client_id=client_id) for p in proofs)
    if len({v.jkt for v in verified}) != len(verified):
        raise invalid_proof(IssuanceReason.DUPLICATE_KEY, "each proof must use a different key")
    return verified


def _public_jwk(jwk: Mapping[str, Any], policy: ProofPolicy) -> dict[str, str]:
    if any(member in jwk for member in _PRIVATE):
        raise invalid_proof(Reason.HEADER_KEY_REFUSED, "the proof's jwk holds a private key")
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if (kty, crv) not in policy.key_types or kty not in _PUBLIC:
        raise invalid_proof(IssuanceReason.KEY_TYPE_NOT_ALLOWED, "the proof's key type or curve is not accepted")
    return {name: str(jwk[name]) for name in _PUBLIC[kty]}


def _attestation(value: object, jkt: str, nonce: str, policy: KeyAttestationPolicy, at: dt.datetime,
                 leeway: dt.timedelta) -> KeyAttestation | None:
    if value is None or policy.trust is None:
        if policy.required:
            raise invalid_proof(IssuanceReason.KEY_ATTESTATION_REQUIRED, "a key attestation is required")
        return None
    if not isinstance(value, str):
        raise invalid_proof(Reason.MALFORMED, "key_attestation is a JWT")
    try:
        verified = verify_jwt(value, algorithms=policy.algorithms, typ=KEY_ATTESTATION_TYP, issuer=None,
                              audience=None, at=at, leeway=leeway, required_claims=("iat", "exp", "attested_keys"),
                              x5c=X5cTrust(policy.trust, GENERIC, at))
    except VerificationError as exc:
        raise invalid_proof(exc.reason, f"the key attestation does not verify: {exc.reason.value}") from None
    claims = verified.claims
    keys = claims["attested_keys"]
    if not isinstance(keys, list) or not keys or not all(isinstance(k, Mapping) for k in keys):
        raise invalid_proof(Reason.MALFORMED, "attested_keys is not a non-empty array of JWKs")
    try:
        attested = {jwk_thumbprint(k) for k in keys}
    except VerificationError:
        raise invalid_proof(Reason.MALFORMED, "attested_keys holds an unreadable JWK") from None
    if jkt not in attested:
        raise invalid_proof(IssuanceReason.KEY_NOT_ATTESTED, "the proof's key is not among the attested keys")
    storage = _levels(claims.get("key_storage"), "key_storage")
    authentication = _levels(claims.get("user_authentication"), "user_authentication")
    if policy.key_storage and not policy.key_storage.intersection(storage):
        raise invalid_proof(IssuanceReason.KEY_STORAGE_INSUFFICIENT, "the attested key storage is not accepted")
    if policy.user_authentication and not policy.user_authentication.intersection(authentication):
        raise invalid_proof(IssuanceReason.USER_AUTHENTICATION_INSUFFICIENT,
                            "the attested user authentication is not accepted")
    attested_nonce = claims.get("nonce")
    if attested_nonce is not None and not (isinstance(attested_nonce, str)
                                           and hmac.compare_digest(attested_nonce.encode(), nonce.encode())):
        raise invalid_proof(IssuanceReason.ATTESTATION_NONCE_MISMATCH, "the key attestation's nonce is not the proof's")
    issuer = claims.get("iss")
    return KeyAttestation(storage, authentication, issuer if isinstance(issuer, str) else None)


def _levels(value: object, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid_proof(Reason.MALFORMED, f"{name} is not an array of strings")
    return tuple(value)


def nonce_error(detail: str = "the proof's c_nonce is unknown, expired or already used") -> IssuanceError:
    """``invalid_nonce``: the wallet should fetch a fresh ``c_nonce`` (§8.3.1.2)."""
    return IssuanceError(IssuanceErrorCode.INVALID_NONCE, IssuanceReason.NONCE_UNKNOWN, detail)


def distinct_nonces(proofs: Collection[VerifiedProof]) -> tuple[str, ...]:
    """The nonces the proofs use, each once (all must be live ``c_nonce`` values, consumed with the request)."""
    return tuple(dict.fromkeys(p.nonce for p in proofs))


__all__ = ["KEY_ATTESTATION_TYP", "PROOF_TYP", "KeyAttestation", "KeyAttestationPolicy", "ProofPolicy",
           "VerifiedProof", "distinct_nonces", "nonce_error", "verify_jwt_proof", "verify_proofs"]
