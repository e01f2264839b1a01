"""Authorization details of type ``openid_credential`` (RFC 9396; OpenID4VCI 1.0 §5.1.1, §6.2).

:func:`parse_authorization_details` validates the ``authorization_details`` parameter of an authorization or
token request: a JSON array of objects, each with a ``type``; this provider knows ``openid_credential`` only
(RFC 9396 §5: anything else is ``invalid_authorization_details``). An ``openid_credential`` entry names a known
``credential_configuration_id`` (once per request), optional ``claims`` (claims description objects: non-empty
``path`` arrays) and, when ``issuer`` is given and ``locations`` present, this Credential Issuer among the
locations (the provider is its own authorization server and publishes no ``authorization_servers``, so it
passes ``None``: locations carry nothing it acts on).

:func:`token_details` writes the token response member (§6.2): per granted configuration the
``credential_identifiers`` to use at the Credential Endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from credentials.oid4vci.configurations import CONFIGURATIONS

OPENID_CREDENTIAL: Final = "openid_credential"
MAX_DETAILS: Final = 8
MAX_CLAIMS: Final = 32


class InvalidAuthorizationDetails(Exception):
    """RFC 9396 §5 ``invalid_authorization_details``; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class CredentialAuthorization:
    """One ``openid_credential`` entry: the configuration and, if the wallet narrowed them, the claim paths."""

    credential_configuration_id: str
    claims: tuple[tuple[str, ...], ...] | None = None

    def to_json(self) -> dict[str, Any]:
        """The entry as the wallet sent it (without extra fields)."""
        entry: dict[str, Any] = {"type": OPENID_CREDENTIAL,
                                 "credential_configuration_id": self.credential_configuration_id}
        if self.claims is not None:
            entry["claims"] = [{"path": list(p)} for p in self.claims]
        return entry

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> CredentialAuthorization:
        """What :meth:`to_json` wrote."""
        claims = value.get("claims")
        return cls(str(value["credential_configuration_id"]),
                   None if claims is None else tuple(tuple(c["path"]) for c in claims))


def parse_authorization_details(value: object, *, issuer: str | None) -> tuple[CredentialAuthorization, ...]:
    """Validate ``authorization_details`` (a JSON string, or the decoded array from a request object)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise InvalidAuthorizationDetails("authorization_details is not JSON") from None
    if not isinstance(value, list) or not value or len(value) > MAX_DETAILS:
        raise InvalidAuthorizationDetails(f"authorization_details is an array of 1 to {MAX_DETAILS} objects")
    entries = [_entry(item, issuer) for item in value]
    ids = [e.credential_configuration_id for e in entries]
    if len(set(ids)) != len(ids):
        raise InvalidAuthorizationDetails("a credential_configuration_id is requested twice")
    return tuple(entries)


def _entry(item: object, issuer: str | None) -> CredentialAuthorization:
    if not isinstance(item, Mapping) or not isinstance(item.get("type"), str):
        raise InvalidAuthorizationDetails("each authorization details object has a type")
    if item["type"] != OPENID_CREDENTIAL:
        raise InvalidAuthorizationDetails(f"unsupported authorization details type (only {OPENID_CREDENTIAL})")
    config = item.get("credential_configuration_id")
    if not isinstance(config, str) or config not in CONFIGURATIONS:
        raise InvalidAuthorizationDetails("credential_configuration_id does not name a configuration of this issuer")
    locations = item.get("locations")
    if locations is not None and (not isinstance(locations, list) or (issuer is not None and issuer not in locations)):
        raise InvalidAuthorizationDetails("locations must name this Credential Issuer")
    claims = item.get("claims")
    if claims is None:
        return CredentialAuthorization(config)
    if not isinstance(claims, list) or not claims or len(claims) > MAX_CLAIMS:
        raise InvalidAuthorizationDetails(f"claims is an array of 1 to {MAX_CLAIMS} claims descriptions")
    paths = []
    for claim in claims:
        path = claim.get("path") if isinstance(claim, Mapping) else None
        if not isinstance(path, list) or not path or not all(isinstance(p, str) and p for p in path):
            raise InvalidAuthorizationDetails("a claims description has a non-empty path of claim names")
        paths.append(tuple(path))
    if len(set(paths)) != len(paths):
        raise InvalidAuthorizationDetails("a claim is described twice (§10.3: processing aborted)")
    return CredentialAuthorization(config, tuple(paths))


def token_details(granted: Sequence[tuple[str, Sequence[str]]]) -> list[dict[str, Any]]:
    """The token response's ``authorization_details`` (§6.2) for ``(configuration id, credential identifiers)``."""
    return [{"type": OPENID_CREDENTIAL, "credential_configuration_id": config,
             "credential_identifiers": list(identifiers)} for config, identifiers in granted]


__all__ = ["OPENID_CREDENTIAL", "CredentialAuthorization", "InvalidAuthorizationDetails",
           "parse_authorization_details", "token_details"]
