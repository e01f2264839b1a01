"""Typed verification errors.

Every check in the verification core either returns normally (the one success path) or raises a
subclass of :class:`VerificationError` carrying a machine-readable :class:`Reason` and a short
human-readable detail. Callers never receive a boolean "valid" flag from the core (a design rule that
guards against CVE-2008-5077-style result confusion, see verification-hardening.md row 20).

Details never contain secrets or personal data: they name the check and the offending structure only.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Generic, TypeVar

R = TypeVar("R", bound=StrEnum)


class Reason(StrEnum):
    """Machine-readable reason codes, stable across releases (used in JSON output and HTTP errors)."""

    # input shape and limits
    MALFORMED = "malformed"
    TOO_LARGE = "too_large"
    TOO_DEEP = "too_deep"
    DUPLICATE_MEMBER = "duplicate_member"
    # trust anchors and paths
    UNTRUSTED_ROOT = "untrusted_root"
    TEST_ROOT_REFUSED = "test_root_refused"
    NO_VALID_PATH = "no_valid_path"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    # certificate profile
    WRONG_POLICY = "wrong_policy"
    WRONG_KEY_USAGE = "wrong_key_usage"
    WRONG_EXTENDED_KEY_USAGE = "wrong_extended_key_usage"
    UNKNOWN_CRITICAL_EXTENSION = "unknown_critical_extension"
    WEAK_KEY = "weak_key"
    BAD_FACTS = "bad_facts"
    NAME_MISMATCH = "name_mismatch"
    # signatures and algorithms
    BAD_SIGNATURE = "bad_signature"
    ALGORITHM_NOT_ALLOWED = "algorithm_not_allowed"
    # revocation
    REVOKED = "revoked"
    REVOCATION_UNAVAILABLE = "revocation_unavailable"
    STALE_REVOCATION_DATA = "stale_revocation_data"
    REVOCATION_NOT_YET_VALID = "revocation_not_yet_valid"
    BAD_REVOCATION_DATA = "bad_revocation_data"
    REVOCATION_SCOPE = "revocation_scope"
    UNAUTHORISED_RESPONDER = "unauthorised_responder"
    NONCE_MISMATCH = "nonce_mismatch"
    # JOSE / JWT
    UNSUPPORTED_CRIT = "unsupported_crit"
    HEADER_KEY_REFUSED = "header_key_refused"
    UNKNOWN_KEY = "unknown_key"
    TYP_MISMATCH = "typ_mismatch"
    WRONG_AUDIENCE = "wrong_audience"
    WRONG_ISSUER = "wrong_issuer"
    TOKEN_EXPIRED = "token_expired"
    TOKEN_NOT_YET_VALID = "token_not_yet_valid"
    TOKEN_ISSUED_IN_FUTURE = "token_issued_in_future"
    MISSING_CLAIM = "missing_claim"
    AMBIGUOUS_KEY = "ambiguous_key"
    # card login
    LOGIN_EXPIRED = "login_expired"
    LOGIN_ISSUED_IN_FUTURE = "login_issued_in_future"
    # signed documents (CMS, PDF) and verification records
    UNKNOWN_SIGNER = "unknown_signer"
    MISSING_ATTRIBUTE = "missing_attribute"
    DIGEST_MISMATCH = "digest_mismatch"
    CERTIFICATE_MISMATCH = "certificate_mismatch"
    SIGNED_IN_FUTURE = "signed_in_future"
    NO_SIGNATURE = "no_signature"
    BYTE_RANGE = "byte_range"
    UNSIGNED_UPDATE = "unsigned_update"
    RECORD_MISMATCH = "record_mismatch"
    # linking a card's two keys, or an old and a renewed certificate (keys.cardlink)
    LINK_SAME_KEY = "link_same_key"
    LINK_GENERATION_MISMATCH = "link_generation_mismatch"
    LINK_NOT_CHECKED = "link_not_checked"


class ReasonedError(Exception, Generic[R]):
    """An error with a machine-readable ``reason`` (a value of ``R``) and a ``detail`` for people: the base of
    :class:`VerificationError` and of :class:`credentials.errors.CredentialError`."""

    def __init__(self, reason: R, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail

    def as_dict(self) -> dict[str, str]:
        """The error as a JSON-ready mapping (``reason``, ``detail``)."""
        return {"reason": self.reason.value, "detail": self.detail}


class VerificationError(ReasonedError[Reason]):
    """Base of every verification failure. ``reason`` is machine-readable; ``detail`` is for people."""


class MalformedInput(VerificationError):
    """Input that is not well-formed DER/PEM/JSON/JWS, or has a value outside its syntax."""


class LimitExceeded(VerificationError):
    """Input larger or deeper than the configured limits (see :mod:`keys.limits`)."""


class UntrustedCertificate(VerificationError):
    """No valid path to a pinned trust anchor, or a path that breaks the profile."""


class InvalidSignature(VerificationError):
    """A signature that does not verify, or an algorithm/key outside the allow-list for its use."""


class RevokedCertificate(VerificationError):
    """The certificate is revoked according to fresh, authenticated status information."""


class RevocationUnavailable(VerificationError):
    """No fresh, authenticated status could be established: the policy fails closed."""


class InvalidToken(VerificationError):
    """A JWS/JWT that fails a header, key or claim check."""
