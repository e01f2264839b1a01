"""The compact serialization ``<Issuer-signed JWT>~<D1>~...~<DN>~<KB-JWT?>`` (RFC 9901 §4).

An SD-JWT ends with ``~`` (empty last component); an SD-JWT+KB ends with the KB-JWT. Every Disclosure component
is non-empty base64url (§4 ABNF). The JWS JSON serialization (§8) is not accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

from credentials.errors import CredentialLimitExceeded, MalformedCredential
from credentials.limits import CredentialLimits
from credentials.sdjwt.disclosure import digest
from keys.errors import Reason


@dataclass(frozen=True, slots=True)
class CompactSdJwt:
    """The components of a compact SD-JWT or SD-JWT+KB, as received (nothing verified yet)."""

    jwt: str
    disclosures: tuple[str, ...]
    kb_jwt: str | None

    @property
    def sd_jwt(self) -> str:
        """The SD-JWT without the KB-JWT: the exact string the ``sd_hash`` covers (§4.3.1)."""
        return "".join([self.jwt, "~", *(d + "~" for d in self.disclosures)])

    def sd_hash(self, hash_alg: str) -> str:
        """``sd_hash`` of this SD-JWT with ``hash_alg`` (the ``_sd_alg`` of the Issuer-signed JWT, §4.3.1)."""
        return digest(self.sd_jwt, hash_alg)

    @classmethod
    def parse(cls, text: str, limits: CredentialLimits) -> CompactSdJwt:
        """Split a compact SD-JWT (+KB) into its components; sizes are checked first."""
        if not isinstance(text, str):
            raise MalformedCredential(Reason.MALFORMED, "an SD-JWT is a string")
        if len(text) > limits.sd_jwt_chars:
            raise CredentialLimitExceeded(
                Reason.TOO_LARGE, f"SD-JWT is {len(text)} characters, limit {limits.sd_jwt_chars}"
            )
        if text.lstrip().startswith("{"):
            raise MalformedCredential(Reason.MALFORMED, "the JWS JSON serialization of SD-JWT is not accepted")
        parts = text.split("~")
        if len(parts) < 2:
            raise MalformedCredential(Reason.MALFORMED, "an SD-JWT has at least one '~'")
        if len(parts) - 2 > limits.disclosures:
            raise CredentialLimitExceeded(Reason.TOO_LARGE, f"{len(parts) - 2} Disclosures, limit {limits.disclosures}")
        jwt, *disclosures, kb_jwt = parts
        if jwt.count(".") != 2:
            raise MalformedCredential(Reason.MALFORMED, "the Issuer-signed JWT is not a compact JWS")
        if any(not d for d in disclosures):
            raise MalformedCredential(Reason.MALFORMED, "empty Disclosure component")
        return cls(jwt, tuple(disclosures), kb_jwt or None)

    def serialize(self) -> str:
        """The compact form again (the KB-JWT appended when present)."""
        return self.sd_jwt + (self.kb_jwt or "")
