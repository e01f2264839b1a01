"""The ``claims`` request parameter (OIDC Core §5.5): a JSON object of at most :data:`MAX_CLAIMS_OCTETS` whose
``id_token`` and ``userinfo`` members name at most :data:`MAX_REQUESTED_CLAIMS` claims each (§5.5.1: null, or
``essential`` and ``value``/``values``; ``verified_claims`` (OpenID Connect for Identity Assurance 1.0 §5) is kept
whole, checked by :func:`idp.oauth.verified_claims.check_request`)::

    parse_claims('{"id_token": {"acr": {"essential": true}}}')["id_token"]["acr"].essential  # True
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from idp.errors import InvalidRequest
from idp.oauth.authorization_request.parameters import LIMITS
from idp.oauth.verified_claims import VERIFIED_CLAIMS, check_request

MAX_CLAIMS_OCTETS: Final = LIMITS["claims"]
MAX_REQUESTED_CLAIMS: Final = 32
CLAIM_TARGETS: Final = ("id_token", "userinfo")
_CLAIM_NAME: Final = re.compile(r"[\x21-\x7e]{1,64}")


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    """One requested claim (OIDC Core §5.5.1): whether it is essential, and the values asked for, if any."""

    essential: bool = False
    values: tuple[Any, ...] | None = None
    #: The whole member of a structured request (``verified_claims``), as sent.
    query: Any = None

    def to_json(self) -> Any:
        """The claim's JSON member (null for a plain request)."""
        if self.query is not None:
            return self.query
        if not self.essential and self.values is None:
            return None
        member: dict[str, Any] = {"essential": True} if self.essential else {}
        if self.values is not None:
            member["values"] = list(self.values)
        return member


ClaimsRequest = Mapping[str, Mapping[str, ClaimRequest]]


def _claim_request(target: str, name: str, member: object) -> ClaimRequest:
    if name == VERIFIED_CLAIMS:
        check_request(member, target)
        return ClaimRequest(query=member)
    if member is None:
        return ClaimRequest()
    if not isinstance(member, dict):
        raise InvalidRequest(f"claims.{target}.{name} must be null or an object (OIDC Core §5.5.1)")
    essential = member.get("essential", False)
    if not isinstance(essential, bool):
        raise InvalidRequest(f"claims.{target}.{name}.essential must be true or false")
    if "value" in member and "values" in member:
        raise InvalidRequest(f"claims.{target}.{name}: value or values, not both")
    values: tuple[Any, ...] | None = None
    if "value" in member:
        values = (member["value"],)
    elif "values" in member:
        if not isinstance(member["values"], list) or not member["values"]:
            raise InvalidRequest(f"claims.{target}.{name}.values must be a non-empty array")
        values = tuple(member["values"])
    return ClaimRequest(essential=essential, values=values)


def parse_claims(value: object) -> ClaimsRequest:
    """The ``claims`` parameter (OIDC Core §5.5): JSON text (or, in a request object, the object itself)."""
    if isinstance(value, str):
        try:
            document = json.loads(value)
        except (ValueError, RecursionError):
            raise InvalidRequest("claims must be a JSON object (OIDC Core §5.5)") from None
    else:
        document = value
        if len(json.dumps(document, separators=(",", ":")).encode("utf-8")) > MAX_CLAIMS_OCTETS:
            raise InvalidRequest(f"claims is larger than {MAX_CLAIMS_OCTETS} octets")
    if not isinstance(document, dict):
        raise InvalidRequest("claims must be a JSON object (OIDC Core §5.5)")
    parsed: dict[str, dict[str, ClaimRequest]] = {}
    for target in CLAIM_TARGETS:
        members = document.get(target)
        if members is None:
            continue
        if not isinstance(members, dict):
            raise InvalidRequest(f"claims.{target} must be a JSON object")
        if len(members) > MAX_REQUESTED_CLAIMS:
            raise InvalidRequest(f"claims.{target} names more than {MAX_REQUESTED_CLAIMS} claims")
        for name in members:
            if not _CLAIM_NAME.fullmatch(name):
                raise InvalidRequest(f"claims.{target} has an invalid claim name")
        parsed[target] = {name: _claim_request(target, name, member) for name, member in members.items()}
    return parsed


def claims_json(claims: ClaimsRequest) -> dict[str, dict[str, Any]]:
    """The claims request as the JSON object it came as (for storage)."""
    return {target: {name: c.to_json() for name, c in members.items()} for target, members in claims.items()}



__all__ = ["CLAIM_TARGETS", "MAX_CLAIMS_OCTETS", "MAX_REQUESTED_CLAIMS", "ClaimRequest", "ClaimsRequest", "claims_json",
           "parse_claims"]
