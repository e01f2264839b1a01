"""Typed results of a revocation check, shared by the CRL, OCSP and platform-operator sources.

A check returns a :class:`RevocationStatus` only for a certificate that fresh, authenticated data shows
as good at the validation time. A certificate shown as revoked raises :class:`Revoked` (a
:class:`~keys.errors.RevokedCertificate` that carries the status), and anything else raises another
:class:`~keys.errors.VerificationError`: there is one success path.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from cryptography import x509

from keys.errors import Reason, RevokedCertificate

#: Where a status came from.
Source = Literal["crl", "ocsp", "platform"]

#: The default tolerance between our clock and the clocks of CRL issuers and responders.
DEFAULT_SKEW = dt.timedelta(minutes=5)


class CertStatus(StrEnum):
    """The status of a certificate at the validation time."""

    GOOD = "good"
    REVOKED = "revoked"
    #: No fresh status was available and the policy does not require one (see :class:`Unchecked`).
    UNCHECKED = "unchecked"


@dataclass(frozen=True, slots=True)
class RevocationStatus:
    """Authenticated, fresh status information about one certificate."""

    status: CertStatus
    source: Source
    #: When the source last knew the status to be correct (thisUpdate, or the operator's check time).
    this_update: dt.datetime
    #: When newer information will be available (nextUpdate, or the end of the allowed age).
    next_update: dt.datetime | None
    revoked_at: dt.datetime | None = None
    reason_code: x509.ReasonFlags | None = None


class Revoked(RevokedCertificate):
    """The certificate is revoked; :attr:`status` holds the authenticated evidence."""

    def __init__(self, status: RevocationStatus) -> None:
        when = f"at {status.revoked_at:%Y-%m-%dT%H:%M:%SZ}" if status.revoked_at else "at an unstated time"
        reason = status.reason_code.value if status.reason_code else "no reason given"
        super().__init__(Reason.REVOKED, f"revoked {when} ({reason}) according to {status.source}")
        self.status = status


def revoked_unless_later(
    source: Source,
    *,
    at: dt.datetime,
    this_update: dt.datetime,
    next_update: dt.datetime | None,
    revoked_at: dt.datetime | None,
    reason_code: x509.ReasonFlags | None,
) -> RevocationStatus:
    """Conclude on a "revoked" entry: raise :class:`Revoked`, unless the revocation took effect after ``at``
    (RFC 5280 §6.3.3(i) reads the status at the validation time), when the certificate was still good.

    A revocation without a time is taken to be in effect (fail closed).
    """
    if revoked_at is not None and revoked_at > at:
        return RevocationStatus(CertStatus.GOOD, source, this_update, next_update)
    raise Revoked(RevocationStatus(CertStatus.REVOKED, source, this_update, next_update, revoked_at, reason_code))
