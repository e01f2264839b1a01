"""Private keys at rest: AES-256-GCM under a list of key-encryption keys (KEKs).

The first KEK of the list encrypts; every KEK in the list decrypts. To rotate a KEK, put the new one
first, keep the old one behind it, re-wrap (:meth:`KeyEncryptionKeys.rewrap`), then drop the old one.
This is the ``secrets.system`` scheme of ory/hydra. Each wrapped key names its KEK by an identifier
derived from the KEK (not the KEK itself) and is bound to its database row by associated data
(NIST SP 800-38D §5.2.1.1), so a ciphertext cannot be moved to another key's row.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keys.jose.b64 import b64url_decode_loose, b64url_encode
from keys.service.errors import KeyFault, KeyServiceError

KEK_OCTETS: Final = 32
_NONCE_OCTETS: Final = 12  # SP 800-38D §8.2.2: 96-bit random IVs, far below 2^32 encryptions per KEK
_ID_LABEL: Final = b"mynacard-id kek-id\x00"
_SEPARATORS = re.compile(r"[\s,]+")


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """An encrypted private key: the identifier of its KEK and ``nonce || ciphertext || tag``."""

    kek_id: str
    blob: bytes

    def __repr__(self) -> str:
        return f"WrappedKey(kek_id={self.kek_id!r}, blob=<{len(self.blob)} octets>)"


def kek_id(kek: bytes) -> str:
    """The public identifier of a KEK: a truncated, domain-separated SHA-256 of it."""
    return b64url_encode(hashlib.sha256(_ID_LABEL + kek).digest())[:16]


class KeyEncryptionKeys:
    """An ordered KEK list: the first encrypts, all decrypt. The repr never shows key material."""

    __slots__ = ("_aead", "_ids")

    def __init__(self, keks: Sequence[bytes]) -> None:
        if not keks:
            raise KeyServiceError(KeyFault.BAD_KEK, "at least one key-encryption key is needed")
        ids: list[str] = []
        self._aead: dict[str, AESGCM] = {}
        for position, kek in enumerate(keks, start=1):
            if len(kek) != KEK_OCTETS:
                raise KeyServiceError(KeyFault.BAD_KEK, f"KEK #{position} is not {KEK_OCTETS} octets")
            identifier = kek_id(kek)
            if identifier in self._aead:
                raise KeyServiceError(KeyFault.BAD_KEK, f"KEK #{position} repeats an earlier KEK")
            ids.append(identifier)
            self._aead[identifier] = AESGCM(kek)
        self._ids = tuple(ids)

    @classmethod
    def parse(cls, text: str) -> KeyEncryptionKeys:
        """KEKs as base64url (padding optional), separated by commas or white space; ``#`` starts a comment."""
        body = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
        keks: list[bytes] = []
        for position, token in enumerate((t for t in _SEPARATORS.split(body) if t), start=1):
            try:
                keks.append(b64url_decode_loose(token.rstrip("=")))
            except ValueError:
                raise KeyServiceError(KeyFault.BAD_KEK, f"KEK #{position} is not base64url") from None
        return cls(keks)

    @staticmethod
    def generate() -> str:
        """A new random KEK in the text form :meth:`parse` reads."""
        return b64url_encode(os.urandom(KEK_OCTETS))

    def __repr__(self) -> str:
        return f"KeyEncryptionKeys(ids={self._ids!r})"

    @property
    def primary_id(self) -> str:
        """The identifier of the KEK that encrypts."""
        return self._ids[0]

    @property
    def ids(self) -> tuple[str, ...]:
        """The identifiers of all KEKs, the encrypting one first."""
        return self._ids

    def wrap(self, plaintext: bytes, aad: bytes) -> WrappedKey:
        """Encrypt ``plaintext`` under the first KEK, bound to ``aad``."""
        nonce = os.urandom(_NONCE_OCTETS)
        return WrappedKey(self.primary_id, nonce + self._aead[self.primary_id].encrypt(nonce, plaintext, aad))

    def unwrap(self, wrapped: WrappedKey, aad: bytes) -> bytes:
        """Decrypt ``wrapped``; fails with ``unknown_kek`` or ``unwrap_failed`` (wrong data, row or KEK)."""
        aead = self._aead.get(wrapped.kek_id)
        if aead is None:
            raise KeyServiceError(KeyFault.UNKNOWN_KEK, f"key wrapped under KEK {wrapped.kek_id}, not configured")
        try:
            return aead.decrypt(wrapped.blob[:_NONCE_OCTETS], wrapped.blob[_NONCE_OCTETS:], aad)
        except InvalidTag:
            raise KeyServiceError(KeyFault.UNWRAP_FAILED, f"authentication failed under KEK {wrapped.kek_id}") from None

    def rewrap(self, wrapped: WrappedKey, aad: bytes) -> WrappedKey | None:
        """``wrapped`` re-encrypted under the first KEK, or None when it already is."""
        if wrapped.kek_id == self.primary_id:
            return None
        return self.wrap(self.unwrap(wrapped, aad), aad)
