"""Typed credential errors: every failure of the credentials package carries a machine-readable reason.

Like :mod:`keys.errors`, verification either returns normally or raises one :class:`CredentialError`
subclass. The reason is one of :class:`CredentialReason` (SD-JWT, SD-JWT VC, status lists, DCQL) or, when the
underlying check is a JOSE or X.509 one done by :mod:`keys`, the :class:`keys.errors.Reason` that check raised
(``bad_signature``, ``wrong_audience``, ``token_expired``, ...). Reason values of the two enums never overlap,
so ``error.reason.value`` alone identifies the failure.

Details never contain claim values or salts: they name the check and the offending structure only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

from keys.errors import LimitExceeded, MalformedInput, Reason, ReasonedError, VerificationError


class CredentialReason(StrEnum):
    """Reason codes of the credentials package, stable across releases."""

    # SD-JWT structure (RFC 9901 §4, §7.1)
    DISCLOSURE_MALFORMED = "disclosure_malformed"
    DUPLICATE_DISCLOSURE = "duplicate_disclosure"
    DUPLICATE_DIGEST = "duplicate_digest"
    DISCLOSURE_NOT_REFERENCED = "disclosure_not_referenced"
    CLAIM_NAME_COLLISION = "claim_name_collision"
    RESERVED_CLAIM_NAME = "reserved_claim_name"
    UNSUPPORTED_HASH_ALG = "unsupported_hash_alg"
    NON_DISCLOSABLE_CLAIM = "non_disclosable_claim"
    # key binding (RFC 9901 §4.3, §7.3)
    KEY_BINDING_REQUIRED = "key_binding_required"
    UNEXPECTED_KEY_BINDING = "unexpected_key_binding"
    NO_HOLDER_KEY = "no_holder_key"
    SD_HASH_MISMATCH = "sd_hash_mismatch"
    # SD-JWT VC (draft-ietf-oauth-sd-jwt-vc §3, §5)
    WRONG_VCT = "wrong_vct"
    NO_ISSUER_KEY = "no_issuer_key"
    ISSUER_METADATA_MISMATCH = "issuer_metadata_mismatch"
    # Token Status List (draft-ietf-oauth-status-list §7, §8)
    STATUS_INVALID = "status_invalid"
    STATUS_SUSPENDED = "status_suspended"
    STATUS_NOT_VALID = "status_not_valid"
    STATUS_UNAVAILABLE = "status_unavailable"
    STATUS_LIST_MISMATCH = "status_list_mismatch"
    STATUS_INDEX_OUT_OF_RANGE = "status_index_out_of_range"
    STATUS_LIST_FULL = "status_list_full"
    # DCQL (OpenID4VP 1.0 §6)
    INVALID_QUERY = "invalid_query"
    QUERY_NOT_SATISFIED = "query_not_satisfied"


#: A reason of this package or of :mod:`keys`.
ReasonCode = CredentialReason | Reason


class CredentialError(ReasonedError[ReasonCode]):
    """Base of every credentials failure. ``reason`` is machine-readable; ``detail`` is for people."""


class MalformedCredential(CredentialError):
    """Input that is not a well-formed SD-JWT, Disclosure, Status List or query value."""


class CredentialLimitExceeded(CredentialError):
    """Input larger or deeper than :class:`credentials.limits.CredentialLimits` allows."""


class UntrustedIssuer(CredentialError):
    """The Issuer-signed JWT's signature, key or certificate chain is not acceptable."""


class InvalidCredential(CredentialError):
    """A signed credential that breaks a processing rule: digests, claim names, validity, type."""


class InvalidKeyBinding(CredentialError):
    """A missing, unexpected or failing Key Binding JWT."""


class CredentialRevoked(CredentialError):
    """The Status List says the credential is not VALID (INVALID, SUSPENDED or another status)."""


class StatusUnavailable(CredentialError):
    """No fresh, verified Status List could be had for a credential that references one: fail closed."""


class InvalidQuery(CredentialError):
    """A DCQL query that is malformed, or that the held credentials cannot satisfy."""


class StatusListFull(CredentialError):
    """Issuer side: every index of a Status List is allocated."""


@contextmanager
def translated(failure: type[CredentialError]) -> Iterator[None]:
    """Re-raise a :class:`keys.errors.VerificationError` from the block as a credentials error.

    Malformed input and exceeded limits keep their own classes; every other failure becomes ``failure`` (the
    stage the block belongs to, e.g. :class:`UntrustedIssuer` around the issuer signature). The reason is kept.
    """
    try:
        yield
    except MalformedInput as exc:
        raise MalformedCredential(exc.reason, exc.detail) from exc
    except LimitExceeded as exc:
        raise CredentialLimitExceeded(exc.reason, exc.detail) from exc
    except VerificationError as exc:
        raise failure(exc.reason, exc.detail) from exc
