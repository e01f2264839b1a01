"""JWS compact serialization: the one verification entry, :func:`verify_jws` (RFC 7515 §5.2, RFC 8725).

Steps, each failing with a :class:`~keys.errors.VerificationError` and a reason:

1. Shape: size limit, compact serialization only (the JSON serialization and JWE are refused), three parts of
   strict base64url (``TOO_LARGE``, ``MALFORMED``).
2. Header: strict JSON object (``DUPLICATE_MEMBER``, ``TOO_DEEP``); ``alg`` a string, never ``none`` in any case
   (RFC 8725 §3.1), and in the caller's ``algorithms`` (``ALGORITHM_NOT_ALLOWED``).
3. ``crit`` (RFC 7515 §4.1.11): a non-empty array of distinct names that are not registered header names,
   that the caller understands and that are present; ``b64: false`` (RFC 7797) is not supported
   (``UNSUPPORTED_CRIT``).
4. ``typ`` (RFC 7515 §4.1.9, RFC 8725 §3.11): compared as a media type, case-insensitively, with
   ``application/`` implied; with no expected ``typ`` only an absent ``typ`` or ``JWT`` passes
   (``TYP_MISMATCH``).
5. Key: ``jku``/``x5u`` are never followed; an embedded ``jwk`` only with ``allow_embedded_jwk`` and ``x5c``
   only with an :class:`X5cTrust` (``HEADER_KEY_REFUSED``); otherwise one of the caller's keys, chosen by
   ``kid`` or, without a ``kid``, the only key bound to ``alg`` (``UNKNOWN_KEY``, ``AMBIGUOUS_KEY``). The key's
   bound ``alg`` must be the token's (``ALGORITHM_NOT_ALLOWED``). Symmetric and asymmetric keys never mix.
6. Signature over ``ASCII(header '.' payload)`` as received (``BAD_SIGNATURE``, ``WEAK_KEY``).

The idp and credentials packages build on this: client assertions and request objects (caller keys), DPoP and
OID4VCI proofs (embedded ``jwk``), SD-JWT VC issuer signatures (``x5c``) and key-binding JWTs (a key from
``cnf.jwk``). See :mod:`keys.jose.jwt` for the claims layer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from keys.errors import InvalidSignature, InvalidToken, LimitExceeded, MalformedInput, Reason
from keys.jose.b64 import b64_decode, b64url_decode
from keys.jose.json import loads_object
from keys.jose.jwk import JWS_ALGS, HmacKey, VerificationKey, check_distinct_kids, short_repr
from keys.limits import DEFAULT_LIMITS, Limits, check_size
from keys.signatures import JOSE, PublicKey, SigAlg, SignaturePolicy, verify_signature
from keys.trust import TrustStore
from keys.x509.path import ValidatedPath, validate_path
from keys.x509.profile import Profile

#: Header names registered by RFC 7515 §4.1 and RFC 7518 §4.x for JWS/JWE: never valid in ``crit``.
REGISTERED_HEADERS = frozenset({
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit",
    "enc", "zip", "epk", "apu", "apv", "iv", "tag", "p2s", "p2c",
})
_HMAC = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


@dataclass(frozen=True, slots=True)
class X5cTrust:
    """Admit an ``x5c`` header: the chain must validate for ``profile`` to ``trust`` at ``at``
    (:func:`keys.x509.path.validate_path`); the leaf's key then verifies the signature."""

    trust: TrustStore
    profile: Profile
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class VerifiedJws:
    """A verified JWS: its protected header, the payload octets, the key that verified it and, for ``x5c``,
    the validated certificate path."""

    header: Mapping[str, Any]
    payload: bytes
    key: VerificationKey
    path: ValidatedPath | None = None


