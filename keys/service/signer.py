"""The :class:`Signer` protocol and the software signer.

A signer computes the JWS Signature (RFC 7515 §5.1 step 5) over the JWS Signing Input with one key
and one algorithm (RFC 7518 §3.1). Software keys (:class:`SoftwareSigner`) and PKCS#11 keys
(:mod:`keys.service.pkcs11`) are interchangeable behind it.
"""

from __future__ import annotations

from typing import Final, Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from keys.service.errors import KeyFault, KeyServiceError

#: The JWS algorithms the service signs with (RFC 7518 §3.1). ES256 is the default; FAPI 2.0 allows
#: PS256 and ES256; RS256 exists for OIDC Dynamic conformance (``OIDCCIdTokenRS256``).
SIGNING_ALGORITHMS: Final = ("ES256", "PS256", "RS256")

#: RSA modulus size for generated keys (FAPI 2.0 Security Profile §5.4.1: at least 2048 bits).
RSA_KEY_BITS: Final = 2048

#: P-256 coordinate length in octets (RFC 7518 §3.4: R and S are 32 octets each).
_P256_OCTETS: Final = 32


class Signer(Protocol):
    """Signs a JWS Signing Input with one key; ``kid`` names that key in the JWKS."""

    @property
    def alg(self) -> str:
        """The JWS ``alg`` (RFC 7518 §3.1)."""
        ...

    @property
    def kid(self) -> str:
        """The JWK ``kid`` of the public key (RFC 7517 §4.5)."""
        ...

    def sign(self, data: bytes) -> bytes:
        """The JWS Signature over ``data`` (for ES256 the 64-octet R || S of RFC 7518 §3.4)."""
        ...


def check_algorithm(alg: str) -> None:
    """Raise :class:`KeyServiceError` unless ``alg`` is one of :data:`SIGNING_ALGORITHMS`."""
    if alg not in SIGNING_ALGORITHMS:
        raise KeyServiceError(KeyFault.UNSUPPORTED_ALGORITHM, f"{alg!r} is not one of {SIGNING_ALGORITHMS}")


def generate_private_key(alg: str) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    """A fresh private key for ``alg``: P-256 for ES256, RSA-2048 (e = 65537) for PS256 and RS256."""
    check_algorithm(alg)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)


class NamedKey:
    """The ``alg`` and ``kid`` of a :class:`Signer`, and a repr that shows them and nothing of the key."""

    __slots__ = ("alg", "kid")

    def __init__(self, alg: str, kid: str) -> None:
        self.alg = alg
        self.kid = kid

    def __repr__(self) -> str:
        return f"{type(self).__name__}(alg={self.alg!r}, kid={self.kid!r})"


class SoftwareSigner(NamedKey):
    """A :class:`Signer` over a private key held in process memory (decrypted from the database)."""

    __slots__ = ("_key",)

    def __init__(self, private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, alg: str, kid: str) -> None:
        check_algorithm(alg)
        wants_ec = alg == "ES256"
        if wants_ec != isinstance(private_key, ec.EllipticCurvePrivateKey) or (
            isinstance(private_key, ec.EllipticCurvePrivateKey) and not isinstance(private_key.curve, ec.SECP256R1)
        ):
            raise KeyServiceError(KeyFault.UNSUPPORTED_ALGORITHM, f"the key does not fit {alg}")
        super().__init__(alg, kid)
        self._key = private_key

    def sign(self, data: bytes) -> bytes:
        """RFC 7518 §3.3 (RS256), §3.4 (ES256, R || S), §3.5 (PS256, MGF1-SHA256, 32-octet salt)."""
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            r, s = decode_dss_signature(self._key.sign(data, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(_P256_OCTETS, "big") + s.to_bytes(_P256_OCTETS, "big")
        if self.alg == "PS256":
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=hashes.SHA256.digest_size)
            return self._key.sign(data, pss, hashes.SHA256())
        return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
