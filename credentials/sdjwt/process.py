"""Processing Disclosures against the digests of a verified payload (RFC 9901 §7.1 step 3 to 5).

Strict, in one pass over the payload, each rule failing with its own reason:

* ``_sd`` is an array of strings (``reserved_claim_name`` otherwise: the name is reserved for digests, §4.1);
  ``_sd_alg`` only at the top level; an object with a ``...`` member is an array-element digest and nothing else;
* a digest appears once in the whole payload, Disclosures included (``duplicate_digest``, step 4);
* a Disclosure referenced from ``_sd`` has a claim name (3 elements), one from ``{"...": d}`` has none
  (``disclosure_malformed``, step 3.3.2.1 and 3.3.3.1); the name is not ``_sd`` or ``...``
  (``reserved_claim_name``) and not already present in the object (``claim_name_collision``);
* every received Disclosure is referenced (``disclosure_not_referenced``, step 5); a Disclosure received twice is
  ``duplicate_disclosure`` (§4: a Holder must not send one twice);
* the processed tree is at most ``limits.depth`` deep (``too_deep``).

Unmatched digests (decoys, undisclosed claims) are dropped: ``_sd`` keys vanish and undisclosed array elements
are removed (step 3.4, 3.5). The result records, for every Disclosure, the path at which it was inserted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from credentials.errors import CredentialLimitExceeded, CredentialReason, InvalidCredential
from credentials.limits import CredentialLimits
from credentials.sdjwt.disclosure import RESERVED_NAMES, Disclosure
from keys.errors import Reason

#: One step of a path into the processed payload: an object member name or an array index.
PathStep = str | int
Path = tuple[PathStep, ...]


@dataclass(frozen=True, slots=True)
class Processed:
    """The processed payload and where each Disclosure landed in it (paths into ``claims``)."""

    claims: dict[str, Any]
    placed: Mapping[str, Path]  # Disclosure digest -> path of the claim it disclosed


def parse_disclosures(
    encoded: Sequence[str], *, hash_alg: str, limits: CredentialLimits
) -> dict[str, Disclosure]:
    """Decode every Disclosure and index it by digest; a repeated Disclosure is ``duplicate_disclosure``."""
    if len(encoded) > limits.disclosures:
        raise CredentialLimitExceeded(Reason.TOO_LARGE, f"{len(encoded)} Disclosures, limit {limits.disclosures}")
    by_digest: dict[str, Disclosure] = {}
    for text in encoded:
        disclosure = Disclosure.parse(text, hash_alg=hash_alg, limits=limits)
        if disclosure.digest in by_digest:
            raise InvalidCredential(CredentialReason.DUPLICATE_DISCLOSURE, "a Disclosure is sent more than once")
        by_digest[disclosure.digest] = disclosure
    return by_digest


def process(payload: Mapping[str, Any], disclosures: Mapping[str, Disclosure], *, depth: int) -> Processed:
    """Apply ``disclosures`` (by digest) to the Issuer-signed ``payload``; see the module docstring."""
    walker = _Walker(disclosures, depth)
    claims = walker.object(payload, (), top=True)
    if unused := disclosures.keys() - walker.placed.keys():
        raise InvalidCredential(
            CredentialReason.DISCLOSURE_NOT_REFERENCED, f"{len(unused)} Disclosure(s) not referenced by any digest"
        )
    return Processed(claims, walker.placed)


class _Walker:
    def __init__(self, disclosures: Mapping[str, Disclosure], depth: int) -> None:
        self.disclosures = disclosures
        self.max_depth = depth
        self.seen: set[str] = set()
        self.placed: dict[str, Path] = {}

    def value(self, value: Any, path: Path) -> Any:
        if len(path) > self.max_depth:
            raise CredentialLimitExceeded(Reason.TOO_DEEP, f"processed payload nests deeper than {self.max_depth}")
        if isinstance(value, dict):
            return self.object(value, path, top=False)
        if isinstance(value, list):
            return self.array(value, path)
        return value

    def object(self, obj: Mapping[str, Any], path: Path, *, top: bool) -> dict[str, Any]:
        if "..." in obj:
            raise InvalidCredential(CredentialReason.RESERVED_CLAIM_NAME, "'...' member outside an array digest")
        if "_sd_alg" in obj and not top:
            raise InvalidCredential(CredentialReason.RESERVED_CLAIM_NAME, "_sd_alg below the top level")
        digests = obj.get("_sd", [])
        if not isinstance(digests, list) or not all(isinstance(d, str) for d in digests):
            raise InvalidCredential(CredentialReason.RESERVED_CLAIM_NAME, "_sd is not an array of digests")
        result = {
            name: self.value(value, (*path, name))
            for name, value in obj.items()
            if name != "_sd" and not (top and name == "_sd_alg")
        }
        for digest in digests:
            disclosure = self.match(digest)
            if disclosure is None:
                continue
            if disclosure.name is None:
                raise InvalidCredential(CredentialReason.DISCLOSURE_MALFORMED, "array Disclosure referenced in _sd")
            if disclosure.name in RESERVED_NAMES:
                raise InvalidCredential(CredentialReason.RESERVED_CLAIM_NAME, "a Disclosure names _sd or ...")
            if disclosure.name in result:
                raise InvalidCredential(
                    CredentialReason.CLAIM_NAME_COLLISION, f"claim {disclosure.name!r} appears twice in one object"
                )
            claim_path = (*path, disclosure.name)
            self.placed[digest] = claim_path
            result[disclosure.name] = self.value(disclosure.value, claim_path)
        return result

    def array(self, array: Sequence[Any], path: Path) -> list[Any]:
        result: list[Any] = []
        for element in array:
            if isinstance(element, dict) and "..." in element:
                digest = element["..."]
                if len(element) != 1 or not isinstance(digest, str):
                    raise InvalidCredential(
                        CredentialReason.RESERVED_CLAIM_NAME, "an array digest object has one '...' string member"
                    )
                disclosure = self.match(digest)
                if disclosure is None:
                    continue
                if disclosure.name is not None:
                    raise InvalidCredential(
                        CredentialReason.DISCLOSURE_MALFORMED, "object-property Disclosure referenced in an array"
                    )
                element_path = (*path, len(result))
                self.placed[digest] = element_path
                result.append(self.value(disclosure.value, element_path))
            else:
                result.append(self.value(element, (*path, len(result))))
        return result

    def match(self, digest: str) -> Disclosure | None:
        if digest in self.seen:
            raise InvalidCredential(CredentialReason.DUPLICATE_DIGEST, "a digest appears more than once")
        self.seen.add(digest)
        return self.disclosures.get(digest)

