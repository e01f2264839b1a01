"""Disclosures and their digests (RFC 9901 §4.2).

A Disclosure is the base64url encoding of a JSON array ``[salt, name, value]`` (an object property, §4.2.1) or
``[salt, value]`` (an array element, §4.2.2). Its digest is the base64url hash of the *encoded* Disclosure's
ASCII bytes (§4.2.3), never of the decoded JSON, so no canonicalisation is needed (Appendix B).

We encode the array as Python's default ``json.dumps`` does (``", "`` separators, non-ASCII escaped): the
encoding of every example in RFC 9901 and the SD-JWT VC draft, so that our Disclosures for the spec's salts are
byte-identical to the published ones. Any encoding is accepted on input.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from credentials.errors import CredentialLimitExceeded, CredentialReason, MalformedCredential, translated
from credentials.jose import loads_value
from credentials.limits import CredentialLimits
from keys.errors import Reason
from keys.jose.b64 import b64url_decode, b64url_encode

#: Hash functions by their IANA "Named Information Hash Algorithm" name (RFC 9901 §4.1.1).
HASH_ALGS: Mapping[str, Callable[[bytes], Any]] = {
    "sha-256": hashlib.sha256,
    "sha-384": hashlib.sha384,
    "sha-512": hashlib.sha512,
}
#: The default and mandatory-to-implement ``_sd_alg`` (RFC 9901 §4.1.1).
DEFAULT_HASH_ALG = "sha-256"
#: Claim names reserved for digests (RFC 9901 §4.2.1): never the name in a Disclosure.
RESERVED_NAMES = frozenset({"_sd", "..."})
#: Random bytes in a salt: 128 bits, as RFC 9901 §9.3 recommends.
SALT_BYTES = 16


def new_salt() -> str:
    """A fresh salt: 128 bits from the OS CSPRNG, base64url-encoded (RFC 9901 §4.2.1, §9.3)."""
    return b64url_encode(secrets.token_bytes(SALT_BYTES))


def digest(text: str, hash_alg: str) -> str:
    """base64url(hash(ASCII(text))): the digest of an encoded Disclosure (§4.2.3) and the ``sd_hash`` (§4.3.1)."""
    return b64url_encode(HASH_ALGS[hash_alg](text.encode("ascii")).digest())


def decoy_digest(hash_alg: str) -> str:
    """A decoy digest: the hash of a fresh random salt, indistinguishable from a real digest (§4.2.5)."""
    return digest(new_salt(), hash_alg)


@dataclass(frozen=True, slots=True)
class Disclosure:
    """One Disclosure: its encoded form, its digest and the decoded salt, claim name (``None`` for an array
    element) and value. The salt and value are personal data: never log them."""

    encoded: str
    digest: str
    salt: str
    name: str | None
    value: Any

    @classmethod
    def create(cls, salt: str, name: str | None, value: Any, *, hash_alg: str = DEFAULT_HASH_ALG) -> Disclosure:
        """Encode a Disclosure for an object property (``name`` given) or an array element (``name=None``)."""
        if name is not None and name in RESERVED_NAMES:
            raise ValueError(f"{name!r} is reserved and cannot be a disclosed claim name")
        array = [salt, value] if name is None else [salt, name, value]
        encoded = b64url_encode(json.dumps(array).encode("utf-8"))
        return cls(encoded, digest(encoded, hash_alg), salt, name, value)

    @classmethod
    def parse(cls, encoded: str, *, hash_alg: str, limits: CredentialLimits) -> Disclosure:
        """Decode a received Disclosure: strict base64url, one strict JSON array of two or three elements whose
        salt (and name) are strings (§4.2.1, §4.2.2, §7.1 step 3)."""
        if len(encoded) > limits.disclosure_chars:
            raise CredentialLimitExceeded(
                Reason.TOO_LARGE, f"Disclosure is {len(encoded)} characters, limit {limits.disclosure_chars}"
            )
        with translated(MalformedCredential):
            raw = b64url_decode(encoded, "Disclosure")
            array = loads_value(raw, what="Disclosure", limits=limits.jose, max_bytes=limits.disclosure_chars)
        if not isinstance(array, list) or len(array) not in (2, 3):
            raise MalformedCredential(CredentialReason.DISCLOSURE_MALFORMED, "a Disclosure is an array of 2 or 3")
        if not isinstance(array[0], str):
            raise MalformedCredential(CredentialReason.DISCLOSURE_MALFORMED, "the salt is not a string")
        if len(array) == 2:
            return cls(encoded, digest(encoded, hash_alg), array[0], None, array[1])
        if not isinstance(array[1], str):
            raise MalformedCredential(CredentialReason.DISCLOSURE_MALFORMED, "the claim name is not a string")
        return cls(encoded, digest(encoded, hash_alg), array[0], array[1], array[2])

    def __repr__(self) -> str:  # salts and values stay out of reprs and tracebacks
        kind = "element" if self.name is None else f"claim {self.name!r}"
        return f"Disclosure({kind}, digest={self.digest!r})"
