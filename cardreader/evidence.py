"""The card layer's output: what a card produced to prove possession of a JPKI key.

The verification core checks it (chain of ``certificate``, then ``signature`` over ``digest`` with the
certificate's key, then revocation); nothing in here is trusted by itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from cardreader.jpki import Key, TokenType
from keys.jose.b64 import b64url_encode


@dataclass(frozen=True, slots=True)
class CardEvidence:
    """A signature made by the card over a SHA-256 digest, and the certificate read from the same card
    in the same exclusive session.

    ``signature`` is RSASSA-PKCS1-v1_5 over ``DigestInfo(SHA-256, digest)`` (jpki-card-and-certs.md §1.5).
    """

    key: Key
    certificate: bytes
    digest: bytes
    signature: bytes
    #: What answered as the JPKI application: the card or a smartphone token (from EF 0006).
    token: TokenType = TokenType.CARD

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form (binary fields base64url without padding)."""
        return {
            "key": self.key.value,
            "certificate": b64url_encode(self.certificate),
            "digest": b64url_encode(self.digest),
            "signature": b64url_encode(self.signature),
            "token_type": self.token.value,
        }


__all__ = ["CardEvidence"]
