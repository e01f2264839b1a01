"""Key attestations the test wallet can add to its proofs (OpenID4VCI 1.0 Appendix D.1), as a wallet provider
would: a ``key-attestation+jwt`` signed by the attester's key with its certificate chain in ``x5c``, naming every
key of the batch in ``attested_keys`` and the storage and user-authentication levels it claims."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from credentials.wallet.keys import HolderKey
from keys.service.jws import encode_jwt
from keys.service.signer import SoftwareSigner

KEY_ATTESTATION_TYP: Final = "key-attestation+jwt"


@dataclass(frozen=True)
class KeyAttester:
    """An attester key, its chain (leaf first, no root) and the levels it attests."""

    key: ec.EllipticCurvePrivateKey
    chain: tuple[x509.Certificate, ...]
    key_storage: tuple[str, ...] = ("iso_18045_moderate",)
    user_authentication: tuple[str, ...] = ("iso_18045_moderate",)
    issuer: str = "https://wallet-provider.test"
    lifetime: dt.timedelta = dt.timedelta(minutes=10)

    @classmethod
    def load(cls, key_file: Path, chain_file: Path, **levels: Any) -> KeyAttester:
        """From a PEM private key and a PEM chain."""
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the attester key is a P-256 key")
        return cls(key, tuple(x509.load_pem_x509_certificates(chain_file.read_bytes())), **levels)

    def attest(self, keys: Sequence[HolderKey], *, nonce: str, at: dt.datetime) -> str:
        """A key attestation of ``keys`` bound to ``nonce``."""
        claims = {"iss": self.issuer, "iat": int(at.timestamp()), "exp": int((at + self.lifetime).timestamp()),
                  "attested_keys": [k.public_jwk for k in keys], "key_storage": list(self.key_storage),
                  "user_authentication": list(self.user_authentication), "nonce": nonce}
        x5c = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode("ascii") for c in self.chain]
        return encode_jwt(claims, SoftwareSigner(self.key, "ES256", "attester"), typ=KEY_ATTESTATION_TYP,
                          header={"x5c": x5c}, with_kid=False)


__all__ = ["KEY_ATTESTATION_TYP", "KeyAttester"]
