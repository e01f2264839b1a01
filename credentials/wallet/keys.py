"""The wallet's keys: one fresh P-256 holder key per credential (never reused across credentials, so that no two
credentials can be linked by their ``cnf``), a DPoP key per issuance, and the JWS they sign.

Private keys are kept as JWKs (``d``) in the wallet file (:mod:`credentials.wallet.store`), which is written mode
0600; this is a test and demo holder, not a secure element.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import ec

from keys.jose.b64 import b64url_decode, b64url_encode
from keys.jose.jwk import jwk_thumbprint, public_jwk
from keys.service.jws import encode_jwt
from keys.service.signer import SoftwareSigner

PROOF_TYP: Final = "openid4vci-proof+jwt"
DPOP_TYP: Final = "dpop+jwt"


@dataclass(frozen=True)
class HolderKey:
    """A P-256 key pair."""

    private: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> HolderKey:
        """A fresh key."""
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @property
    def public_jwk(self) -> dict[str, str]:
        """The public JWK (RFC 7638 members only)."""
        jwk = public_jwk(self.private.public_key())
        return {k: jwk[k] for k in ("kty", "crv", "x", "y")}

    @property
    def thumbprint(self) -> str:
        """RFC 7638 SHA-256 thumbprint."""
        return jwk_thumbprint(self.public_jwk)

    @property
    def signer(self) -> SoftwareSigner:
        """An ES256 signer (``kid`` the thumbprint)."""
        return SoftwareSigner(self.private, "ES256", self.thumbprint)

    def to_jwk(self) -> dict[str, str]:
        """The private JWK, for the wallet file."""
        d = self.private.private_numbers().private_value.to_bytes(32, "big")
        return {**self.public_jwk, "d": b64url_encode(d)}

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> HolderKey:
        """What :meth:`to_jwk` wrote."""
        value = int.from_bytes(b64url_decode(str(jwk["d"]), "d"), "big")
        return cls(ec.derive_private_key(value, ec.SECP256R1()))

    def sign(self, payload: Mapping[str, Any], *, typ: str, header: Mapping[str, Any] | None = None) -> str:
        """A compact JWS of ``payload`` with the public JWK in the header (no ``kid``)."""
        return encode_jwt(payload, self.signer, typ=typ, header={"jwk": self.public_jwk, **(header or {})},
                          with_kid=False)


def proof_jwt(key: HolderKey, *, audience: str, nonce: str, at: dt.datetime, client_id: str | None,
              key_attestation: str | None = None) -> str:
    """An ``openid4vci-proof+jwt`` (OpenID4VCI 1.0 Appendix F.1) for ``key``."""
    claims: dict[str, Any] = {"aud": audience, "iat": int(at.timestamp()), "nonce": nonce}
    if client_id is not None:
        claims["iss"] = client_id
    return key.sign(claims, typ=PROOF_TYP, header=None if key_attestation is None else {
        "key_attestation": key_attestation})


def dpop_proof(key: HolderKey, *, method: str, url: str, at: dt.datetime, nonce: str | None = None,
               access_token: str | None = None) -> str:
    """A DPoP proof (RFC 9449 §4.2) for one request."""
    claims: dict[str, Any] = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url.split("?", 1)[0],
                              "iat": int(at.timestamp())}
    if nonce is not None:
        claims["nonce"] = nonce
    if access_token is not None:
        claims["ath"] = b64url_encode(hashlib.sha256(access_token.encode("ascii")).digest())
    return key.sign(claims, typ=DPOP_TYP)


__all__ = ["DPOP_TYP", "PROOF_TYP", "HolderKey", "dpop_proof", "proof_jwt"]
