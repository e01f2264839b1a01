"""Where private keys live: the :class:`KeyBackend` protocol (software and PKCS#11 implement it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from keys.service.signer import Signer


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    """A new key pair: its public key, the private key to encrypt at rest (software keys) and the
    backend's reference to it (PKCS#11 keys)."""

    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey
    secret: bytes | None
    ref: str | None

    def __repr__(self) -> str:
        return f"GeneratedKey(ref={self.ref!r}, secret={'<hidden>' if self.secret else None})"


class KeyBackend(Protocol):
    """Generates key pairs and signs with them; the private half may never leave the backend."""

    @property
    def name(self) -> str:
        """The name stored with each key (``software``, ``pkcs11``)."""
        ...

    def generate(self, alg: str) -> GeneratedKey:
        """A new key pair for the JWS ``alg``."""
        ...

    def signer(self, alg: str, kid: str, ref: str | None, secret: bytes | None) -> Signer:
        """A signer for a stored key (``secret`` is the decrypted private key of a software key)."""
        ...

    def destroy(self, ref: str | None) -> None:
        """Delete the private key behind ``ref`` (idempotent)."""
        ...

    def close(self) -> None:
        """Release the backend's resources."""
        ...
