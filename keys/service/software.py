"""Software keys: generated with cryptography, kept as PKCS#8 DER encrypted under the KEK list."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from keys.service.backend import GeneratedKey
from keys.service.errors import KeyFault, KeyServiceError
from keys.service.signer import Signer, SoftwareSigner, generate_private_key


class SoftwareBackend:
    """The embedded default backend. The private key exists in clear only in worker memory."""

    name = "software"

    def generate(self, alg: str) -> GeneratedKey:
        """A new key pair; ``secret`` is its PKCS#8 DER (RFC 5958), to be encrypted by the caller."""
        key = generate_private_key(alg)
        secret = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption())
        return GeneratedKey(key.public_key(), secret, None)

    def signer(self, alg: str, kid: str, ref: str | None, secret: bytes | None) -> Signer:
        """A :class:`SoftwareSigner` over the decrypted PKCS#8 ``secret``."""
        if secret is None:
            raise KeyServiceError(KeyFault.BACKEND_UNAVAILABLE, f"software key {kid} has no private key")
        key = serialization.load_der_private_key(secret, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise KeyServiceError(KeyFault.UNSUPPORTED_ALGORITHM, f"software key {kid} is not EC or RSA")
        return SoftwareSigner(key, alg, kid)

    def destroy(self, ref: str | None) -> None:
        """Nothing to do: deleting the row deletes the encrypted key."""

    def close(self) -> None:
        """Nothing to release."""
