"""Offline verification of signed PDFs and detached CMS files: every signature, the exact ``/ByteRange``, pinned
roots and a given CRL; valid, or exactly why not.

A PDF passes only when every step holds for EVERY signature (ISO 32000-1 §12.8.1; ETSI EN 319 142-1), each
failure a :class:`~keys.errors.VerificationError` with its reason:

1. At least one signature (``NO_SIGNATURE``).
2. ``/ByteRange`` exactly ``[0 b c d]`` around that signature's ``/Contents``: the first range starts at 0, the gap
   ``b..c`` is exactly the hex string ``<...>`` whose value is the signature's ``/Contents``, the second range
   ends inside the file and at the end of a revision (``%%EOF``) — the incremental-update and shadow attacks
   (Mladenov et al., CCS 2019; jpki/myna GHSA-g258-q5gf-7hvx) (``BYTE_RANGE``). The signature that covers the most
   covers the whole file: anything appended after it is an unsigned update (``UNSIGNED_UPDATE``).
3. Our CMS verification (:func:`keys.cms.verify.verify_detached`) of ``/Contents`` against the digest of the
   ByteRange computed here: JPKI signing profile (nonRepudiation), pinned roots, the CRL, at the signature
   timestamp's time when one is present and its TSA is pinned (B-T), else at the verification time.
4. pyHanko's validator as a second, independent opinion with the same roots and CRL (no fetching, hard-fail):
   intact, valid, trusted, not revoked; the signature covers the whole file, or, for an earlier signature, its
   whole revision with later changes limited to what pyHanko's difference analysis allows (new signatures, form
   filling).

A document timestamp (``/DocTimeStamp``, PAdES B-LTA) passes steps 1, 2 and pyHanko's validation against the
pinned TSA roots, which must then be given (``UNTRUSTED_ROOT``).

:func:`verify_cms` runs :func:`keys.cms.verify.verify_detached` and pyHanko's detached-CMS validator on a CMS file.

Usage::

    result = await verify_pdf(pdf, trust=trust_store, crls=[crl_der], at=now)
    for signature in result.signatures:
        print(signature.field_name, signature.signer.signing_time, signature.covers_whole_file)
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import (
    async_validate_detached_cms,
    async_validate_pdf_signature,
    async_validate_pdf_timestamp,
)
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import SignatureCoverageLevel, SignatureStatus
from pyhanko_certvalidator import ValidationContext

from keys import der
from keys.cms.digest_info import HashAlgorithm, hash_algorithm_by_oid
from keys.cms.verify import VerifiedCms, VerifiedSigner, verify_detached
from keys.errors import (
    InvalidSignature,
    MalformedInput,
    Reason,
    RevokedCertificate,
    UntrustedCertificate,
    VerificationError,
)
from keys.limits import check_size
from keys.trust import TrustStore

#: Largest PDF read (the whole file is held in memory and hashed).
MAX_PDF_BYTES = 256 * 1024 * 1024
_HEX = re.compile(rb"[0-9A-Fa-f]*")
_REVISION_END = re.compile(rb"%%EOF(\r\n|\r|\n)?\Z")


@dataclass(frozen=True, slots=True)
class PdfSignature:
    """One verified signature of a PDF."""

    field_name: str
    byte_range: tuple[int, int, int, int]
    #: The card signer (``None`` for a document timestamp).
    signer: VerifiedSigner | None
    #: The signature timestamp's time (PAdES B-T) when present and its TSA pinned; a document timestamp's time.
    timestamp: dt.datetime | None
    covers_whole_file: bool


@dataclass(frozen=True, slots=True)
class VerifiedPdf:
    """A PDF every signature of which verified."""

    signatures: tuple[PdfSignature, ...]


async def verify_pdf(
    pdf: bytes,
    *,
    trust: TrustStore,
    crls: Sequence[bytes],
    at: dt.datetime,
    tsa_roots: Sequence[bytes] = (),
) -> VerifiedPdf:
    """Verify every signature of ``pdf`` at ``at``; see the module docstring. ``tsa_roots`` (DER) are the pinned
    roots of timestamp authorities (B-T); without them a signature timestamp is not used."""
    check_size(pdf, MAX_PDF_BYTES, "PDF")
    try:
        embedded = list(PdfFileReader(io.BytesIO(pdf), strict=True).embedded_signatures)
    except VerificationError:
        raise
    except Exception as exc:  # pyHanko raises several types for unreadable PDFs and signature dictionaries
        raise MalformedInput(Reason.MALFORMED, f"not a readable PDF: {str(exc)[:200]}") from None
    if not embedded:
        raise VerificationError(Reason.NO_SIGNATURE, "the PDF has no signature")
    ranges = [_check_byte_range(pdf, signature) for signature in embedded]
    last_end = max(c + d for _, _, c, d in ranges)
    if last_end != len(pdf):
        raise VerificationError(
            Reason.UNSIGNED_UPDATE, f"{len(pdf) - last_end} bytes after the last signature are not signed"
        )
    ts_context = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(r) for r in tsa_roots], allow_fetching=False,
        revocation_mode="soft-fail", moment=at,
    ) if tsa_roots else None
    results = []
    for signature, byte_range in zip(embedded, ranges, strict=True):
        if signature.sig_object_type == "/DocTimeStamp":
            results.append(await _verify_document_timestamp(pdf, signature, byte_range, ts_context))
        else:
            results.append(await _verify_signature(pdf, signature, byte_range, trust, crls, at, ts_context))
    return VerifiedPdf(tuple(results))


async def verify_cms(
    cms_der: bytes, content: bytes, *, trust: TrustStore, crls: Sequence[bytes], at: dt.datetime
) -> VerifiedCms:
    """Verify a detached CMS over ``content`` with :func:`keys.cms.verify.verify_detached`, then pyHanko."""
    result = verify_detached(cms_der, content=content, trust=trust, crls=crls, at=at)
    status = await async_validate_detached_cms(
        content, cms.ContentInfo.load(cms_der)["content"], signer_validation_context=_context(trust, crls, at)
    )
    _judge(status, "CMS")
    return result


def _check_byte_range(pdf: bytes, signature: EmbeddedPdfSignature) -> tuple[int, int, int, int]:
    """Step 2 for one signature: the exact ByteRange around its own /Contents."""
    name = signature.field_name
    values = list(signature.byte_range)
    if len(values) != 4 or not all(isinstance(v, int) and v >= 0 for v in values):
        raise VerificationError(Reason.BYTE_RANGE, f"{name}: /ByteRange is not four non-negative integers")
    a, b, c, d = (int(v) for v in values)
    if a != 0:
        raise VerificationError(Reason.BYTE_RANGE, f"{name}: /ByteRange does not start at the first byte")
    if not 0 < b < c or c + d > len(pdf) or d == 0:
        raise VerificationError(Reason.BYTE_RANGE, f"{name}: /ByteRange [0 {b} {c} {d}] does not fit the file")
    gap = pdf[b:c]
    if gap[:1] != b"<" or gap[-1:] != b">" or _HEX.fullmatch(gap[1:-1]) is None or len(gap) % 2:
        raise VerificationError(Reason.BYTE_RANGE, f"{name}: the unsigned gap is not exactly a hex string")
    contents = signature.sig_object.raw_get("/Contents")
    if bytes.fromhex(gap[1:-1].decode("ascii")) != bytes(contents):
        raise VerificationError(Reason.BYTE_RANGE, f"{name}: the unsigned gap is not this signature's /Contents")
    if _REVISION_END.search(pdf, 0, c + d) is None:
        raise VerificationError(Reason.BYTE_RANGE, f"{name}: the signed range does not end at a revision's end")
    return a, b, c, d


async def _verify_signature(
    pdf: bytes,
    signature: EmbeddedPdfSignature,
    byte_range: tuple[int, int, int, int],
    trust: TrustStore,
    crls: Sequence[bytes],
    at: dt.datetime,
    ts_context: ValidationContext | None,
) -> PdfSignature:
    name = signature.field_name
    _, b, c, d = byte_range
    # 4 first, for the timestamp time; its verdict is judged after ours, which names reasons more precisely
    status = await async_validate_pdf_signature(
        signature, signer_validation_context=_context(trust, crls, at), ts_validation_context=ts_context
    )
    timestamp = None
    if status.timestamp_validity is not None and ts_context is not None:
        if not (status.timestamp_validity.intact and status.timestamp_validity.valid
                and status.timestamp_validity.trusted):
            raise InvalidSignature(Reason.BAD_SIGNATURE, f"{name}: the signature timestamp does not verify")
        timestamp = status.timestamp_validity.timestamp
    # 3. ours, over the digest of the ByteRange computed here
    alg = _digest_algorithm(signature)
    digest = alg.hash(pdf[:b] + pdf[c : c + d])
    try:
        verified = verify_detached(_unpadded(bytes(signature.pkcs7_content)), digest=(alg, digest), trust=trust,
                                   crls=crls, at=at, signing_time=timestamp)
    except VerificationError as exc:
        raise type(exc)(exc.reason, f"{name}: {exc.detail}") from None
    # 4. pyHanko's verdict
    _judge(status, name)
    _check_coverage(pdf, name, byte_range, status.coverage, status.modification_level)
    (signer,) = verified.signers
    return PdfSignature(name, byte_range, signer, timestamp, c + d == len(pdf))


async def _verify_document_timestamp(
    pdf: bytes, signature: EmbeddedPdfSignature, byte_range: tuple[int, int, int, int],
    ts_context: ValidationContext | None,
) -> PdfSignature:
    """A document timestamp (ISO 32000-2 §12.8.5; PAdES B-LTA): pyHanko validates it against the pinned TSA
    roots, which must be given."""
    name = signature.field_name
    if ts_context is None:
        raise UntrustedCertificate(Reason.UNTRUSTED_ROOT, f"{name}: a document timestamp needs the TSA's root")
    status = await async_validate_pdf_timestamp(signature, validation_context=ts_context)
    _judge(status, name)
    _check_coverage(pdf, name, byte_range, status.coverage, status.modification_level)
    _, _, c, d = byte_range
    return PdfSignature(name, byte_range, None, status.timestamp, c + d == len(pdf))


def _check_coverage(
    pdf: bytes, name: str, byte_range: tuple[int, int, int, int], coverage: SignatureCoverageLevel | None,
    modification_level: ModificationLevel | None,
) -> None:
    """pyHanko's view of coverage agrees with ours: the whole file, or an earlier whole revision whose later
    changes are limited to new signatures and form filling."""
    _, _, c, d = byte_range
    whole = c + d == len(pdf)
    if not whole and (coverage is not SignatureCoverageLevel.ENTIRE_REVISION or (
            modification_level is not None and modification_level > ModificationLevel.FORM_FILLING)):
        raise VerificationError(Reason.UNSIGNED_UPDATE, f"{name}: later revisions change what it signed")
    if whole and coverage is not SignatureCoverageLevel.ENTIRE_FILE:
        raise VerificationError(Reason.BYTE_RANGE, f"{name}: pyHanko finds the file not entirely covered")


def _unpadded(contents: bytes) -> bytes:
    """The CMS in ``/Contents`` without the zero padding that fills the placeholder (nothing else may follow)."""
    _, _, stop = der.read_tlv(contents, 0, len(contents))
    if contents[stop:].strip(b"\x00"):
        raise MalformedInput(Reason.MALFORMED, "/Contents holds more than the CMS and zero padding")
    return contents[:stop]


def _digest_algorithm(signature: EmbeddedPdfSignature) -> HashAlgorithm:
    try:
        oid = signature.signer_info["digest_algorithm"]["algorithm"].dotted
        count = len(signature.signed_data["signer_infos"])
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedInput(Reason.MALFORMED, f"{signature.field_name}: bad CMS: {exc}") from None
    if count != 1:
        raise MalformedInput(Reason.MALFORMED, f"{signature.field_name}: a PDF signature has exactly one signer")
    return hash_algorithm_by_oid(oid)


def _context(trust: TrustStore, crls: Sequence[bytes], at: dt.datetime) -> ValidationContext:
    """pyHanko's validation context: our pinned roots and the given CRLs only, nothing fetched, hard-fail."""
    roots = [asn1_x509.Certificate.load(a.certificate.public_bytes(Encoding.DER)) for a in trust.anchors]
    return ValidationContext(trust_roots=roots, crls=list(crls), allow_fetching=False, revocation_mode="hard-fail",
                             moment=at)


def _judge(status: SignatureStatus, name: str) -> None:
    """pyHanko's verdict as a reason (the second opinion: reached only when ours passed)."""
    if not status.intact:
        raise InvalidSignature(Reason.DIGEST_MISMATCH, f"{name}: pyHanko finds the signed data changed")
    if not status.valid:
        raise InvalidSignature(Reason.BAD_SIGNATURE, f"{name}: pyHanko finds the signature invalid")
    if status.revoked:
        raise RevokedCertificate(Reason.REVOKED, f"{name}: pyHanko finds the certificate revoked")
    if not status.trusted:
        raise UntrustedCertificate(Reason.NO_VALID_PATH, f"{name}: pyHanko finds no trusted path")