def verify_jws(
    token: str,
    *,
    algorithms: Collection[str],
    typ: str | None,
    keys: Sequence[VerificationKey] = (),
    allow_embedded_jwk: bool = False,
    x5c: X5cTrust | None = None,
    understood_crit: Collection[str] = (),
    policy: SignaturePolicy = JOSE,
    limits: Limits = DEFAULT_LIMITS,
) -> VerifiedJws:
    """Verify a compact JWS; return normally only when every step in the module docstring passes.

    ``algorithms`` is the allow-list for this use (never ``none``); ``typ`` the expected type (``None``: an
    untyped JWT); ``keys`` the caller's verification keys, each bound to one ``alg``. ``allow_embedded_jwk``
    accepts a public ``jwk`` header as the key (DPoP, OID4VCI proofs: the caller must then bind that key, e.g.
    by its thumbprint); ``x5c`` accepts a certificate chain header validated against a trust store.
    """
    _check_arguments(algorithms)
    # 1. shape
    if not isinstance(token, str):
        raise MalformedInput(Reason.MALFORMED, "a compact JWS is a string")
    check_size(token, limits.jws_bytes, "JWS")
    if token.lstrip().startswith("{"):
        raise MalformedInput(Reason.MALFORMED, "JWS JSON serialization is not accepted; use the compact form")
    parts = token.split(".")
    if len(parts) == 5:
        raise MalformedInput(Reason.MALFORMED, "JWE is not accepted where a JWS is expected")
    if len(parts) != 3:
        raise MalformedInput(Reason.MALFORMED, f"a compact JWS has 3 parts, not {len(parts)}")
    header_b64, payload_b64, signature_b64 = parts
    if not header_b64:
        raise MalformedInput(Reason.MALFORMED, "empty JWS header")
    header = loads_object(b64url_decode(header_b64, "JWS header"), what="JWS header", limits=limits)
    payload = b64url_decode(payload_b64, "JWS payload")
    signature = b64url_decode(signature_b64, "JWS signature")
    # 2-4. header rules
    alg = _check_alg(header, algorithms)
    _check_crit(header, understood_crit)
    _check_typ(header, typ)
    # 5. key
    key, path = _select_key(header, alg, keys, allow_embedded_jwk, x5c, policy, limits)
    # 6. signature
    signing_input = f"{header_b64}.{payload_b64}".encode("ascii")
    if isinstance(key.key, HmacKey):
        expected = hmac.new(key.key.secret, signing_input, _HMAC[alg]).digest()
        if not hmac.compare_digest(expected, signature):
            raise InvalidSignature(Reason.BAD_SIGNATURE, f"{alg} MAC does not verify")
    else:
        verify_signature(key.key, signature, signing_input, alg=SigAlg(alg), policy=policy)
    return VerifiedJws(MappingProxyType(header), payload, key, path)


def _check_arguments(algorithms: Collection[str]) -> None:
    if not algorithms or isinstance(algorithms, str):
        raise ValueError("algorithms must be a non-empty collection of JWS alg names")
    if unknown := set(algorithms) - JWS_ALGS:
        raise ValueError(f"unsupported algorithms: {sorted(unknown)}")


def _check_alg(header: Mapping[str, Any], algorithms: Collection[str]) -> str:
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise MalformedInput(Reason.MALFORMED, "JWS header has no alg string")
    if alg.lower() == "none":
        raise InvalidToken(Reason.ALGORITHM_NOT_ALLOWED, "unsecured JWS (alg none) is never accepted")
    if alg not in algorithms:
        raise InvalidToken(Reason.ALGORITHM_NOT_ALLOWED, f"alg {short_repr(alg)} is not allowed here")
    return alg


def _check_crit(header: Mapping[str, Any], understood: Collection[str]) -> None:
    """RFC 7515 §4.1.11, and RFC 7797 §3: the unencoded payload option is not supported."""
    if "b64" in header and header["b64"] is not True:
        raise InvalidToken(Reason.UNSUPPORTED_CRIT, "unencoded payload (b64) is not supported")
    if "crit" not in header:
        return
    crit = header["crit"]
    if not isinstance(crit, list) or not crit or not all(isinstance(c, str) for c in crit) or len(set(crit)) != len(
        crit
    ):
        raise MalformedInput(Reason.MALFORMED, "crit must be a non-empty array of distinct names")
    if registered := REGISTERED_HEADERS.intersection(crit):
        raise InvalidToken(Reason.UNSUPPORTED_CRIT, f"crit names registered headers: {short_repr(sorted(registered))}")
    if unknown := set(crit) - set(understood) - {"b64"}:
        raise InvalidToken(Reason.UNSUPPORTED_CRIT, f"crit names unsupported extensions: {short_repr(sorted(unknown))}")
    if missing := [c for c in crit if c not in header]:
        raise MalformedInput(Reason.MALFORMED, f"crit names absent headers: {short_repr(missing)}")


def _media_type(value: str) -> str:
    value = value.lower()
    return value if "/" in value else "application/" + value


