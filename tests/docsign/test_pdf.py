"""docsign PDF signing and verification: PAdES signed through pyHanko's interrupted signing with the card's
software stand-in, verified by ours and by pyHanko's validator; tampered PDFs refused by both where pyHanko has
a verdict (changed bytes, an appended update, a second forged signature, a ByteRange that does not cover)."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.generic import NameObject, TextStringObject
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from docsign.pdf import Prepared, finish, prepare, sign_pdf
from docsign.verify import VerifiedPdf, verify_pdf
from keys import der
from keys.cms.digest_info import HashAlgorithm
from keys.cms.signed_attributes import Profile
from keys.errors import Reason, VerificationError
from keys.testpki import CardMaterial, TestPki
from keys.trust import TrustStore
from tests.keys.conftest import NOW
from tests.support.cms import SoftwareCard, openssl_verifies
from tests.support.pdf import minimal_pdf
from tests.support.tsa import LoopbackTsa, start_tsa

PDF = minimal_pdf("Contract 2026-11")


def _sign(pdf: bytes, card: SoftwareCard, field: str = "Signature1", **options: object) -> bytes:
    async def sign_digest(alg: HashAlgorithm, digest: bytes) -> bytes:
        return card.cms_for_digest(alg, digest, profile=Profile.PADES)

    return asyncio.run(sign_pdf(pdf, sign_digest, field_name=field, **options))  # type: ignore[arg-type]


def _ours(pdf: bytes, store: TrustStore, crl: bytes, **options: object) -> VerifiedPdf:
    return asyncio.run(verify_pdf(pdf, trust=store, crls=[crl], at=NOW, **options))  # type: ignore[arg-type]


def _refused(pdf: bytes, store: TrustStore, crl: bytes, *reasons: Reason) -> VerificationError:
    with pytest.raises(VerificationError) as caught:
        _ours(pdf, store, crl)
    assert caught.value.reason in reasons, caught.value
    return caught.value


def _pyhanko(pdf: bytes, card: CardMaterial, crl: bytes) -> list[PdfSignatureStatus]:
    """pyHanko's own validation of every signature (independent of docsign.verify)."""
    root = asn1_x509.Certificate.load(card.sign_root.certificate.public_bytes(Encoding.DER))
    statuses = []
    for embedded in PdfFileReader(io.BytesIO(pdf)).embedded_signatures:
        context = ValidationContext(trust_roots=[root], crls=[crl], allow_fetching=False,
                                    revocation_mode="hard-fail", moment=NOW)
        statuses.append(validate_pdf_signature(embedded, signer_validation_context=context))
    return statuses


@pytest.fixture(scope="module")
def signed(signer: SoftwareCard) -> bytes:
    return _sign(PDF, signer)


def test_signed_pdf_verifies_with_ours_pyhanko_and_openssl(
    signed: bytes, signer: SoftwareCard, card: CardMaterial, test_store: TrustStore, empty_crl: bytes, tmp_path: Path
) -> None:
    (one,) = _ours(signed, test_store, empty_crl).signatures
    assert one.field_name == "Signature1"
    assert one.covers_whole_file
    assert one.signer.certificate == signer.certificate
    assert one.signer.claimed_signing_time is None  # PAdES: no signing-time attribute
    assert b"/SubFilter /ETSI.CAdES.detached" in signed
    assert signed.startswith(PDF)  # an incremental update: the original bytes are untouched
    (status,) = _pyhanko(signed, card, empty_crl)
    assert status.bottom_line
    assert status.coverage is SignatureCoverageLevel.ENTIRE_FILE
    # openssl, a third verifier, on the CMS in /Contents over the ByteRange's bytes
    _, b, c, d = one.byte_range
    embedded = PdfFileReader(io.BytesIO(signed)).embedded_signatures[0]
    cms_der = cms.ContentInfo.load(bytes(embedded.pkcs7_content)).dump()  # not strict: the zero padding stays behind
    root = card.sign_root.certificate
    assert openssl_verifies(tmp_path, signed[:b] + signed[c : c + d], cms_der, root, crl=empty_crl, at=NOW)
    assert not openssl_verifies(tmp_path, signed[:b] + signed[c : c + d - 1], cms_der, root, crl=empty_crl, at=NOW)


