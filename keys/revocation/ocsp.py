"""OCSP responses (RFC 6960), checked for one certificate with :func:`check_ocsp_response`.

Steps; each failure raises a :class:`~keys.errors.VerificationError` with a reason, and returning a
GOOD :class:`~keys.revocation.status.RevocationStatus` is the one success path:

1. Size limit, then DER parsing by pyca/cryptography.
2. responseStatus is ``successful``. The error statuses (``tryLater``, ``internalError``, …) are unsigned
   (§4.2.1), so anyone on the path can send them: they mean "no status", never "good" (Marlinspike,
   "Defeating OCSP with the character '3'", 2009).
3. Signer (§4.2.2.2): the responderID names either the certificate issuer itself, or a delegated
   responder certificate included in the response that the issuer signed, that asserts
   id-kp-OCSPSigning, is valid at the validation time, and carries id-pkix-ocsp-nocheck (§4.2.2.2.1:
   we cannot check a responder's own status, so we accept only responders that declare it need not be
   checked). Algorithm and key allow-list, then the signature over the exact ResponseData.
4. Exactly one SingleResponse, whose CertID matches the certificate: issuerNameHash, issuerKeyHash and
   serialNumber under the CertID's own hash algorithm (SHA-1 is acceptable for these identifiers,
   §4.1.1; we ask about one certificate, and §4.2.2.3 says responders SHOULD NOT add others).
5. No unknown critical extension; the nonce (RFC 8954) matches when one was sent.
6. Times (§4.2.2.1, §3.2 (5)–(6)): thisUpdate and producedAt not in the future beyond the skew;
   nextUpdate, when present, not passed; without nextUpdate, thisUpdate within ``max_age``.
7. certStatus: good returns; revoked raises :class:`~keys.revocation.status.Revoked`; unknown raises
   :class:`~keys.errors.RevocationUnavailable`.

A verdict reached this way may be kept and reused by later checks of the same certificate (a cache shared by the
processes of a service) as a :class:`CachedOcspStatus`: the certificate's SHA-256 and the judged status with its
times, never the response or the certificate. :func:`judge_cached_ocsp` accepts it again only for that certificate
and while it is fresh (the response's nextUpdate, or the shorter limit the cache set), as step 6 would.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from keys.der import subject_public_key_bits
from keys.errors import InvalidSignature, MalformedInput, Reason, RevocationUnavailable
from keys.limits import DEFAULT_LIMITS, Limits, check_size
from keys.revocation.algorithms import check_algorithm, verify_signature
from keys.revocation.certid import CertificateId
from keys.revocation.status import DEFAULT_SKEW, CertStatus, RevocationStatus, revoked_unless_later
from keys.trust import issuance_failure

_ISO = "%Y-%m-%dT%H:%M:%SZ"
#: Hash algorithms allowed in a CertID (identifiers, not signatures: SHA-1 is acceptable here).
_CERT_ID_HASHES = {"sha1", "sha256", "sha384", "sha512"}
#: Extensions of a delegated responder certificate that this module processes.
_RESPONDER_EXTENSIONS_UNDERSTOOD = (
    x509.KeyUsage,
    x509.ExtendedKeyUsage,
    x509.BasicConstraints,
    x509.OCSPNoCheck,
    x509.AuthorityKeyIdentifier,
    x509.SubjectKeyIdentifier,
)


def check_ocsp_response(
    data: bytes,
    *,
    cert: x509.Certificate | CertificateId,
    issuer: x509.Certificate,
    at: dt.datetime,
    max_age: dt.timedelta | None,
    skew: dt.timedelta = DEFAULT_SKEW,
    nonce: bytes | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> RevocationStatus:
    """The status of ``cert`` (issued by ``issuer``) at ``at`` according to the DER OCSP response ``data``.

    ``max_age`` bounds the age of a response without nextUpdate (``None``: such responses are refused);
    ``nonce`` is the nonce our request carried, if any. ``cert`` may be a :class:`CertificateId` (issuer name
    and serial): what a re-check keeps instead of the certificate.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    check_size(data, limits.ocsp_bytes, "OCSP response")
    try:
        response = ocsp.load_der_ocsp_response(data)
    except ValueError as exc:
        raise MalformedInput(Reason.MALFORMED, f"not an OCSP response: {exc}") from None
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise RevocationUnavailable(
            Reason.REVOCATION_UNAVAILABLE,
            f"responder answered {response.response_status.name} (unsigned; not a certificate status)",
        )
    try:
        return _check_successful(response, cert, issuer, at, max_age, skew, nonce)
    except ValueError as exc:  # cryptography decodes some fields lazily
        raise MalformedInput(Reason.MALFORMED, f"bad OCSP response: {exc}") from None


