"""Certificate status from a platform operator (プラットフォーム事業者): the interface a validity-check
service implements, the JSON contract of its answers, and the pure judgement of an answer.

J-LIS gives CRLs and OCSP only to registered verifiers; other relying parties ask a certified
platform operator to check a certificate (jpki-card-and-certs.md §2.4). This module fixes what a client and
an operator exchange and how an answer is judged; the HTTP binding and its client are :mod:`idp.login.platform`
(a stand-in operator for tests: ``tests/idp/cardlogin/platform_operator.py``).

JSON contract (version 1)
-------------------------

Request (the client sends; the HTTP layer chooses the route)::

    {"certificate": "<base64url DER, no padding>", "purpose": "auth" | "sign", "nonce": "<base64url, 16–64 bytes>"}

A re-check after the login (the provider keeps no certificate: :class:`~keys.revocation.certid.CertificateId`)
sends, instead of ``certificate``, the certificate's identity — what J-LIS's revocation data is keyed by — and the
hash the answer must be bound to::

    {"certificate_id": {"issuer": "<base64url DER of the issuer Name>", "serial_number": "<decimal>"},
     "certificate_sha256": "<lower-case hex>", "purpose": "auth" | "sign", "nonce": "<base64url>"}

Answer: a compact JWS (RS256 or ES256) signed by the operator's key, which the client pins and verifies
before building a :class:`PlatformAnswer` with ``signature_verified=True``. Its payload is one JSON
object with exactly these members (``null`` where marked optional):

============================  =========================  =====================================================
member                        type                       meaning
============================  =========================  =====================================================
``operator``                  string                     operator id (as configured for the pinned key)
``certificate_sha256``        string                     lower-case hex SHA-256 of the certificate DER asked about
``status``                    ``"good"|"revoked"|...``   ``"good"``, ``"revoked"`` or ``"unknown"``
``checked_at``                string                     RFC 3339 UTC (``2026-11-22T12:00:00Z``): when the
                                                         operator established the status from J-LIS data
``next_update``               string or null             when that J-LIS data expires (its CRL nextUpdate)
``max_age``                   integer or null            seconds the answer may be relied on after ``checked_at``
``revoked_at``                string or null             revocation time (``"revoked"`` only)
``reason``                    string or null             RFC 5280 CRLReason name, e.g. ``"keyCompromise"``
``nonce``                     string or null             the request nonce echoed, base64url
============================  =========================  =====================================================

``max_age`` is at most ten years (:data:`MAX_AGE_SECONDS`): no status is relied on for longer, and the bound
keeps the time arithmetic in range.

:func:`parse_platform_answer` reads that payload strictly (unknown or missing members are refused);
:func:`judge_platform_answer` applies binding, freshness and status and fails closed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from cryptography import x509

from keys.errors import InvalidSignature, MalformedInput, Reason, RevocationUnavailable
from keys.jose.b64 import b64url_decode_loose
from keys.revocation.certid import CertificateId
from keys.revocation.status import DEFAULT_SKEW, CertStatus, RevocationStatus, revoked_unless_later
from keys.x509.profile import Purpose

_ISO = "%Y-%m-%dT%H:%M:%SZ"
#: The largest ``max_age`` an answer may state (ten years, in seconds).
MAX_AGE_SECONDS = 10 * 366 * 24 * 3600
_RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_MEMBERS = frozenset(
    {"operator", "certificate_sha256", "status", "checked_at", "next_update", "max_age", "revoked_at", "reason",
     "nonce"}
)


class PlatformStatus(StrEnum):
    """The operator's verdict on a certificate."""

    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class PlatformAnswer:
    """One answer of a platform operator (the payload of its signed response)."""

    operator: str
    certificate_sha256: str
    status: PlatformStatus
    checked_at: dt.datetime
    next_update: dt.datetime | None
    max_age: dt.timedelta | None
    revoked_at: dt.datetime | None
    reason: x509.ReasonFlags | None
    nonce: bytes | None
    #: True only once the caller has verified the operator's JWS over this payload with the pinned key.
    signature_verified: bool


class PlatformOperator(Protocol):
    """A validity-check service of a platform operator (over HTTP: :class:`idp.login.platform.HttpPlatformOperator`)."""

    def check(self, certificate_der: bytes, purpose: Purpose, *, nonce: bytes) -> PlatformAnswer:
        """Ask for the status of one certificate; the answer's signature is verified before returning."""
        ...

    def check_id(self, certificate: CertificateId, purpose: Purpose, *, nonce: bytes) -> PlatformAnswer:
        """The same, for a certificate known by its identity only (a re-check after the login)."""
        ...


