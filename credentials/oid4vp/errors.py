"""Typed OID4VP verifier errors: every refusal of a request, response or presentation carries a reason.

:class:`PresentationError` carries either a :class:`VerifierReason` (the protocol layer: unknown or expired
transactions, replays, malformed or undecryptable responses) or the reason of the credential check that failed
(:class:`credentials.errors.CredentialReason` or :class:`keys.errors.Reason`: ``wrong_audience``,
``nonce_mismatch``, ``sd_hash_mismatch``, ``status_invalid``, ...). The three enums never share a value, so
``reason.value`` alone identifies the failure. Details never hold claim values, keys or transaction secrets.
"""

from __future__ import annotations

from enum import StrEnum

from credentials.errors import CredentialError, ReasonCode


class VerifierReason(StrEnum):
    """Reason codes of the OID4VP verifier, stable across releases."""

    # the transaction (OID4VP 1.0 §13.3, §14.3)
    UNKNOWN_TRANSACTION = "unknown_transaction"
    TRANSACTION_EXPIRED = "transaction_expired"
    ALREADY_RESPONDED = "already_responded"
    RESPONSE_CODE_MISMATCH = "response_code_mismatch"
    STATE_MISMATCH = "state_mismatch"
    # the Authorization Response (§8.1 to §8.3)
    WRONG_RESPONSE_MODE = "wrong_response_mode"
    RESPONSE_NOT_DECRYPTABLE = "response_not_decryptable"
    VP_TOKEN_MALFORMED = "vp_token_malformed"
    PRESENTATION_NOT_REQUESTED = "presentation_not_requested"
    WALLET_ERROR = "wallet_error"
    # the relying-party API and the request parameters (§5)
    INVALID_REQUEST = "invalid_request"
    UNAUTHORISED = "unauthorised"
    # the service itself
    INTERNAL_ERROR = "internal_error"


#: A reason of the verifier, of the credentials package or of :mod:`keys`.
PresentationReason = VerifierReason | ReasonCode


class PresentationError(Exception):
    """A refused OID4VP request, response or presentation. ``reason`` is machine-readable; ``detail`` is for
    people (and logs)."""

    def __init__(self, reason: PresentationReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail

    @classmethod
    def of(cls, error: CredentialError) -> PresentationError:
        """The same failure, as a presentation error (its reason kept)."""
        return cls(error.reason, error.detail)

    def as_dict(self) -> dict[str, str]:
        """The error as a JSON-ready mapping (``reason``, ``detail``)."""
        return {"reason": self.reason.value, "detail": self.detail}
