"""Errors of the service's own signing keys.

These are operational faults of the key service (a KEK that is missing, a key that cannot be used),
not verification results, so they stay outside :class:`keys.errors.VerificationError`. Each carries a
machine-readable :class:`KeyFault`; details never contain key material.
"""

from __future__ import annotations

from enum import StrEnum

from keys.errors import ReasonedError


class KeyFault(StrEnum):
    """Machine-readable fault codes of the key service."""

    BAD_KEK = "bad_kek"
    UNKNOWN_KEK = "unknown_kek"
    UNWRAP_FAILED = "unwrap_failed"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    NO_CURRENT_KEY = "no_current_key"
    BACKEND_UNAVAILABLE = "backend_unavailable"
    HSM_ERROR = "hsm_error"


class KeyServiceError(ReasonedError[KeyFault]):
    """A signing key cannot be created, unwrapped or used. ``fault`` (the ``reason``) is machine-readable."""

    @property
    def fault(self) -> KeyFault:
        """The machine-readable fault: the error's ``reason``."""
        return self.reason
