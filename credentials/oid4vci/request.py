"""Requests to the Credential (OpenID4VCI 1.0 §8.2), Deferred Credential (§9.1) and Notification (§11.1) endpoints:
parsed strictly into typed values, every problem an :class:`~credentials.oid4vci.errors.IssuanceError`.

Credential Request: exactly one of ``credential_identifier`` / ``credential_configuration_id``; ``proofs`` with
exactly one proof type, ``jwt``, holding 1 to ``batch_size`` proofs (a missing ``proofs`` is ``invalid_proof``,
§8.3.1.2 case 1). ``credential_response_encryption`` is refused with ``invalid_encryption_parameters``: this
issuer does not advertise response encryption (§8.2). Unknown members are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from credentials.oid4vci.errors import (
    IssuanceError,
    IssuanceErrorCode,
    IssuanceReason,
    invalid_proof,
    invalid_request,
)

#: Largest request body read at these endpoints.
MAX_REQUEST_OCTETS: Final = 256 * 1024
NOTIFICATION_EVENTS: Final = ("credential_accepted", "credential_failure", "credential_deleted")
_IDENTIFIER: Final = re.compile(r"[\x21-\x7e]{1,128}")
_DESCRIPTION: Final = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]{0,1000}")


@dataclass(frozen=True, slots=True)
class CredentialRequest:
    """A Credential Request: what is asked for and the proofs of the keys to bind."""

    credential_identifier: str | None
    credential_configuration_id: str | None
    proofs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NotificationRequest:
    """A Notification Request (§11.1)."""

    notification_id: str
    event: str
    event_description: str | None


def _identifier(value: object, name: str, error: IssuanceErrorCode) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise IssuanceError(error, IssuanceReason.MALFORMED_REQUEST, f"{name} is not a short printable string")
    return value


def parse_credential_request(document: Mapping[str, Any], *, batch_size: int) -> CredentialRequest:
    """A Credential Request (§8.2) from its JSON object."""
    if "credential_response_encryption" in document:
        raise IssuanceError(IssuanceErrorCode.INVALID_ENCRYPTION_PARAMETERS, IssuanceReason.ENCRYPTION_UNSUPPORTED,
                            "this issuer does not encrypt credential responses")
    identifier, configuration = document.get("credential_identifier"), document.get("credential_configuration_id")
    if (identifier is None) == (configuration is None):
        raise invalid_request("exactly one of credential_identifier and credential_configuration_id")
    code = IssuanceErrorCode.INVALID_CREDENTIAL_REQUEST
    if identifier is not None:
        identifier = _identifier(identifier, "credential_identifier", code)
    if configuration is not None:
        configuration = _identifier(configuration, "credential_configuration_id", code)
    proofs = document.get("proofs")
    if proofs is None:
        if "proof" in document:
            raise invalid_proof(IssuanceReason.UNSUPPORTED_PROOF_TYPE, "use proofs (OpenID4VCI 1.0), not proof")
        raise invalid_proof(IssuanceReason.MISSING_PROOF, "proofs is required")
    if not isinstance(proofs, Mapping) or len(proofs) != 1:
        raise invalid_proof(IssuanceReason.MALFORMED_REQUEST, "proofs holds exactly one proof type")
    if "jwt" not in proofs:
        raise invalid_proof(IssuanceReason.UNSUPPORTED_PROOF_TYPE, "the supported proof type is jwt")
    jwts = proofs["jwt"]
    if not isinstance(jwts, list) or not jwts or not all(isinstance(p, str) and p for p in jwts):
        raise invalid_proof(IssuanceReason.MALFORMED_REQUEST, "proofs.jwt is a non-empty array of JWTs")
    if len(jwts) > batch_size:
        raise invalid_request(f"at most {batch_size} proofs per request", IssuanceReason.TOO_MANY_PROOFS)
    return CredentialRequest(identifier, configuration, tuple(jwts))


def parse_deferred_request(document: Mapping[str, Any]) -> str:
    """The ``transaction_id`` of a Deferred Credential Request (§9.1)."""
    if "credential_response_encryption" in document:
        raise IssuanceError(IssuanceErrorCode.INVALID_ENCRYPTION_PARAMETERS, IssuanceReason.ENCRYPTION_UNSUPPORTED,
                            "this issuer does not encrypt credential responses")
    if "transaction_id" not in document:
        raise invalid_request("transaction_id is required")
    return _identifier(document["transaction_id"], "transaction_id", IssuanceErrorCode.INVALID_TRANSACTION_ID)


def parse_notification_request(document: Mapping[str, Any]) -> NotificationRequest:
    """A Notification Request (§11.1)."""
    code = IssuanceErrorCode.INVALID_NOTIFICATION_REQUEST
    if "notification_id" not in document:
        raise IssuanceError(code, IssuanceReason.MALFORMED_REQUEST, "notification_id is required")
    notification_id = _identifier(document["notification_id"], "notification_id", code)
    event = document.get("event")
    if event not in NOTIFICATION_EVENTS:
        raise IssuanceError(code, IssuanceReason.MALFORMED_REQUEST, f"event is one of {', '.join(NOTIFICATION_EVENTS)}")
    description = document.get("event_description")
    if description is not None and (not isinstance(description, str) or not _DESCRIPTION.fullmatch(description)):
        raise IssuanceError(code, IssuanceReason.MALFORMED_REQUEST, "event_description is short ASCII text")
    return NotificationRequest(notification_id, str(event), description)


__all__ = ["MAX_REQUEST_OCTETS", "NOTIFICATION_EVENTS", "CredentialRequest", "NotificationRequest",
           "parse_credential_request", "parse_deferred_request", "parse_notification_request"]
