"""The card layer's output: what a card produced to prove possession of a JPKI key.

The verification core checks it (chain of ``certificate``, then ``signature`` over ``digest`` with the
certificate's key, then revocation); nothing in here is trusted by itself.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cardreader.jpki import Key


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

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form (binary fields base64url without padding)."""
        return {
            "key": self.key.value,
            "certificate": _b64(self.certificate),
            "digest": _b64(self.digest),
            "signature": _b64(self.signature),
        }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


__all__ = ["CardEvidence"]
