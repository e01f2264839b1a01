"""The verification record's claims (idp.sign.record): the certificate by reference only, unless the deployment
may keep raw certificates (``signing.keep_certificates``); no personal data of the holder."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from idp.sign.record import record_claims
from idp.sign.requests import Document, DocumentSignature
from keys.cms.digest_info import HashAlgorithm, encode_digest_info
from keys.testpki import HolderFacts, TestPki

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
HOLDER = HolderFacts(name="記録\u3000太郎", sex="1", birth_date="419990101", address="東京都千代田区記録確認用１")


@pytest.mark.parametrize("keep", [False, True])
def test_record_names_the_certificate_and_keeps_it_only_when_allowed(keep: bool) -> None:
    card = TestPki.generate().issue_card(now=NOW - dt.timedelta(days=1), facts=HOLDER)
    assert card.sign_certificate is not None
    certificate = card.sign_certificate.public_bytes(Encoding.DER)
    digest = hashlib.sha256(b"contract").digest()
    document = Document("契約書", "sha256", digest, encode_digest_info(HashAlgorithm.SHA256, digest))
    claims = record_claims(issuer="https://op.example", client_id="bank", request_id="r-1", documents=[document],
                           signatures=[DocumentSignature(b"r", b"s", NOW)], certificate=certificate,
                           revocation={"source": "crl", "crl_issuer": "CN=x", "crl_number": 3}, at=NOW,
                           keep_certificate=keep)
    assert claims["documents"] == [{"label": "契約書", "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1",
                                    "hash": base64.b64encode(digest).decode(), "signatureFormat": "cades-bes",
                                    "signing_time": int(NOW.timestamp())}]
    reference = claims["certificate"]
    assert reference["sha256"] == hashlib.sha256(certificate).hexdigest()
    assert reference["serial"] == format(card.sign_certificate.serial_number, "x")
    assert ("x5c" in claims) is keep
    text = json.dumps(claims, ensure_ascii=False)
    for fact in ("記録", "千代田区", "1999"):
        assert fact not in text  # the facts are at most inside the base64 certificate (x5c)