def _check_typ(header: Mapping[str, Any], expected: str | None) -> None:
    """RFC 7515 §4.1.9 ``typ`` comparison; ``expected=None`` admits only an absent ``typ`` or ``JWT``."""
    typ = header.get("typ")
    if typ is not None and not isinstance(typ, str):
        raise MalformedInput(Reason.MALFORMED, "typ is not a string")
    if expected is None:
        if typ is not None and _media_type(typ) != "application/jwt":
            raise InvalidToken(Reason.TYP_MISMATCH, f"typ {short_repr(typ)} where an untyped JWT is expected")
    elif typ is None or _media_type(typ) != _media_type(expected):
        raise InvalidToken(Reason.TYP_MISMATCH, f"typ {short_repr(typ)} is not {expected}")


def _select_key(
    header: Mapping[str, Any],
    alg: str,
    keys: Sequence[VerificationKey],
    allow_embedded_jwk: bool,
    x5c: X5cTrust | None,
    policy: SignaturePolicy,
    limits: Limits,
) -> tuple[VerificationKey, ValidatedPath | None]:
    for member in ("jku", "x5u"):
        if member in header:
            raise InvalidToken(Reason.HEADER_KEY_REFUSED, f"{member} is never followed")
    if "jwk" in header and "x5c" in header:
        raise InvalidToken(Reason.HEADER_KEY_REFUSED, "both jwk and x5c in the header")
    if "jwk" in header:
        if not allow_embedded_jwk:
            raise InvalidToken(Reason.HEADER_KEY_REFUSED, "embedded jwk is not accepted here")
        jwk = header["jwk"]
        if not isinstance(jwk, Mapping):
            raise MalformedInput(Reason.MALFORMED, "jwk header is not an object")
        return VerificationKey.from_jwk(jwk, alg=alg, policy=policy), None
    if "x5c" in header:
        if x5c is None:
            raise InvalidToken(Reason.HEADER_KEY_REFUSED, "x5c is not accepted here")
        return _x5c_key(header["x5c"], alg, x5c, limits)
    return _caller_key(header, alg, keys), None


def _x5c_key(chain: object, alg: str, trust: X5cTrust, limits: Limits) -> tuple[VerificationKey, ValidatedPath]:
    """RFC 7515 §4.1.6: base64 DER certificates, leaf first; the path must validate before the key is used."""
    if not isinstance(chain, list) or not chain:
        raise MalformedInput(Reason.MALFORMED, "x5c is not a non-empty array")
    if len(chain) > limits.x5c_certificates:
        raise LimitExceeded(Reason.TOO_LARGE, f"x5c has {len(chain)} certificates, limit {limits.x5c_certificates}")
    ders = [b64_decode(c, "x5c certificate") for c in chain]
    path = validate_path(
        ders[0], profile=trust.profile, trust=trust.trust, at=trust.at, intermediates=ders[1:], limits=limits
    )
    leaf_key = path.leaf_key
    if alg in _HMAC or not isinstance(leaf_key, PublicKey):
        raise InvalidToken(Reason.ALGORITHM_NOT_ALLOWED, f"the certificate key cannot verify {alg}")
    return VerificationKey(leaf_key, alg), path


def _caller_key(header: Mapping[str, Any], alg: str, keys: Sequence[VerificationKey]) -> VerificationKey:
    if len({k.symmetric for k in keys}) > 1:
        raise InvalidToken(Reason.ALGORITHM_NOT_ALLOWED, "symmetric and asymmetric keys are not mixed")
    check_distinct_kids(list(keys))
    kid = header.get("kid")
    if kid is not None:
        if not isinstance(kid, str):
            raise MalformedInput(Reason.MALFORMED, "kid is not a string")
        matches = [k for k in keys if k.kid == kid]
        if not matches:
            raise InvalidToken(Reason.UNKNOWN_KEY, "no key has the token's kid")
        key = matches[0]
        if key.alg != alg:
            raise InvalidToken(Reason.ALGORITHM_NOT_ALLOWED, f"the key with this kid is bound to {key.alg}, not {alg}")
        return key
    matches = [k for k in keys if k.alg == alg]
    if not matches:
        raise InvalidToken(Reason.UNKNOWN_KEY, f"no key is bound to {alg}")
    if len(matches) > 1:
        raise InvalidToken(Reason.AMBIGUOUS_KEY, f"token has no kid and {len(matches)} keys are bound to {alg}")
    return matches[0]