def test_two_step_signing_through_saved_state(signer: SoftwareCard, test_store: TrustStore,
                                              empty_crl: bytes) -> None:
    prepared = asyncio.run(prepare(PDF, field_name="Approval", hash_algorithm=HashAlgorithm.SHA384))
    restored = Prepared.from_state(prepared.pdf, prepared.state_json())
    assert restored == prepared
    cms_der = signer.cms_for_digest(restored.hash_algorithm, restored.digest, profile=Profile.PADES)
    out = asyncio.run(finish(restored, cms_der))
    (one,) = _ours(out, test_store, empty_crl).signatures
    assert one.signer.hash_algorithm is HashAlgorithm.SHA384
    other = signer.cms_for_digest(HashAlgorithm.SHA384, bytes(48), profile=Profile.PADES)
    with pytest.raises(VerificationError) as caught:  # a CMS for another document is never embedded
        asyncio.run(finish(restored, other))
    assert caught.value.reason is Reason.DIGEST_MISMATCH


def test_changed_byte_in_range_refused_by_both(signed: bytes, card: CardMaterial, test_store: TrustStore,
                                               empty_crl: bytes) -> None:
    changed = signed.replace(b"(Contract 2026-11)", b"(Contract 2027-11)")
    assert changed != signed
    _refused(changed, test_store, empty_crl, Reason.DIGEST_MISMATCH)
    (status,) = _pyhanko(changed, card, empty_crl)
    assert not status.intact


def test_unsigned_update_after_the_signature_refused(signed: bytes, card: CardMaterial, test_store: TrustStore,
                                                     empty_crl: bytes) -> None:
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    writer.root[NameObject("/Lang")] = TextStringObject("ja")
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    updated = out.getvalue()
    error = _refused(updated, test_store, empty_crl, Reason.UNSIGNED_UPDATE)
    assert "not signed" in error.detail
    (status,) = _pyhanko(updated, card, empty_crl)
    assert status.coverage is not SignatureCoverageLevel.ENTIRE_FILE
    _refused(signed + b"\n% appended\n", test_store, empty_crl, Reason.UNSIGNED_UPDATE)


def test_second_forged_signature_refused_by_both(signed: bytes, card: CardMaterial, test_store: TrustStore,
                                                 empty_crl: bytes) -> None:
    forger = TestPki.generate().issue_card(now=NOW)  # same profile and names, a root nobody pinned
    assert forger.sign_key is not None
    assert forger.sign_certificate is not None
    forged = _sign(signed, SoftwareCard(forger.sign_key, forger.sign_certificate), field="Signature2")
    error = _refused(forged, test_store, empty_crl, Reason.UNTRUSTED_ROOT, Reason.NO_VALID_PATH)
    assert error.detail.startswith("Signature2")
    first, second = _pyhanko(forged, card, empty_crl)
    assert first.bottom_line
    assert not second.bottom_line


def test_two_card_signatures_verify(signed: bytes, signer: SoftwareCard, test_store: TrustStore,
                                    empty_crl: bytes) -> None:
    both = _sign(signed, signer, field="Signature2")
    first, second = _ours(both, test_store, empty_crl).signatures
    assert not first.covers_whole_file
    assert second.covers_whole_file


def _rewrite_byte_range(pdf: bytes, change: object) -> bytes:
    match = re.search(rb"/ByteRange \[(\d+) (\d+) (\d+) (\d+)\s*\]", pdf)
    assert match is not None
    values = [int(v) for v in match.groups()]
    new = b"/ByteRange [%d %d %d %d]" % tuple(change(values))  # type: ignore[operator]
    return pdf[: match.start()] + new.ljust(match.end() - match.start()) + pdf[match.end():]


def test_byte_range_not_covering_refused_by_both(signed: bytes, card: CardMaterial, test_store: TrustStore,
                                                 empty_crl: bytes) -> None:
    short = _rewrite_byte_range(signed, lambda v: [v[0], v[1], v[2], v[3] - 10])
    _refused(short, test_store, empty_crl, Reason.BYTE_RANGE, Reason.UNSIGNED_UPDATE)
    (status,) = _pyhanko(short, card, empty_crl)
    assert not status.bottom_line
    offset = _rewrite_byte_range(signed, lambda v: [5, v[1] - 5, v[2], v[3]])
    _refused(offset, test_store, empty_crl, Reason.BYTE_RANGE)
    (status,) = _pyhanko(offset, card, empty_crl)
    assert not status.bottom_line
    wider_gap = _rewrite_byte_range(signed, lambda v: [v[0], v[1] - 20, v[2], v[3]])
    _refused(wider_gap, test_store, empty_crl, Reason.BYTE_RANGE)


