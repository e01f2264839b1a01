"""keys.cms.verify: every step of the offline verification of a detached CMS, on CMS made by keys.cms (the card's
way) and by pyHanko (an independent producer), with tampered messages, the wrong certificates and a revoked one;
openssl and pyHanko are asked too where they have a verdict."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from keys.cms.digest_info import HashAlgorithm
from keys.cms.signed_attributes import Profile, build_signed_attributes, der_set_of, to_be_signed_digest_info
from keys.cms.signed_data import assemble_detached
from keys.cms.verify import verify_detached
from keys.errors import Reason, VerificationError
from keys.testpki import CardMaterial, issue_crl
from keys.trust import TrustStore
from keys.x509.profile import Purpose
from tests.keys.conftest import NOW, LeafBuilder, der
from tests.support.cms import SoftwareCard, openssl_verifies, pyhanko_verdict

DOCUMENT = b"%PDF-1.7 application form, page 1\n"
ALG = HashAlgorithm.SHA256


def _verify(cms_der: bytes, store: TrustStore, crl: bytes, *, content: bytes = DOCUMENT,
            at: dt.datetime = NOW) -> None:
    verify_detached(cms_der, content=content, trust=store, crls=[crl], at=at)


def _refused(cms_der: bytes, store: TrustStore, crl: bytes, reason: Reason, **options: object) -> VerificationError:
    with pytest.raises(VerificationError) as caught:
        _verify(cms_der, store, crl, **options)  # type: ignore[arg-type]
    assert caught.value.reason is reason, caught.value
    return caught.value


def _with_signer_info(cms_der: bytes, change: dict[str, object]) -> bytes:
    info = cms.ContentInfo.load(cms_der)
    signer_info = info["content"]["signer_infos"][0]
    for field, value in change.items():
        signer_info[field] = value
    out: bytes = info.dump(force=True)
    return out


def _signed(signer: SoftwareCard, attributes: list[cms.CMSAttribute], alg: HashAlgorithm = ALG) -> bytes:
    attrs = der_set_of([a.dump() for a in attributes])
    signature = signer.sign_digest_info(to_be_signed_digest_info(alg, attrs))
    return assemble_detached(alg, attrs, signature, signer.certificate_der)


def _attributes(signer: SoftwareCard, certificate_der: bytes | None = None) -> list[cms.CMSAttribute]:
    attrs = build_signed_attributes(ALG, ALG.hash(DOCUMENT), certificate_der or signer.certificate_der,
                                    profile=Profile.CADES_BES, signing_time=NOW)
    return list(cms.CMSAttributes.load(attrs))


# --- success paths -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("alg", list(HashAlgorithm))
def test_card_made_cms_verifies(alg: HashAlgorithm, signer: SoftwareCard, test_store: TrustStore,
                                empty_crl: bytes) -> None:
    signed = signer.sign_cades(DOCUMENT, NOW - dt.timedelta(minutes=1), alg)
    result = verify_detached(signed, content=DOCUMENT, trust=test_store, crls=[empty_crl], at=NOW)
    (one,) = result.signers
    assert one.certificate == signer.certificate
    assert one.hash_algorithm is alg
    assert one.digest == alg.hash(DOCUMENT)
    assert one.claimed_signing_time == one.signing_time == NOW - dt.timedelta(minutes=1)
    assert one.revocation.source == "crl"
    by_digest = verify_detached(signed, digest=(alg, alg.hash(DOCUMENT)), trust=test_store, crls=[empty_crl], at=NOW)
    assert by_digest.signers[0].digest == one.digest


def test_pades_attributes_verify_at_the_given_time(signer: SoftwareCard, test_store: TrustStore,
                                                   empty_crl: bytes) -> None:
    signed = signer.cms_for_digest(ALG, ALG.hash(DOCUMENT), profile=Profile.PADES)
    (one,) = verify_detached(signed, content=DOCUMENT, trust=test_store, crls=[empty_crl], at=NOW).signers
    assert one.claimed_signing_time is None
    assert one.signing_time == NOW


def test_subject_key_identifier_form_verifies(signer: SoftwareCard, test_store: TrustStore, empty_crl: bytes,
                                              tmp_path: Path, card: CardMaterial) -> None:
    key_id = signer.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    signed = _with_signer_info(signer.sign_cades(DOCUMENT, NOW), {
        "version": "v3", "sid": cms.SignerIdentifier({"subject_key_identifier": key_id})})
    _verify(signed, test_store, empty_crl)
    assert openssl_verifies(tmp_path, DOCUMENT, signed, card.sign_root.certificate)
    wrong_version = _with_signer_info(signed, {"version": "v1"})
    _refused(wrong_version, test_store, empty_crl, Reason.MALFORMED)
    other_key = _with_signer_info(signed, {"sid": cms.SignerIdentifier({"subject_key_identifier": bytes(20)})})
    _refused(other_key, test_store, empty_crl, Reason.UNKNOWN_SIGNER)


def test_pyhanko_made_cades_verifies(signer: SoftwareCard, test_store: TrustStore, empty_crl: bytes) -> None:
    from pyhanko.sign import signers
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    pyhanko_signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(signer.certificate_der), signing_key=_asn1_key(signer.key),
        cert_registry=SimpleCertificateStore(),
    )
    info = asyncio.run(pyhanko_signer.async_sign_general_data(
        DOCUMENT, "sha256", detached=True, use_cades=True,
        signed_attr_settings=PdfCMSSignedAttributes(signing_time=NOW)))
    (one,) = verify_detached(info.dump(), content=DOCUMENT, trust=test_store, crls=[empty_crl], at=NOW).signers
    assert one.claimed_signing_time == NOW


def _asn1_key(key: rsa.RSAPrivateKey) -> object:
    from asn1crypto import keys as asn1_keys
    from cryptography.hazmat.primitives import serialization

    return asn1_keys.PrivateKeyInfo.load(key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


# --- tampering -----------------------------------------------------------------------------------------------------

def test_changed_content_refused_by_all(signer: SoftwareCard, test_store: TrustStore, empty_crl: bytes,
                                        card: CardMaterial, tmp_path: Path) -> None:
    signed = signer.sign_cades(DOCUMENT, NOW)
    changed = DOCUMENT.replace(b"page 1", b"page 2")
    _refused(signed, test_store, empty_crl, Reason.DIGEST_MISMATCH, content=changed)
    assert not openssl_verifies(tmp_path, changed, signed, card.sign_root.certificate)
    assert not pyhanko_verdict(changed, signed, card.sign_root.certificate, empty_crl, NOW)[0]
    with pytest.raises(VerificationError) as caught:
        verify_detached(signed, digest=(HashAlgorithm.SHA384, bytes(48)), trust=test_store, crls=[empty_crl], at=NOW)
    assert caught.value.reason is Reason.DIGEST_MISMATCH


def test_changed_signature_or_attributes_refused(signer: SoftwareCard, test_store: TrustStore,
                                                 empty_crl: bytes) -> None:
    signed = signer.sign_cades(DOCUMENT, NOW)
    signature = cms.ContentInfo.load(signed)["content"]["signer_infos"][0]["signature"].native
    flipped = signature[:-1] + bytes([signature[-1] ^ 1])
    _refused(_with_signer_info(signed, {"signature": flipped}), test_store, empty_crl, Reason.BAD_SIGNATURE)
    later = build_signed_attributes(ALG, ALG.hash(DOCUMENT), signer.certificate_der, profile=Profile.CADES_BES,
                                    signing_time=NOW - dt.timedelta(days=1))
    resigned = assemble_detached(ALG, later, signature, signer.certificate_der)  # old signature, new attributes
    _refused(resigned, test_store, empty_crl, Reason.BAD_SIGNATURE)


def test_every_signer_info_is_checked(signer: SoftwareCard, test_store: TrustStore, empty_crl: bytes) -> None:
    signed = signer.sign_cades(DOCUMENT, NOW)
    info = cms.ContentInfo.load(signed)
    good = info["content"]["signer_infos"][0]
    forged = cms.SignerInfo.load(good.dump())
    forged["signature"] = bytes(len(good["signature"].native))
    info["content"]["signer_infos"] = [good, forged]
    _refused(info.dump(force=True), test_store, empty_crl, Reason.BAD_SIGNATURE)
    info["content"]["signer_infos"] = []
    _refused(info.dump(force=True), test_store, empty_crl, Reason.MALFORMED)


def test_structure_refused(signer: SoftwareCard, test_store: TrustStore, empty_crl: bytes) -> None:
    signed = signer.sign_cades(DOCUMENT, NOW)
    _refused(signed + b"\x00", test_store, empty_crl, Reason.MALFORMED)
    _refused(signed[:-10], test_store, empty_crl, Reason.MALFORMED)
    attached = cms.ContentInfo.load(signed)
    attached["content"]["encap_content_info"] = {"content_type": "data", "content": DOCUMENT}
    _refused(attached.dump(force=True), test_store, empty_crl, Reason.MALFORMED)
    no_attributes = cms.ContentInfo.load(signed)
    del no_attributes["content"]["signer_infos"][0]["signed_attrs"]
    _refused(no_attributes.dump(force=True), test_store, empty_crl, Reason.MISSING_ATTRIBUTE)
    other_serial = cms.ContentInfo.load(signed)
    other_serial["content"]["signer_infos"][0]["sid"].chosen["serial_number"] = 7
    _refused(other_serial.dump(force=True), test_store, empty_crl, Reason.UNKNOWN_SIGNER)


def test_attribute_rules(signer: SoftwareCard, test_store: TrustStore, empty_crl: bytes, card: CardMaterial) -> None:
    attributes = _attributes(signer)
    by_type = {a["type"].native: a for a in attributes}
    without_certificate = [a for a in attributes if a["type"].native != "signing_certificate_v2"]
    _refused(_signed(signer, without_certificate), test_store, empty_crl, Reason.MISSING_ATTRIBUTE)
    twice = [*attributes, cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": NOW})]})]
    twice = [a for a in twice if a is not by_type["signing_time"]] + [by_type["signing_time"]]
    _refused(_signed(signer, twice), test_store, empty_crl, Reason.MALFORMED)
    two_values = [a for a in attributes if a is not by_type["message_digest"]] + [
        cms.CMSAttribute({"type": "message_digest", "values": [ALG.hash(DOCUMENT), bytes(32)]})]
    _refused(_signed(signer, two_values), test_store, empty_crl, Reason.MALFORMED)
    other_type = [a for a in attributes if a is not by_type["content_type"]] + [
        cms.CMSAttribute({"type": "content_type", "values": ["signed_data"]})]
    _refused(_signed(signer, other_type), test_store, empty_crl, Reason.MALFORMED)
    assert card.auth_certificate is not None
    other_certificate = _attributes(signer, der(card.auth_certificate))
    _refused(_signed(signer, other_certificate), test_store, empty_crl, Reason.CERTIFICATE_MISMATCH)


def test_algorithms_refused(signer: SoftwareCard, test_store: TrustStore, empty_crl: bytes) -> None:
    signed = signer.sign_cades(DOCUMENT, NOW)
    sha1 = _with_signer_info(signed, {"digest_algorithm": {"algorithm": "sha1"}})
    _refused(sha1, test_store, empty_crl, Reason.ALGORITHM_NOT_ALLOWED)
    mismatched = _with_signer_info(signed, {"signature_algorithm": {"algorithm": "sha512_rsa"}})
    _refused(mismatched, test_store, empty_crl, Reason.ALGORITHM_NOT_ALLOWED)
    pss = _with_signer_info(signed, {"signature_algorithm": {"algorithm": "rsassa_pss"}})
    _refused(pss, test_store, empty_crl, Reason.ALGORITHM_NOT_ALLOWED)
    rsa_encryption = _with_signer_info(signed, {"signature_algorithm": {"algorithm": "rsassa_pkcs1v15"}})
    _verify(rsa_encryption, test_store, empty_crl)  # RFC 3370 §3.2 rsaEncryption is fine


# --- certificate, time and revocation ------------------------------------------------------------------------------

def test_certificate_without_non_repudiation_refused(build_leaf: LeafBuilder, holder_key: rsa.RSAPrivateKey,
                                                     test_store: TrustStore, card: CardMaterial) -> None:
    usage = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
    leaf = build_leaf(purpose=Purpose.SIGN, replace={usage: True})
    signed = SoftwareCard(holder_key, leaf).sign_cades(DOCUMENT, NOW)
    crl = issue_crl(card.sign_root, [], this_update=NOW - dt.timedelta(hours=1),
                    next_update=NOW + dt.timedelta(days=1), crl_number=2)
    _refused(signed, test_store, crl, Reason.WRONG_KEY_USAGE)


def test_authentication_certificate_refused(card: CardMaterial, test_store: TrustStore, empty_crl: bytes) -> None:
    signed = SoftwareCard(card.auth_key, card.auth_certificate).sign_cades(DOCUMENT, NOW)
    with pytest.raises(VerificationError):
        _verify(signed, test_store, empty_crl)


def test_root_not_pinned_refused(signer: SoftwareCard, card: CardMaterial, empty_crl: bytes) -> None:
    only_auth = TrustStore.build([("auth", der(card.auth_root.certificate))], allow_test_roots=True)
    with pytest.raises(VerificationError) as caught:
        _verify(signer.sign_cades(DOCUMENT, NOW), only_auth, empty_crl)
    assert caught.value.reason in (Reason.UNTRUSTED_ROOT, Reason.NO_VALID_PATH, Reason.WRONG_POLICY)
    refused = TrustStore.build([("sign", der(card.sign_root.certificate))], allow_test_roots=False)
    with pytest.raises(VerificationError):
        _verify(signer.sign_cades(DOCUMENT, NOW), refused, empty_crl)


def test_signing_times(signer: SoftwareCard, test_store: TrustStore, empty_crl: bytes) -> None:
    future = signer.sign_cades(DOCUMENT, NOW + dt.timedelta(hours=1))
    _refused(future, test_store, empty_crl, Reason.SIGNED_IN_FUTURE)
    before_issue = signer.sign_cades(DOCUMENT, signer.certificate.not_valid_before_utc - dt.timedelta(days=1))
    _refused(before_issue, test_store, empty_crl, Reason.NOT_YET_VALID)


def test_revoked_certificate_refused_by_all(signer: SoftwareCard, card: CardMaterial, test_store: TrustStore,
                                            tmp_path: Path) -> None:
    revoked_crl = issue_crl(
        card.sign_root, [(signer.certificate.serial_number, NOW - dt.timedelta(hours=3),
                          x509.ReasonFlags.key_compromise)],
        this_update=NOW - dt.timedelta(hours=1), next_update=NOW + dt.timedelta(days=1), crl_number=3,
    )
    signed = signer.sign_cades(DOCUMENT, NOW - dt.timedelta(days=1))  # a claimed time before the revocation
    _refused(signed, test_store, revoked_crl, Reason.REVOKED)
    _, trusted, revoked = pyhanko_verdict(DOCUMENT, signed, card.sign_root.certificate, revoked_crl, NOW)
    assert revoked
    assert not trusted
    root = card.sign_root.certificate
    assert not openssl_verifies(tmp_path, DOCUMENT, signed, root, crl=revoked_crl, at=NOW)
    empty = issue_crl(card.sign_root, [], this_update=NOW - dt.timedelta(hours=1),
                      next_update=NOW + dt.timedelta(days=1), crl_number=4)
    assert openssl_verifies(tmp_path, DOCUMENT, signed, root, crl=empty, at=NOW)  # the same check passes without


def test_revocation_data_required_and_fresh(signer: SoftwareCard, card: CardMaterial, test_store: TrustStore) -> None:
    signed = signer.sign_cades(DOCUMENT, NOW)
    with pytest.raises(VerificationError) as caught:
        verify_detached(signed, content=DOCUMENT, trust=test_store, crls=[], at=NOW)
    assert caught.value.reason is Reason.REVOCATION_UNAVAILABLE
    stale = issue_crl(card.sign_root, [], this_update=NOW - dt.timedelta(days=3),
                      next_update=NOW - dt.timedelta(days=1), crl_number=1)
    _refused(signed, test_store, stale, Reason.STALE_REVOCATION_DATA)
    other_root = issue_crl(card.auth_root, [], this_update=NOW - dt.timedelta(hours=1),
                           next_update=NOW + dt.timedelta(days=1), crl_number=1)
    _refused(signed, test_store, other_root, Reason.REVOCATION_UNAVAILABLE)