def _check_successful(
    response: ocsp.OCSPResponse,
    cert: x509.Certificate | CertificateId,
    issuer: x509.Certificate,
    at: dt.datetime,
    max_age: dt.timedelta | None,
    skew: dt.timedelta,
    nonce: bytes | None,
) -> RevocationStatus:
    if cert.issuer != issuer.subject:
        raise RevocationUnavailable(Reason.REVOCATION_SCOPE, "the given issuer did not issue the certificate")
    # 3. signer and signature
    check_algorithm(response.signature_algorithm_oid, "OCSP response")
    signer = _signer(response, issuer, at)
    verify_signature(
        signer.public_key(), response.signature_algorithm_oid, response.signature, response.tbs_response_bytes,
        "OCSP response",
    )
    # 4. the one SingleResponse, about this certificate
    singles = list(response.responses)
    if len(singles) != 1:
        raise RevocationUnavailable(Reason.BAD_REVOCATION_DATA, f"{len(singles)} SingleResponses, expected one")
    single = singles[0]
    _check_cert_id(single, cert, issuer)
    # 5. extensions and nonce
    _check_extensions(response.extensions, "OCSP response", understood=(x509.OCSPNonce,))
    _check_extensions(response.single_extensions, "OCSP SingleResponse", understood=())
    if nonce is not None:
        _check_nonce(response.extensions, nonce)
    # 6. times
    this_update, next_update, produced_at = single.this_update_utc, single.next_update_utc, response.produced_at_utc
    if this_update > at + skew or produced_at > at + skew:
        raise RevocationUnavailable(
            Reason.REVOCATION_NOT_YET_VALID,
            f"OCSP thisUpdate {this_update:{_ISO}} or producedAt {produced_at:{_ISO}} is in the future",
        )
    if this_update > produced_at + skew:
        raise RevocationUnavailable(Reason.BAD_REVOCATION_DATA, "OCSP thisUpdate is after producedAt")
    if next_update is not None:
        if next_update < this_update:
            raise RevocationUnavailable(Reason.BAD_REVOCATION_DATA, "OCSP nextUpdate is before thisUpdate")
        if at > next_update + skew:
            raise RevocationUnavailable(
                Reason.STALE_REVOCATION_DATA, f"OCSP nextUpdate {next_update:{_ISO}} has passed"
            )
    elif max_age is None:
        raise RevocationUnavailable(Reason.STALE_REVOCATION_DATA, "OCSP response has no nextUpdate")
    elif this_update < at - max_age:
        raise RevocationUnavailable(
            Reason.STALE_REVOCATION_DATA, f"OCSP thisUpdate {this_update:{_ISO}} is older than {max_age}"
        )
    else:
        next_update = this_update + max_age
    # 7. status
    status = single.certificate_status
    if status is ocsp.OCSPCertStatus.GOOD:
        return RevocationStatus(CertStatus.GOOD, "ocsp", this_update, next_update)
    if status is ocsp.OCSPCertStatus.REVOKED:
        return revoked_unless_later(
            "ocsp", at=at, this_update=this_update, next_update=next_update,
            revoked_at=single.revocation_time_utc, reason_code=single.revocation_reason,
        )
    raise RevocationUnavailable(Reason.REVOCATION_UNAVAILABLE, "responder does not know the certificate")


def _key_hash(cert: x509.Certificate, algorithm: str) -> bytes:
    """RFC 6960 §4.1.1: the hash of the subjectPublicKey BIT STRING value."""
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.new(algorithm, subject_public_key_bits(spki)).digest()


def _names_responder(response: ocsp.OCSPResponse, candidate: x509.Certificate) -> bool:
    if response.responder_key_hash is not None:
        return response.responder_key_hash == _key_hash(candidate, "sha1")
    return response.responder_name == candidate.subject


def _signer(response: ocsp.OCSPResponse, issuer: x509.Certificate, at: dt.datetime) -> x509.Certificate:
    """RFC 6960 §4.2.2.2: the certificate the responderID names, if it is authorised to sign for ``issuer``."""
    if _names_responder(response, issuer):
        return issuer
    named = [c for c in response.certificates if _names_responder(response, c)]
    if len(named) != 1:
        raise RevocationUnavailable(
            Reason.UNAUTHORISED_RESPONDER,
            "responderID names neither the issuer nor exactly one certificate in the response",
        )
    responder = named[0]
    _authorise_responder(responder, issuer, at)
    return responder


