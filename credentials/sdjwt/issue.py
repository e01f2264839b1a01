"""SD-JWT issuance (RFC 9901 §4.1, §4.2): selectively disclosable claims, decoys, recursion, the compact form.

Claims to hide are wrapped in :class:`SD`: as an object member value (the member becomes a Disclosure whose
digest goes into the object's ``_sd`` array, §4.2.4.1) or as an array element (the element becomes
``{"...": digest}``, §4.2.4.2). Wrapped values may contain further :class:`SD` markers (recursive disclosure,
§4.2.6): inner Disclosures are created first and their digests travel inside the outer Disclosure.

Every object that gets an ``_sd`` array also gets a random number of decoy digests (§4.2.5, on by default)
and its digests are sorted, which hides the original order and the number of hidden claims.

Randomness (salts, decoys) comes from a :class:`Randomness`; the default uses the OS CSPRNG. Tests and the
conformance suite substitute the spec's published salts to reproduce its examples byte for byte.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from credentials.sdjwt.disclosure import DEFAULT_HASH_ALG, HASH_ALGS, RESERVED_NAMES, Disclosure, decoy_digest, new_salt
from keys.service.jws import encode_jwt
from keys.service.signer import Signer


@dataclass(frozen=True, slots=True)
class SD:
    """Marks a claim value (object member or array element) as selectively disclosable."""

    value: Any

    def __repr__(self) -> str:
        return "SD(<redacted>)"


class Randomness(Protocol):
    """Source of salts and decoy digests for one issuance."""

    def salt(self) -> str:
        """A fresh salt for the next Disclosure."""
        ...

    def decoys(self, hash_alg: str) -> list[str]:
        """Decoy digests for the ``_sd`` array being completed."""
        ...


@dataclass(frozen=True, slots=True)
class SecureRandomness:
    """CSPRNG salts (128 bits, RFC 9901 §9.3) and 1 to ``max_decoys`` decoys per ``_sd`` array (§4.2.5).

    ``max_decoys=0`` turns decoys off.
    """

    max_decoys: int = 4

    def salt(self) -> str:
        """128 random bits, base64url."""
        return new_salt()

    def decoys(self, hash_alg: str) -> list[str]:
        """A uniformly random count in ``[1, max_decoys]`` of random digests (none when ``max_decoys`` is 0)."""
        count = 1 + secrets.randbelow(self.max_decoys) if self.max_decoys > 0 else 0
        return [decoy_digest(hash_alg) for _ in range(count)]


SECURE_RANDOMNESS = SecureRandomness()
#: JSON scalars: values that are never an SD marker, object or array.
_SCALARS = (str, int, float)


@dataclass(frozen=True, slots=True)
class IssuedSdJwt:
    """An issued SD-JWT: the Issuer-signed JWT, all Disclosures (in creation order) and the signed payload."""

    jwt: str
    disclosures: tuple[Disclosure, ...]
    payload: Mapping[str, Any]

    @property
    def compact(self) -> str:
        """``<Issuer-signed JWT>~<Disclosure 1>~...~<Disclosure N>~`` (RFC 9901 §4)."""
        return "".join([self.jwt, "~", *(d.encoded + "~" for d in self.disclosures)])


def build_payload(
    claims: Mapping[str, Any], *, hash_alg: str = DEFAULT_HASH_ALG, randomness: Randomness = SECURE_RANDOMNESS
) -> tuple[dict[str, Any], tuple[Disclosure, ...]]:
    """Turn ``claims`` (with :class:`SD` markers) into an SD-JWT payload and its Disclosures.

    Adds ``_sd_alg`` at the top level (§4.1.1). Refuses input that already uses the reserved names ``_sd``,
    ``...`` or ``_sd_alg`` (§4.1 rule 7) or puts :class:`SD` where no claim can be hidden.
    """
    if hash_alg not in HASH_ALGS:
        raise ValueError(f"unsupported _sd_alg {hash_alg!r}")
    builder = _Builder(hash_alg, randomness)
    payload = builder.object(claims)
    if not isinstance(payload, dict):
        raise TypeError("SD-JWT claims are a JSON object")
    payload["_sd_alg"] = hash_alg
    return payload, tuple(builder.disclosures)


def issue_sd_jwt(
    claims: Mapping[str, Any],
    *,
    signer: Signer,
    typ: str,
    header: Mapping[str, Any] | None = None,
    with_kid: bool = True,
    hash_alg: str = DEFAULT_HASH_ALG,
    randomness: Randomness = SECURE_RANDOMNESS,
) -> IssuedSdJwt:
    """Build the payload (:func:`build_payload`) and sign it with ``typ`` (explicit typing, §9.11)."""
    payload, disclosures = build_payload(claims, hash_alg=hash_alg, randomness=randomness)
    jwt = encode_jwt(payload, signer, typ=typ, header=header, with_kid=with_kid)
    return IssuedSdJwt(jwt, disclosures, payload)


class _Builder:
    def __init__(self, hash_alg: str, randomness: Randomness) -> None:
        self.hash_alg = hash_alg
        self.randomness = randomness
        self.disclosures: list[Disclosure] = []

    def value(self, value: Any) -> Any:
        if value is None or isinstance(value, _SCALARS):  # the common case, before the slower ABC checks
            return value
        if isinstance(value, SD):
            raise TypeError("SD marks an object member or an array element, not a value inside SD")
        if isinstance(value, Mapping):
            return self.object(value)
        if isinstance(value, Sequence) and not isinstance(value, str | bytes):
            return [self.element(e) for e in value]
        return value

    def element(self, element: Any) -> Any:
        if isinstance(element, SD):
            return {"...": self.disclose(None, element.value)}
        return self.value(element)

    def object(self, claims: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        digests: list[str] = []
        for name, value in claims.items():
            if not isinstance(name, str):
                raise TypeError("claim names are strings")
            if name in RESERVED_NAMES or name == "_sd_alg":
                raise ValueError(f"{name!r} is reserved for SD-JWT (RFC 9901 §4.1)")
            if isinstance(value, SD):
                digests.append(self.disclose(name, value.value))
            else:
                result[name] = self.value(value)
        if not digests:
            return result
        digests.extend(self.randomness.decoys(self.hash_alg))
        return {"_sd": sorted(digests), **result}  # "_sd" first, as in the RFC's examples

    def disclose(self, name: str | None, value: Any) -> str:
        inner = self.value(value)  # inner Disclosures first: their digests are part of this one (§4.2.6)
        disclosure = Disclosure.create(self.randomness.salt(), name, inner, hash_alg=self.hash_alg)
        self.disclosures.append(disclosure)
        return disclosure.digest