def test_unsigned_pdf_refused(test_store: TrustStore, empty_crl: bytes) -> None:
    _refused(PDF, test_store, empty_crl, Reason.NO_SIGNATURE)
    _refused(b"not a pdf", test_store, empty_crl, Reason.MALFORMED)


@pytest.fixture
def tsa() -> Iterator[LoopbackTsa]:
    server = start_tsa(NOW)
    yield server
    server.server.shutdown()


def test_pades_b_t_with_a_loopback_tsa(signer: SoftwareCard, test_store: TrustStore, empty_crl: bytes,
                                       tsa: LoopbackTsa) -> None:
    stamped = _sign(PDF, signer, timestamp_url=tsa.url)
    (one,) = _ours(stamped, test_store, empty_crl, tsa_roots=[tsa.root_der]).signatures
    assert one.timestamp == NOW
    assert one.signer.signing_time == NOW
    (without_tsa_root,) = _ours(stamped, test_store, empty_crl).signatures
    assert without_tsa_root.timestamp is None


def test_pdf_signed_by_pyhanko_itself_verifies(signer: SoftwareCard, test_store: TrustStore,
                                               empty_crl: bytes) -> None:
    """A PAdES signature made by pyHanko's own signer (cms-algorithm-protection and its attribute choices) with the
    card's key: our verifier is not tied to our producer."""
    from asn1crypto import keys as asn1_keys
    from cryptography.hazmat.primitives import serialization
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key = asn1_keys.PrivateKeyInfo.load(signer.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    pyhanko_signer = signers.SimpleSigner(signing_cert=asn1_x509.Certificate.load(signer.certificate_der),
                                          signing_key=key, cert_registry=SimpleCertificateStore())
    meta = signers.PdfSignatureMetadata(field_name="Seal", md_algorithm="sha256",
                                        subfilter=fields.SigSeedSubFilter.PADES)
    out = signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(PDF)), meta, signer=pyhanko_signer)
    (one,) = _ours(out.getvalue(), test_store, empty_crl).signatures
    assert one.field_name == "Seal"


def test_document_timestamp_needs_a_pinned_tsa(signed: bytes, test_store: TrustStore, empty_crl: bytes,
                                               tsa: LoopbackTsa) -> None:
    from pyhanko.sign import signers, timestamps

    stamper = signers.PdfTimeStamper(timestamps.HTTPTimeStamper(tsa.url))
    out = stamper.timestamp_pdf(IncrementalPdfFileWriter(io.BytesIO(signed)), "sha256")
    stamped = out.getvalue()
    card_signature, document_timestamp = _ours(stamped, test_store, empty_crl, tsa_roots=[tsa.root_der]).signatures
    assert not card_signature.covers_whole_file
    assert document_timestamp.signer is None
    assert document_timestamp.covers_whole_file
    assert document_timestamp.timestamp == NOW
    _refused(stamped, test_store, empty_crl, Reason.UNTRUSTED_ROOT)


def test_hostile_contents_and_state_refused(signed: bytes, signer: SoftwareCard, test_store: TrustStore,
                                            empty_crl: bytes) -> None:
    # the /Contents gap is not signed: bytes after the CMS inside it are refused, not skipped
    start = signed.index(b"/Contents <") + len(b"/Contents <")
    end = signed.index(b">", start)
    hex_value = signed[start:end]
    contents = bytes.fromhex(hex_value.decode())
    used = 2 * der.read_tlv(contents, 0, len(contents))[2]  # hex digits of the CMS itself
    smuggled = signed[:start] + hex_value[:used] + b"ff" + hex_value[used + 2 :] + signed[end:]
    assert len(smuggled) == len(signed)
    _refused(smuggled, test_store, empty_crl, Reason.MALFORMED)
    with pytest.raises(VerificationError) as caught:
        Prepared.from_state(PDF, "{}")
    assert caught.value.reason is Reason.MALFORMED
    small = asyncio.run(prepare(PDF, reserve=1024))
    with pytest.raises(VerificationError) as caught:
        asyncio.run(finish(small, signer.cms_for_digest(small.hash_algorithm, small.digest, profile=Profile.PADES)))
    assert caught.value.reason is Reason.TOO_LARGE
