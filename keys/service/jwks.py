"""Public keys as JWKs, RFC 7638 thumbprints (our ``kid``) and the JWK Set document.

The ``kid`` of every service key is its JWK thumbprint (RFC 7638 §3), so it is derived from the key
alone and cannot collide between keys.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from keys.jose.b64 import b64url_encode
from keys.service.errors import KeyFault, KeyServiceError

#: The members that enter the thumbprint, per key type (RFC 7638 §3.2; RFC 7518 §6.2.1, §6.3.1).
_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}


def _uint(value: int) -> str:
    """An unsigned integer as base64url of its minimal big-endian octets (RFC 7518 §2, Base64urlUInt)."""
    return b64url_encode(value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def public_key_members(public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey) -> dict[str, str]:
    """The required JWK members of ``public_key`` (RFC 7518 §6.2.1 for P-256, §6.3.1 for RSA)."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if not isinstance(public_key.curve, ec.SECP256R1):
            raise KeyServiceError(KeyFault.UNSUPPORTED_ALGORITHM, f"curve {public_key.curve.name} is not P-256")
        numbers = public_key.public_numbers()
        return {"kty": "EC", "crv": "P-256", "x": b64url_encode(numbers.x.to_bytes(32, "big")),
                "y": b64url_encode(numbers.y.to_bytes(32, "big"))}
    numbers_rsa = public_key.public_numbers()
    return {"kty": "RSA", "n": _uint(numbers_rsa.n), "e": _uint(numbers_rsa.e)}


def jwk_thumbprint(jwk: Mapping[str, str]) -> str:
    """The RFC 7638 §3.1 SHA-256 thumbprint: required members only, sorted, no whitespace."""
    members = _THUMBPRINT_MEMBERS.get(jwk.get("kty", ""))
    if members is None:
        raise KeyServiceError(KeyFault.UNSUPPORTED_ALGORITHM, f"no thumbprint for kty {jwk.get('kty')!r}")
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest())


def public_jwk(public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey, alg: str) -> dict[str, str]:
    """The published JWK: key members plus ``kid`` (thumbprint), ``alg`` and ``use: sig`` (RFC 7517 §4)."""
    members = public_key_members(public_key)
    return {**members, "kid": jwk_thumbprint(members), "alg": alg, "use": "sig"}


def jwks_document(jwks: Iterable[Mapping[str, str]]) -> dict[str, list[dict[str, str]]]:
    """A JWK Set (RFC 7517 §5) of the given public JWKs, in the given order."""
    return {"keys": [dict(jwk) for jwk in jwks]}
