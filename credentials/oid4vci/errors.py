"""OID4VCI error responses (OpenID4VCI 1.0 §8.3.1.2, §9.3, §11.3) with a machine-readable reason for logs.

Every failure of the issuer protocol code is an :class:`IssuanceError`: ``error`` is the code the wallet sees
(:class:`IssuanceErrorCode`), ``reason`` the finer cause (a :class:`keys.errors.Reason` or a code of this module:
``nonce_unknown``, ``duplicate_key``, ...) that goes to the logs and metrics, ``description`` an ASCII text for
people (§8.3.1.2: ``%x20-21 / %x23-5B / %x5D-7E`` only). Descriptions never contain claim values.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final

from keys.errors import Reason

_ALLOWED: Final = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


class IssuanceErrorCode(StrEnum):
    """Error codes of the Credential, Deferred Credential and Notification endpoints."""

    INVALID_CREDENTIAL_REQUEST = "invalid_credential_request"
    UNKNOWN_CREDENTIAL_CONFIGURATION = "unknown_credential_configuration"
    UNKNOWN_CREDENTIAL_IDENTIFIER = "unknown_credential_identifier"
    INVALID_PROOF = "invalid_proof"
    INVALID_NONCE = "invalid_nonce"
    INVALID_ENCRYPTION_PARAMETERS = "invalid_encryption_parameters"
    CREDENTIAL_REQUEST_DENIED = "credential_request_denied"
    INVALID_TRANSACTION_ID = "invalid_transaction_id"
    INVALID_NOTIFICATION_ID = "invalid_notification_id"
    INVALID_NOTIFICATION_REQUEST = "invalid_notification_request"


class IssuanceReason(StrEnum):
    """Finer causes of this package, beside the :class:`keys.errors.Reason` of a failed JOSE check."""

    MALFORMED_REQUEST = "malformed_request"
    MISSING_PROOF = "missing_proof"
    UNSUPPORTED_PROOF_TYPE = "unsupported_proof_type"
    TOO_MANY_PROOFS = "too_many_proofs"
    DUPLICATE_KEY = "duplicate_key"
    KEY_TYPE_NOT_ALLOWED = "key_type_not_allowed"
    MISSING_NONCE = "missing_nonce"
    NONCE_UNKNOWN = "nonce_unknown"
    WRONG_PROOF_ISSUER = "wrong_proof_issuer"
    KEY_ATTESTATION_REQUIRED = "key_attestation_required"
    KEY_NOT_ATTESTED = "key_not_attested"
    KEY_STORAGE_INSUFFICIENT = "key_storage_insufficient"
    USER_AUTHENTICATION_INSUFFICIENT = "user_authentication_insufficient"
    ATTESTATION_NONCE_MISMATCH = "attestation_nonce_mismatch"
    UNKNOWN_CONFIGURATION = "unknown_configuration"
    UNKNOWN_IDENTIFIER = "unknown_identifier"
    ALREADY_ISSUED = "already_issued"
    CERTIFICATE_REVOKED = "certificate_revoked"
    ENCRYPTION_UNSUPPORTED = "encryption_unsupported"
    UNKNOWN_TRANSACTION = "unknown_transaction"
    UNKNOWN_NOTIFICATION = "unknown_notification"


class IssuanceError(Exception):
    """An OID4VCI error answer (HTTP 400 with ``{"error", "error_description"}``)."""

    def __init__(self, error: IssuanceErrorCode, reason: IssuanceReason | Reason, description: str) -> None:
        super().__init__(f"{error.value} ({reason.value}): {description}")
        self.error = error
        self.reason = reason
        self.description = _ALLOWED.sub("?", description)[:300]

    def to_json(self) -> dict[str, str]:
        """The JSON error body (§8.3.1.2)."""
        return {"error": self.error.value, "error_description": self.description}


def invalid_request(description: str, reason: IssuanceReason = IssuanceReason.MALFORMED_REQUEST) -> IssuanceError:
    """``invalid_credential_request``."""
    return IssuanceError(IssuanceErrorCode.INVALID_CREDENTIAL_REQUEST, reason, description)


def invalid_proof(reason: IssuanceReason | Reason, description: str) -> IssuanceError:
    """``invalid_proof``: a proof is missing, malformed or does not verify."""
    return IssuanceError(IssuanceErrorCode.INVALID_PROOF, reason, description)


__all__ = ["IssuanceError", "IssuanceErrorCode", "IssuanceReason", "invalid_proof", "invalid_request"]
