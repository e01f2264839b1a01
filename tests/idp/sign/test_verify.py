"""The provider's check of the card's document signatures (idp.sign.verify) against the agent's own builder
(cardreader.documents) and the card's RSASSA-PKCS1-v1_5 (the virtual card's): the approved documents pass, any
signature over something else, out of order, or at a time outside the challenge's window is refused; and the
agent refuses a document whose DigestInfo does not carry the digest it would show."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from cardreader.documents import digest_infos, document_signatures, parse_documents
from idp.sign.card import challenge_documents
from idp.sign.requests import Document, SigningRequest
from idp.sign.verify import parse_posted, verify_documents
from keys.cms.digest_info import HashAlgorithm, encode_digest_info
from keys.errors import InvalidSignature
from keys.testpki import TestPki
from tests.support.cms import SoftwareCard

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
LOGIN = b"\x30" * 51  # stands in for the login's DigestInfo (not checked here)


@pytest.fixture(scope="module")
def signer() -> SoftwareCard:
    card = TestPki.generate().issue_card(now=NOW - dt.timedelta(days=1))
    assert card.sign_key is not None
    assert card.sign_certificate is not None
    return SoftwareCard(card.sign_key, card.sign_certificate)


def _document(label: str, profile: str = "cades-bes", alg: HashAlgorithm = HashAlgorithm.SHA256) -> Document:
    digest = alg.hash(label.encode())
    return Document(label, alg.value, digest, encode_digest_info(alg, digest), profile)


def _request(*documents: Document) -> SigningRequest:
    return SigningRequest("r", "client", documents, NOW + dt.timedelta(minutes=5), "approved")


def _card_answer(signer: SoftwareCard, request: SigningRequest, at: dt.datetime) -> list[dict[str, object]]:
    """What the agent posts: it parses the challenge's documents, builds what the card signs, the card signs."""
    shown = parse_documents(challenge_documents(request))
    certificate = signer.certificate.public_bytes(Encoding.DER)
    signed = [signer.sign_digest_info(d) for d in digest_infos(LOGIN, shown, certificate, at)]
    return document_signatures(signed[1:], at)


def _verify(signer: SoftwareCard, request: SigningRequest, posted: object, now: dt.datetime = NOW) -> None:
    certificate = signer.certificate.public_bytes(Encoding.DER)
    verify_documents(request.documents, certificate, parse_posted(posted, len(request.documents)),
                     not_before=now - dt.timedelta(minutes=1), now=now)


def test_the_approved_documents_verify(signer: SoftwareCard) -> None:
    request = _request(_document("契約書"), _document("PDF", "pades", HashAlgorithm.SHA512),
                       _document("申込書", alg=HashAlgorithm.SHA384))
    _verify(signer, request, _card_answer(signer, request, NOW))


def test_a_signature_over_another_document_is_refused(signer: SoftwareCard) -> None:
    approved, other = _request(_document("契約書")), _request(_document("別の契約書"))
    with pytest.raises(InvalidSignature, match="other data than the approved document"):
        _verify(signer, approved, _card_answer(signer, other, NOW))


def test_signatures_out_of_order_are_refused(signer: SoftwareCard) -> None:
    request = _request(_document("一"), _document("二"))
    answer = _card_answer(signer, request, NOW)
    with pytest.raises(InvalidSignature):
        _verify(signer, request, list(reversed(answer)))


def test_a_cms_signature_over_other_attributes_is_refused(signer: SoftwareCard) -> None:
    request = _request(_document("契約書"))
    answer = _card_answer(signer, request, NOW)
    answer[0]["signing_time"] = int(NOW.timestamp()) - 1  # the attributes the provider rebuilds differ
    with pytest.raises(InvalidSignature):
        _verify(signer, request, answer)


def test_a_signing_time_outside_the_window_is_refused(signer: SoftwareCard) -> None:
    request = _request(_document("契約書"))
    late = NOW + dt.timedelta(minutes=10)
    with pytest.raises(InvalidSignature, match="window"):
        _verify(signer, request, _card_answer(signer, request, late))


@pytest.mark.parametrize("posted", [None, [], [{"raw": "AA", "cms": "AA"}], [{"raw": "A A", "cms": "AA",
                                                                             "signing_time": 1}],
                                    [{"raw": "AA", "cms": "AA", "signing_time": "1"}]])
def test_malformed_posts_are_refused(posted: object) -> None:
    with pytest.raises(ValueError, match=r"document_signatures lists|a document signature is|base64url"):
        parse_posted(posted, 1)


def test_the_agent_refuses_a_digest_info_it_would_not_show() -> None:
    shown = _request(_document("契約書"))
    (entry,) = challenge_documents(shown)
    swapped = challenge_documents(_request(_document("別の文書")))[0]["raw_digest_info"]
    with pytest.raises(ValueError, match="does not carry the shown digest"):
        parse_documents([{**entry, "raw_digest_info": swapped}])
    with pytest.raises(ValueError, match="1-100 printable"):
        parse_documents([{**entry, "label": "a\u202eb"}])
    assert parse_documents([entry])[0].label == "契約書"