def parse_platform_answer(payload: Mapping[str, object], *, signature_verified: bool) -> PlatformAnswer:
    """Read a decoded answer payload under the JSON contract above, or raise :class:`MalformedInput`."""
    if set(payload) != _MEMBERS:
        extra, missing = set(payload) - _MEMBERS, _MEMBERS - set(payload)
        raise MalformedInput(
            Reason.MALFORMED, f"platform answer members: unknown {sorted(extra)}, missing {sorted(missing)}"
        )
    status, reason = payload["status"], payload["reason"]
    max_age = payload["max_age"]
    if not isinstance(status, str) or status not in PlatformStatus.__members__.values():
        raise MalformedInput(Reason.MALFORMED, "platform answer status is not good, revoked or unknown")
    if max_age is not None and (type(max_age) is not int or not 0 <= max_age <= MAX_AGE_SECONDS):
        raise MalformedInput(Reason.MALFORMED, f"platform answer max_age is not an integer from 0 to {MAX_AGE_SECONDS}")
    try:
        reason_flag = x509.ReasonFlags(reason) if reason is not None else None
    except ValueError:
        raise MalformedInput(Reason.MALFORMED, "platform answer reason is not a CRLReason name") from None
    checked_at = _time(payload, "checked_at")
    if checked_at is None:
        raise MalformedInput(Reason.MALFORMED, "platform answer has no checked_at")
    return PlatformAnswer(
        operator=_string(payload, "operator"),
        certificate_sha256=_string(payload, "certificate_sha256"),
        status=PlatformStatus(status),
        checked_at=checked_at,
        next_update=_time(payload, "next_update"),
        max_age=dt.timedelta(seconds=max_age) if max_age is not None else None,
        revoked_at=_time(payload, "revoked_at"),
        reason=reason_flag,
        nonce=_nonce(payload["nonce"]),
        signature_verified=signature_verified,
    )


def judge_platform_answer(
    answer: PlatformAnswer,
    *,
    certificate: x509.Certificate | CertificateId,
    at: dt.datetime,
    max_age: dt.timedelta | None,
    skew: dt.timedelta = DEFAULT_SKEW,
    nonce: bytes | None = None,
) -> RevocationStatus:
    """The status of ``certificate`` at ``at`` according to ``answer``; raise unless it is good and fresh.

    The answer must be signature-verified, be about ``certificate`` (SHA-256 of its DER), echo ``nonce``
    when one was sent, not be from the future, and be within every age limit that applies: its
    ``next_update``, its own ``max_age`` and ours. Without any limit it is stale (fail closed).
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    if not answer.signature_verified:
        raise InvalidSignature(Reason.BAD_SIGNATURE, "platform answer signature was not verified")
    if answer.certificate_sha256 != CertificateId.sha256_of(certificate):
        raise RevocationUnavailable(Reason.REVOCATION_SCOPE, "platform answer is about another certificate")
    if nonce is not None and answer.nonce != nonce:
        raise RevocationUnavailable(Reason.NONCE_MISMATCH, "platform answer nonce is not the request nonce")
    if answer.checked_at > at + skew:
        raise RevocationUnavailable(
            Reason.REVOCATION_NOT_YET_VALID, f"platform answer checked_at {answer.checked_at:{_ISO}} is in the future"
        )
    limits = [answer.next_update]
    limits += [answer.checked_at + age for age in (answer.max_age, max_age) if age is not None]
    deadlines = [d for d in limits if d is not None]
    if not deadlines:
        raise RevocationUnavailable(Reason.STALE_REVOCATION_DATA, "platform answer states no freshness limit")
    expires = min(deadlines)
    if at - skew > expires:  # not expires + skew: a nextUpdate of 9999-12-31 would overflow
        raise RevocationUnavailable(Reason.STALE_REVOCATION_DATA, f"platform answer expired {expires:{_ISO}}")
    if answer.status is PlatformStatus.GOOD:
        return RevocationStatus(CertStatus.GOOD, "platform", answer.checked_at, expires)
    if answer.status is PlatformStatus.REVOKED:
        return revoked_unless_later(
            "platform", at=at, this_update=answer.checked_at, next_update=expires,
            revoked_at=answer.revoked_at, reason_code=answer.reason,
        )
    raise RevocationUnavailable(Reason.REVOCATION_UNAVAILABLE, f"platform operator {answer.operator} does not know it")


def _string(payload: Mapping[str, object], name: str) -> str:
    value = payload[name]
    if not isinstance(value, str) or not value:
        raise MalformedInput(Reason.MALFORMED, f"platform answer {name} is not a non-empty string")
    return value


def _time(payload: Mapping[str, object], name: str) -> dt.datetime | None:
    value = payload[name]
    if value is None:
        return None
    if not isinstance(value, str) or not _RFC3339_UTC.fullmatch(value):
        raise MalformedInput(Reason.MALFORMED, f"platform answer {name} is not an RFC 3339 UTC time")
    try:
        return dt.datetime.strptime(value, _ISO).replace(tzinfo=dt.UTC)
    except ValueError:
        raise MalformedInput(Reason.MALFORMED, f"platform answer {name} is not a valid date") from None


def _nonce(value: object) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", value):
        raise MalformedInput(Reason.MALFORMED, "platform answer nonce is not base64url")
    try:
        return b64url_decode_loose(value)
    except ValueError:
        raise MalformedInput(Reason.MALFORMED, "platform answer nonce is not base64url") from None
