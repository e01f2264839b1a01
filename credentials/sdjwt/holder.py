"""Holder-side processing (RFC 9901 §7.2): which Disclosures to release for a set of claims.

:class:`HeldSdJwt` processes an issued SD-JWT with all its Disclosures (the same strict rules as a Verifier,
:mod:`credentials.sdjwt.process`) and remembers where each Disclosure lands. Releasing a claim releases the
Disclosures on its path (its ancestors, so that every released Disclosure "connects" to the Issuer-signed JWT,
§4.2.6) and every Disclosure inside it (the claim with its sub-claims). The issuer signature is not checked
here: a wallet verifies it on receipt with :func:`credentials.sdjwt.verify.verify_sd_jwt`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from credentials.errors import CredentialReason, InvalidKeyBinding, MalformedCredential, translated
from credentials.jose import unverified_payload
from credentials.limits import DEFAULT_CREDENTIAL_LIMITS, CredentialLimits
from credentials.sdjwt.compact import CompactSdJwt
from credentials.sdjwt.disclosure import DEFAULT_HASH_ALG, Disclosure
from credentials.sdjwt.process import Path, parse_disclosures, process
from credentials.sdjwt.verify import sd_alg


@dataclass(frozen=True, slots=True)
class HeldSdJwt:
    """An issued SD-JWT as its Holder sees it: all claims, all Disclosures and the path each one fills."""

    jwt: str
    payload: Mapping[str, Any]
    claims: Mapping[str, Any]
    disclosures: tuple[Disclosure, ...]
    placed: Mapping[str, Path]
    hash_alg: str

    @classmethod
    def parse(
        cls, issued: str, *, hash_algs: Collection[str] = (DEFAULT_HASH_ALG,),
        limits: CredentialLimits = DEFAULT_CREDENTIAL_LIMITS,
    ) -> HeldSdJwt:
        """Process an issued SD-JWT (``<JWT>~<D1>~...~``) with every Disclosure."""
        compact = CompactSdJwt.parse(issued, limits)
        if compact.kb_jwt is not None:
            raise InvalidKeyBinding(
                CredentialReason.UNEXPECTED_KEY_BINDING, "an Issuer provides an SD-JWT, not an SD-JWT+KB (§7.2)"
            )
        with translated(MalformedCredential):
            payload = unverified_payload(compact.jwt, limits.jose)
        hash_alg = sd_alg(payload, hash_algs)
        by_digest = parse_disclosures(compact.disclosures, hash_alg=hash_alg, limits=limits)
        processed = process(payload, by_digest, depth=limits.depth)
        return cls(compact.jwt, payload, processed.claims, tuple(by_digest.values()), processed.placed, hash_alg)

    def disclosures_for(self, paths: Iterable[Path]) -> tuple[Disclosure, ...]:
        """The Disclosures to release for the claims at ``paths`` (concrete paths into :attr:`claims`), in
        issuance order: those on each path and those inside each selected claim."""
        selected = list(paths)
        return tuple(
            d for d in self.disclosures
            if any(_related(self.placed[d.digest], path) for path in selected)
        )

    def present(self, paths: Iterable[Path]) -> str:
        """An SD-JWT (ending in ``~``, ready for a KB-JWT) releasing the claims at ``paths``."""
        return "".join([self.jwt, "~", *(d.encoded + "~" for d in self.disclosures_for(paths))])


def _related(placed: Path, selected: Path) -> bool:
    """True when one path is a prefix of the other: an ancestor of the selected claim or inside it."""
    shorter = min(len(placed), len(selected))
    return placed[:shorter] == selected[:shorter]
