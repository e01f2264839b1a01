"""The revocation policy: which sources count, how fresh they must be, and the fail-closed combination
of their answers (RFC 5280 §6.3; RFC 6960; jpki-card-and-certs.md §2.4 for platform operators).

:func:`check_revocation` evaluates every source it is given that the policy allows, in the policy's
order:

* any authenticated REVOKED raises :class:`~keys.revocation.status.Revoked` at once;
* otherwise the first GOOD from a fresh, authenticated source is returned;
* when no source gave a fresh, authenticated answer it raises :class:`NoFreshStatus` listing why each
  failed, unless ``policy.required`` is false, when it returns :class:`Unchecked` (a non-authoritative
  result the caller must report as such).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

from cryptography import x509

from keys.errors import Reason, RevocationUnavailable, RevokedCertificate, VerificationError
from keys.revocation.certid import CertificateId
from keys.revocation.crl import CrlIndex, check_crl
from keys.revocation.ocsp import CachedOcspStatus, check_ocsp_response, judge_cached_ocsp
from keys.revocation.platform import PlatformAnswer, judge_platform_answer
from keys.revocation.status import DEFAULT_SKEW, CertStatus, RevocationStatus, Source
from keys.x509.rawcert import RawCertificate

_SOURCES: frozenset[Source] = frozenset({"crl", "ocsp", "platform"})


@dataclass(frozen=True, slots=True)
class RevocationPolicy:
    """How revocation is checked. The defaults fail closed."""

    #: Time a CRL may still be used after its nextUpdate (0: not at all).
    crl_grace: dt.timedelta = dt.timedelta(0)
    #: Maximum age of an OCSP response without nextUpdate (``None``: such responses are refused).
    ocsp_max_age: dt.timedelta | None = dt.timedelta(hours=1)
    #: Maximum age of a platform operator's answer, on top of the limits the answer states.
    platform_max_age: dt.timedelta | None = dt.timedelta(minutes=5)
    #: Tolerance between our clock and the clocks of issuers, responders and operators.
    skew: dt.timedelta = DEFAULT_SKEW
    #: Whether a fresh, authenticated status is required (``False`` only for non-authoritative pre-checks).
    required: bool = True
    #: The sources allowed, in the order their GOOD answers are preferred.
    sources: tuple[Source, ...] = ("ocsp", "platform", "crl")

    def __post_init__(self) -> None:
        if min(self.crl_grace, self.skew) < dt.timedelta(0) or any(
            age is not None and age < dt.timedelta(0) for age in (self.ocsp_max_age, self.platform_max_age)
        ):
            raise ValueError("revocation policy durations must not be negative")
        if not self.sources or len(set(self.sources)) != len(self.sources) or not set(self.sources) <= _SOURCES:
            raise ValueError(f"sources must be distinct members of {sorted(_SOURCES)}")


class NoFreshStatus(RevocationUnavailable):
    """No source gave a fresh, authenticated status; :attr:`failures` says why, source by source."""

    def __init__(self, failures: tuple[tuple[Source, VerificationError], ...]) -> None:
        if failures:
            reasons = {error.reason for _, error in failures}
            reason = reasons.pop() if len(reasons) == 1 else Reason.REVOCATION_UNAVAILABLE
            detail = "; ".join(f"{source}: {error.reason.value}: {error.detail}" for source, error in failures)
        else:
            reason, detail = Reason.REVOCATION_UNAVAILABLE, "no revocation data was given"
        super().__init__(reason, detail)
        self.failures = failures


@dataclass(frozen=True, slots=True)
class Unchecked:
    """No fresh status, accepted only because the policy does not require one: not a verdict."""

    failures: tuple[tuple[Source, VerificationError], ...]
    status: Literal[CertStatus.UNCHECKED] = CertStatus.UNCHECKED
    source: None = None


def check_revocation(
    cert: x509.Certificate | CertificateId,
    issuer: x509.Certificate,
    *,
    at: dt.datetime,
    policy: RevocationPolicy,
    crls: Sequence[CrlIndex] = (),
    ocsp_responses: Sequence[bytes] = (),
    platform_answer: PlatformAnswer | None = None,
    nonce: bytes | None = None,
    ocsp_cached: Sequence[CachedOcspStatus] = (),
    raw: RawCertificate | None = None,
) -> RevocationStatus | Unchecked:
    """The revocation status of ``cert`` (issued by ``issuer``) at ``at`` under ``policy``.

    ``crls`` must come from :func:`~keys.revocation.crl.load_crl`; ``nonce`` is the nonce sent to the OCSP
    responder or platform operator, if any; ``ocsp_cached`` are OCSP verdicts kept from earlier checks
    (:func:`~keys.revocation.ocsp.judge_cached_ocsp`), counted as the OCSP source. ``cert`` may be a
    :class:`~keys.revocation.certid.CertificateId` for the online sources (a CRL's scope check needs the
    certificate itself; ``raw``, the certificate's DER view when the caller holds it already, e.g.
    :attr:`keys.x509.path.ValidatedPath.raw`, spares the CRLs reading it again). Raises
    :class:`~keys.revocation.status.Revoked` or :class:`NoFreshStatus`; see the module docstring.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    given: dict[Source, list[Callable[[], RevocationStatus]]] = {
        "crl": [partial(_crl, index, cert if raw is None else raw, issuer, at, policy) for index in crls],
        "ocsp": [
            *(partial(check_ocsp_response, data, cert=cert, issuer=issuer, at=at, max_age=policy.ocsp_max_age,
                      skew=policy.skew, nonce=nonce) for data in ocsp_responses),
            *(partial(judge_cached_ocsp, cached, cert=cert, at=at, skew=policy.skew) for cached in ocsp_cached),
        ],
        "platform": [
            partial(judge_platform_answer, answer, certificate=cert, at=at, max_age=policy.platform_max_age,
                    skew=policy.skew, nonce=nonce)
            for answer in ([platform_answer] if platform_answer is not None else [])
        ],
    }
    failures: list[tuple[Source, VerificationError]] = []
    good: RevocationStatus | None = None
    for source, attempt in _attempts(given, policy, failures):
        try:
            status = attempt()
        except RevokedCertificate:
            raise
        except VerificationError as exc:
            failures.append((source, exc))
            continue
        good = good or status
    if good is not None:
        return good
    if policy.required:
        raise NoFreshStatus(tuple(failures))
    return Unchecked(tuple(failures))


def _attempts(
    given: dict[Source, list[Callable[[], RevocationStatus]]],
    policy: RevocationPolicy,
    failures: list[tuple[Source, VerificationError]],
) -> Iterator[tuple[Source, Callable[[], RevocationStatus]]]:
    """The checks to run in policy order; data from a source the policy does not allow is recorded, unused."""
    for source, checks in given.items():
        if checks and source not in policy.sources:
            failures.append(
                (source, RevocationUnavailable(Reason.REVOCATION_UNAVAILABLE, "source not allowed by the policy"))
            )
    for source in policy.sources:
        for check in given[source]:
            yield source, check


def _crl(
    index: CrlIndex, cert: x509.Certificate | CertificateId | RawCertificate, issuer: x509.Certificate,
    at: dt.datetime, policy: RevocationPolicy,
) -> RevocationStatus:
    if isinstance(cert, CertificateId):
        raise RevocationUnavailable(Reason.REVOCATION_SCOPE, "a CRL's scope check needs the certificate")
    if index.issuer != issuer:
        raise RevocationUnavailable(Reason.REVOCATION_SCOPE, "CRL was authenticated for another issuer certificate")
    return check_crl(index, cert, at=at, grace=policy.crl_grace, skew=policy.skew)
