"""docsign.record: a verification record (the provider's JWS) checked offline against the CMS or the raw signature
the business kept, with the provider's JWKS, the pinned roots and the CRL of the record's time."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from typing import Any

import pytest
from cryptography import x509

from docsign.record import RECORD_TYP, VerificationRecord, verify_record
from keys.cms.digest_info import HashAlgorithm, encode_digest_info
from keys.errors import Reason, VerificationError
from keys.service.jwks import public_jwk
from keys.service.jws import encode_jwt
from keys.service.signer import SoftwareSigner, generate_private_key
from keys.testpki import CardMaterial, TestPki
from keys.trust import TrustStore
from tests.keys.conftest import NOW, der
from tests.support.cms import SoftwareCard

ISSUER = "https://id.example.jp"
CONTRACT = b"loan agreement v3"
APPLICATION = b"account application 2026-11-22"


@pytest.fixture(scope="module")
def provider() -> tuple[SoftwareSigner, dict[str, Any]]:
    key = generate_private_key("ES256")
    jwk = public_jwk(key.public_key(), "ES256")
    return SoftwareSigner(key, "ES256", jwk["kid"]), {"keys": [jwk]}


def _payload(certificate: x509.Certificate, *, x5c: bool = False) -> dict[str, Any]:
    """The record in the shape idp.sign.record writes (built here by hand, independently of docsign.record)."""
    alg = HashAlgorithm.SHA256
    payload: dict[str, Any] = {
        "iss": ISSUER, "jti": "7c1f2b8e-0000-4000-8000-000000000001", "iat": int(NOW.timestamp()),
        "client_id": "bank", "signing_request": "req-1",
        "documents": [
            {"label": label, "hashAlgorithmOID": alg.oid, "hash": base64.b64encode(alg.hash(body)).decode(),
             "signatureFormat": "cades-bes", "signing_time": int(NOW.timestamp()) - 60}
            for label, body in (("契約書", CONTRACT), ("申込書", APPLICATION))
        ],
        "certificate": {"issuer": certificate.issuer.rfc4514_string(), "serial": format(certificate.serial_number, "x"),
                        "sha256": hashlib.sha256(der(certificate)).hexdigest(),
                        "not_after": int(certificate.not_valid_after_utc.timestamp())},
        "revocation": {"source": "crl", "crl_issuer": "sign root", "crl_number": 1},
    }
    if x5c:
        payload["x5c"] = [base64.b64encode(der(certificate)).decode()]
    return payload


def _record(provider: tuple[SoftwareSigner, dict[str, Any]], payload: dict[str, Any]) -> str:
    return encode_jwt(payload, provider[0], typ=RECORD_TYP)


def test_record_with_cms_verifies(provider: tuple[SoftwareSigner, dict[str, Any]], signer: SoftwareCard,
                                  test_store: TrustStore, empty_crl: bytes) -> None:
    record = _record(provider, _payload(signer.certificate))
    cms_der = signer.sign_cades(APPLICATION, NOW - dt.timedelta(minutes=1))
    verified = verify_record(record, provider[1], cms=cms_der, trust=test_store, crls=[empty_crl], issuer=ISSUER,
                             content=APPLICATION)
    assert verified.document.label == "申込書"
    assert verified.record.verified_at == NOW
    assert VerificationRecord.from_json(verified.record.to_json()) == verified.record


def test_record_with_raw_signature_verifies(provider: tuple[SoftwareSigner, dict[str, Any]], signer: SoftwareCard,
                                            test_store: TrustStore, empty_crl: bytes) -> None:
    raw = signer.sign_digest_info(encode_digest_info(HashAlgorithm.SHA256, HashAlgorithm.SHA256.hash(CONTRACT)))
    with_x5c = _record(provider, _payload(signer.certificate, x5c=True))
    verified = verify_record(with_x5c, provider[1], raw_signature=raw, trust=test_store, crls=[empty_crl])
    assert verified.document.label == "契約書"
    by_reference = _record(provider, _payload(signer.certificate))
    with pytest.raises(VerificationError) as caught:
        verify_record(by_reference, provider[1], raw_signature=raw, trust=test_store, crls=[empty_crl])
    assert caught.value.reason is Reason.RECORD_MISMATCH
    verify_record(by_reference, provider[1], raw_signature=raw, certificate=signer.certificate_der,
                  trust=test_store, crls=[empty_crl])


def _refused(reason: Reason, record: str, jwks: dict[str, Any], store: TrustStore, crl: bytes,
             **options: Any) -> None:
    with pytest.raises(VerificationError) as caught:
        verify_record(record, jwks, trust=store, crls=[crl], **options)
    assert caught.value.reason is reason, caught.value


def test_mismatches_refused(provider: tuple[SoftwareSigner, dict[str, Any]], signer: SoftwareCard,
                            card: CardMaterial, test_store: TrustStore, empty_crl: bytes) -> None:
    record = _record(provider, _payload(signer.certificate))
    other_document = signer.sign_cades(b"a document nobody recorded", NOW)
    _refused(Reason.RECORD_MISMATCH, record, provider[1], test_store, empty_crl, cms=other_document)
    cms_der = signer.sign_cades(CONTRACT, NOW)
    _refused(Reason.DIGEST_MISMATCH, record, provider[1], test_store, empty_crl, cms=cms_der, content=APPLICATION)
    _refused(Reason.WRONG_ISSUER, record, provider[1], test_store, empty_crl, cms=cms_der, issuer="https://other")
    other_key = generate_private_key("ES256")
    stranger = {"keys": [public_jwk(other_key.public_key(), "ES256")]}
    _refused(Reason.UNKNOWN_KEY, record, stranger, test_store, empty_crl, cms=cms_der)
    forged = record.rsplit(".", 1)[0] + "." + record.rsplit(".", 1)[1][::-1]
    with pytest.raises(VerificationError):
        verify_record(forged, provider[1], cms=cms_der, trust=test_store, crls=[empty_crl])
    # a record about another certificate of the same holder's hierarchy
    other_card = TestPki.generate().issue_card(now=NOW)
    assert other_card.sign_certificate is not None
    about_other = _record(provider, _payload(other_card.sign_certificate))
    _refused(Reason.RECORD_MISMATCH, about_other, provider[1], test_store, empty_crl, cms=cms_der)


def test_revoked_at_the_record_time_refused(provider: tuple[SoftwareSigner, dict[str, Any]], signer: SoftwareCard,
                                            card: CardMaterial, test_store: TrustStore) -> None:
    from keys.testpki import issue_crl

    revoked = issue_crl(card.sign_root, [(signer.certificate.serial_number, NOW - dt.timedelta(hours=2), None)],
                        this_update=NOW - dt.timedelta(hours=1), next_update=NOW + dt.timedelta(days=1),
                        crl_number=9)
    record = _record(provider, _payload(signer.certificate))
    _refused(Reason.REVOKED, record, provider[1], test_store, revoked, cms=signer.sign_cades(CONTRACT, NOW))


def test_out_of_shape_record_refused(provider: tuple[SoftwareSigner, dict[str, Any]], signer: SoftwareCard,
                                     test_store: TrustStore, empty_crl: bytes) -> None:
    payload = _payload(signer.certificate)
    payload["documents"][0]["hash"] = base64.b64encode(bytes(31)).decode()
    _refused(Reason.MALFORMED, _record(provider, payload), provider[1], test_store, empty_crl,
             cms=signer.sign_cades(CONTRACT, NOW))
    untyped = encode_jwt(_payload(signer.certificate), provider[0])
    _refused(Reason.TYP_MISMATCH, untyped, provider[1], test_store, empty_crl, cms=signer.sign_cades(CONTRACT, NOW))


def test_record_made_by_the_provider_verifies(provider: tuple[SoftwareSigner, dict[str, Any]],
                                              signer: SoftwareCard, test_store: TrustStore, empty_crl: bytes) -> None:
    """The record exactly as the provider writes it (idp.sign.record), verified offline by docsign."""
    from idp.sign import record as provider_record
    from idp.sign.requests import Document, DocumentSignature

    alg = HashAlgorithm.SHA256
    signed_at = NOW - dt.timedelta(minutes=2)
    documents, signatures, kept = [], [], []
    for label, body in (("契約書", CONTRACT), ("申込書", APPLICATION)):
        digest_info = encode_digest_info(alg, alg.hash(body))
        documents.append(Document(label, alg.value, alg.hash(body), digest_info))
        raw = signer.sign_digest_info(digest_info)
        signatures.append(DocumentSignature(raw, b"", signed_at))
        kept.append((raw, signer.sign_cades(body, signed_at)))
    claims = provider_record.record_claims(
        issuer=ISSUER, client_id="bank", request_id="req-9", documents=documents, signatures=signatures,
        certificate=signer.certificate_der, at=NOW, keep_certificate=True,
        revocation=provider_record.revocation_reference(
            {"revocation_source": "crl", "crl_issuer": "sign root", "crl_number": 1}),
    )
    assert provider_record.RECORD_TYP == RECORD_TYP
    record = encode_jwt(claims, provider[0], typ=provider_record.RECORD_TYP)
    for (raw, cms_der), label, body in zip(kept, ("契約書", "申込書"), (CONTRACT, APPLICATION), strict=True):
        by_cms = verify_record(record, provider[1], cms=cms_der, trust=test_store, crls=[empty_crl], issuer=ISSUER,
                               content=body)
        assert by_cms.document.label == label
        by_raw = verify_record(record, provider[1], raw_signature=raw, trust=test_store, crls=[empty_crl])
        assert by_raw.document.label == label
    assert by_cms.record.revocation["crl_number"] == 1
