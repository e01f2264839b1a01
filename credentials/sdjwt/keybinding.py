"""Key Binding JWTs (RFC 9901 §4.3): creation by the Holder, verification by the Verifier (§7.3 step 5).

Verification, each failure an :class:`~credentials.errors.InvalidKeyBinding` with a reason:

1. the Holder key is ``cnf.jwk`` of the processed payload (``no_holder_key`` when absent or not a JWK);
2. the KB-JWT is a JWS with ``typ: kb+jwt``, an allowed ``alg`` (never ``none``) and no header key of its own
   (``jwk``/``x5c``/``jku`` are refused), signed by that key (:func:`keys.jose.verify_jwt`: ``typ_mismatch``,
   ``algorithm_not_allowed``, ``bad_signature``, ``header_key_refused``);
3. ``iat``, ``aud``, ``nonce`` and ``sd_hash`` are present (``missing_claim``); ``iat`` is within the window:
   not after ``at + leeway`` (``token_issued_in_future``) and not older than ``max_age`` (``token_expired``);
   ``exp``/``nbf`` are honoured if present;
4. ``aud`` names this Verifier (``wrong_audience``); ``nonce`` is the transaction's (``nonce_mismatch``);
5. ``sd_hash`` is the hash of the presented SD-JWT with the ``_sd_alg`` hash (``sd_hash_mismatch``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from credentials.errors import CredentialReason, InvalidKeyBinding, translated
from credentials.limits import CredentialLimits
from credentials.sdjwt.compact import CompactSdJwt
from credentials.sdjwt.disclosure import DEFAULT_HASH_ALG, digest
from keys.errors import Reason
from keys.jose.jwk import VerificationKey
from keys.jose.jwt import verify_jwt
from keys.service.jws import encode_jwt
from keys.service.signer import Signer

#: The KB-JWT ``typ`` (RFC 9901 §4.3).
KB_JWT_TYP = "kb+jwt"


@dataclass(frozen=True, slots=True)
class KeyBindingPolicy:
    """What the Verifier expects of a KB-JWT for one transaction.

    ``max_age`` bounds how old ``iat`` may be and ``leeway`` how far in the future it may be (clock skew): the
    "acceptable window" of RFC 9901 §7.3 step 5.5. HAIP uses ES256.
    """

    audience: str
    nonce: str
    max_age: dt.timedelta = dt.timedelta(minutes=5)
    leeway: dt.timedelta = dt.timedelta(seconds=30)
    algorithms: frozenset[str] = field(default_factory=lambda: frozenset({"ES256"}))


def key_binding_jwt(
    sd_jwt: str,
    *,
    signer: Signer,
    audience: str,
    nonce: str,
    iat: dt.datetime,
    hash_alg: str = DEFAULT_HASH_ALG,
    extra_claims: Mapping[str, Any] | None = None,
) -> str:
    """A KB-JWT over ``sd_jwt`` (an SD-JWT ending in ``~``) signed with the Holder key (§4.3)."""
    if not sd_jwt.endswith("~"):
        raise ValueError("the SD-JWT to bind ends with '~'")
    claims: dict[str, Any] = dict(extra_claims or {})
    claims.update({"iat": int(iat.timestamp()), "aud": audience, "nonce": nonce, "sd_hash": digest(sd_jwt, hash_alg)})
    return encode_jwt(claims, signer, typ=KB_JWT_TYP, with_kid=False)


def holder_key(claims: Mapping[str, Any]) -> VerificationKey:
    """The Holder's public key from ``cnf.jwk`` (RFC 7800 §3.2), bound to its curve's algorithm."""
    cnf = claims.get("cnf")
    jwk = cnf.get("jwk") if isinstance(cnf, Mapping) else None
    if not isinstance(jwk, Mapping):
        raise InvalidKeyBinding(CredentialReason.NO_HOLDER_KEY, "the credential has no cnf.jwk")
    with translated(InvalidKeyBinding):
        if all(isinstance(k, str) and isinstance(v, str) for k, v in jwk.items()):
            return _imported(tuple(sorted(jwk.items())))
        return VerificationKey.from_jwk(jwk)


@functools.lru_cache(maxsize=1024)
def _imported(members: tuple[tuple[str, str], ...]) -> VerificationKey:
    """The imported key of a JWK of string members (all public JWKs): importing validates the point on the curve,
    which costs as much as a tenth of the KB-JWT check, and an issued credential's key is presented many times.
    The result is immutable and depends only on the members; failures are not cached."""
    return VerificationKey.from_jwk(dict(members))


def verify_key_binding(
    compact: CompactSdJwt,
    *,
    claims: Mapping[str, Any],
    hash_alg: str,
    policy: KeyBindingPolicy,
    at: dt.datetime,
    limits: CredentialLimits,
) -> Mapping[str, Any]:
    """Verify the KB-JWT of ``compact`` against the processed ``claims`` (steps in the module docstring);
    return its claims."""
    if compact.kb_jwt is None:
        raise InvalidKeyBinding(CredentialReason.KEY_BINDING_REQUIRED, "Key Binding is required; none was presented")
    key = holder_key(claims)
    with translated(InvalidKeyBinding):
        verified = verify_jwt(
            compact.kb_jwt,
            algorithms=policy.algorithms,
            typ=KB_JWT_TYP,
            issuer=None,
            audience=policy.audience,
            at=at,
            leeway=policy.leeway,
            required_claims=("iat", "aud", "nonce", "sd_hash"),
            max_age=policy.max_age,
            keys=[key],
            limits=limits.jose,
        )
    nonce, sd_hash = verified.claims["nonce"], verified.claims["sd_hash"]
    if not isinstance(nonce, str) or not hmac.compare_digest(nonce.encode(), policy.nonce.encode()):
        raise InvalidKeyBinding(Reason.NONCE_MISMATCH, "KB-JWT nonce is not the transaction's")
    if not isinstance(sd_hash, str) or not hmac.compare_digest(sd_hash.encode(), compact.sd_hash(hash_alg).encode()):
        raise InvalidKeyBinding(CredentialReason.SD_HASH_MISMATCH, "sd_hash does not cover the presented SD-JWT")
    return verified.claims