def _authorise_responder(responder: x509.Certificate, issuer: x509.Certificate, at: dt.datetime) -> None:
    """A delegated responder: issued by ``issuer`` (signature checked), id-kp-OCSPSigning, ocsp-nocheck, valid."""
    check_algorithm(responder.signature_algorithm_oid, "OCSP responder certificate")
    if (failure := issuance_failure(responder, issuer)) is not None:
        raise RevocationUnavailable(Reason.UNAUTHORISED_RESPONDER,
                                    f"responder certificate is not issued by the issuer ({failure})")
    if not responder.not_valid_before_utc <= at <= responder.not_valid_after_utc:
        raise RevocationUnavailable(Reason.UNAUTHORISED_RESPONDER, "responder certificate is not valid now")
    try:
        extensions = list(responder.extensions)
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        raise MalformedInput(Reason.MALFORMED, f"bad responder certificate extensions: {exc}") from None
    values = {type(e.value): e.value for e in extensions}
    eku = values.get(x509.ExtendedKeyUsage)
    if not isinstance(eku, x509.ExtendedKeyUsage) or ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
        raise RevocationUnavailable(Reason.UNAUTHORISED_RESPONDER, "responder certificate lacks id-kp-OCSPSigning")
    if x509.OCSPNoCheck not in values:
        raise RevocationUnavailable(
            Reason.UNAUTHORISED_RESPONDER, "responder certificate lacks id-pkix-ocsp-nocheck (its status is unknown)"
        )
    usage = values.get(x509.KeyUsage)
    if isinstance(usage, x509.KeyUsage) and not usage.digital_signature:
        raise RevocationUnavailable(Reason.UNAUTHORISED_RESPONDER, "responder keyUsage lacks digitalSignature")
    constraints = values.get(x509.BasicConstraints)
    if isinstance(constraints, x509.BasicConstraints) and constraints.ca:
        raise RevocationUnavailable(Reason.UNAUTHORISED_RESPONDER, "responder certificate is a CA certificate")
    for ext in extensions:
        if ext.critical and not isinstance(ext.value, _RESPONDER_EXTENSIONS_UNDERSTOOD):
            raise RevocationUnavailable(
                Reason.UNKNOWN_CRITICAL_EXTENSION, f"responder certificate has critical {ext.oid.dotted_string}"
            )


def _check_cert_id(single: ocsp.OCSPSingleResponse, cert: x509.Certificate | CertificateId,
                   issuer: x509.Certificate) -> None:
    """RFC 6960 §4.1.1: the CertID names ``cert`` (hashes recomputed with the CertID's algorithm)."""
    algorithm: hashes.HashAlgorithm = single.hash_algorithm
    if algorithm.name not in _CERT_ID_HASHES:
        raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, f"CertID hash {algorithm.name} is not allowed")
    name_hash = hashlib.new(algorithm.name, issuer.subject.public_bytes()).digest()
    if (
        single.serial_number != cert.serial_number
        or single.issuer_name_hash != name_hash
        or single.issuer_key_hash != _key_hash(issuer, algorithm.name)
    ):
        raise RevocationUnavailable(Reason.REVOCATION_SCOPE, "the OCSP response is about another certificate")


def _check_extensions(
    extensions: x509.Extensions, what: str, *, understood: tuple[type[x509.ExtensionType], ...]
) -> None:
    for ext in extensions:
        if ext.critical and not isinstance(ext.value, understood):
            raise RevocationUnavailable(
                Reason.UNKNOWN_CRITICAL_EXTENSION, f"{what} has critical extension {ext.oid.dotted_string}"
            )


def _check_nonce(extensions: x509.Extensions, nonce: bytes) -> None:
    """RFC 8954: the response echoes the request's nonce."""
    try:
        echoed = extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        raise RevocationUnavailable(Reason.NONCE_MISMATCH, "response carries no nonce") from None
    if echoed != nonce:
        raise RevocationUnavailable(Reason.NONCE_MISMATCH, "response nonce is not the request nonce")


@dataclass(frozen=True, slots=True)
class CachedOcspStatus:
    """A status :func:`check_ocsp_response` established from a fetched response, kept for reuse: the certificate's
    SHA-256 (lower-case hex) and the judged status; ``status.next_update`` is when it stops being usable."""

    certificate_sha256: str
    status: RevocationStatus


def judge_cached_ocsp(
    cached: CachedOcspStatus, *, cert: x509.Certificate | CertificateId, at: dt.datetime,
    skew: dt.timedelta = DEFAULT_SKEW
) -> RevocationStatus:
    """The status of ``cert`` at ``at`` according to a kept OCSP verdict: about this certificate, not from the
    future, not past its nextUpdate (step 6); good returns, revoked raises :class:`~keys.revocation.status.Revoked`
    (unless the revocation is later than ``at``)."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    status = cached.status
    if status.source != "ocsp":
        raise RevocationUnavailable(Reason.BAD_REVOCATION_DATA, f"a kept {status.source} status is not an OCSP one")
    if cached.certificate_sha256 != CertificateId.sha256_of(cert):
        raise RevocationUnavailable(Reason.REVOCATION_SCOPE, "the kept OCSP status is about another certificate")
    if status.this_update > at + skew:
        raise RevocationUnavailable(
            Reason.REVOCATION_NOT_YET_VALID, f"OCSP thisUpdate {status.this_update:{_ISO}} is in the future"
        )
    if status.next_update is None or at > status.next_update + skew:
        raise RevocationUnavailable(Reason.STALE_REVOCATION_DATA, "the kept OCSP status is no longer fresh")
    if status.status is CertStatus.GOOD:
        return status
    if status.status is CertStatus.REVOKED:
        return revoked_unless_later(
            "ocsp", at=at, this_update=status.this_update, next_update=status.next_update,
            revoked_at=status.revoked_at, reason_code=status.reason_code,
        )
    raise RevocationUnavailable(Reason.REVOCATION_UNAVAILABLE, "the kept OCSP status is not a verdict")
