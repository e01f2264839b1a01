"""Linking a card's two keys (keys.cardlink) with the test PKI: both signatures over ONE challenge verify and
link; a second signature over another challenge, a key linked with itself, certificates of different root
generations, and a certificate without a revocation verdict are refused with their reason."""

from __future__ import annotations

import dataclasses

import pytest

from keys.cardlink import CardLink, check_link, link_messages
from keys.cardlogin import CardLogin, RevocationInputs, encode_login_message, verify_card_login
from keys.errors import InvalidSignature, Reason
from keys.revocation import RevocationPolicy
from keys.revocation.policy import Unchecked
from keys.testpki import CardMaterial, TestPki
from keys.trust import TrustStore
from keys.x509.profile import Purpose

from .conftest import NOW, der
from .test_cardlogin import _crl, message, sign


def _both(card: CardMaterial, trust: TrustStore, revocation: RevocationInputs, *, sign_challenge: bytes | None = None
          ) -> tuple[CardLogin, CardLogin]:
    auth_message, sign_message = link_messages(message())
    signed_by_sign = sign_message if sign_challenge is None else dataclasses.replace(sign_message,
                                                                                     challenge=sign_challenge)
    assert card.sign_certificate is not None
    first = verify_card_login(der(card.auth_certificate), sign(card.auth_key, encode_login_message(auth_message)),
                              expected=auth_message, trust=trust, revocation=revocation, at=NOW)
    second = verify_card_login(der(card.sign_certificate),
                               sign(card.sign_key, encode_login_message(signed_by_sign)),
                               expected=sign_message, trust=trust, revocation=revocation, at=NOW)
    return first, second


@pytest.fixture(scope="module")
def card(pki: TestPki) -> CardMaterial:
    return pki.issue_card(now=NOW)


def _crls(*cards: CardMaterial) -> RevocationInputs:
    return RevocationInputs(crls=[_crl(root) for c in cards for root in (c.auth_root, c.sign_root)])


def test_two_keys_over_one_challenge_link(card: CardMaterial, test_store: TrustStore) -> None:
    first, second = _both(card, test_store, _crls(card))
    link = check_link(first, second)
    assert link == CardLink(first.account_id, second.account_id)
    assert link.first != link.second
    messages = link_messages(message())
    assert [m.key for m in messages] == [Purpose.AUTH, Purpose.SIGN]
    assert messages[0].challenge == messages[1].challenge


def test_a_second_signature_over_another_challenge_fails(card: CardMaterial, test_store: TrustStore) -> None:
    with pytest.raises(InvalidSignature) as failed:
        _both(card, test_store, _crls(card), sign_challenge=bytes(32))
    assert failed.value.reason is Reason.BAD_SIGNATURE


def test_a_key_is_not_linked_with_itself(card: CardMaterial, test_store: TrustStore) -> None:
    first, _ = _both(card, test_store, _crls(card))
    with pytest.raises(InvalidSignature) as refused:
        check_link(first, first)
    assert refused.value.reason is Reason.LINK_SAME_KEY


def test_certificates_of_different_generations_are_refused(card: CardMaterial, pki: TestPki,
                                                             test_store: TrustStore) -> None:
    older = pki.issue_card(now=NOW, generation=2)
    revocation = _crls(card, older)
    first, _ = _both(card, test_store, revocation)
    _, second = _both(older, test_store, revocation)
    assert first.anchor_since != second.anchor_since
    with pytest.raises(InvalidSignature) as refused:
        check_link(first, second)
    assert refused.value.reason is Reason.LINK_GENERATION_MISMATCH


def test_a_link_needs_a_revocation_verdict(card: CardMaterial, test_store: TrustStore) -> None:
    lenient = RevocationInputs(policy=RevocationPolicy(required=False))
    first, second = _both(card, test_store, lenient)
    assert isinstance(first.revocation, Unchecked)
    with pytest.raises(InvalidSignature) as refused:
        check_link(first, second)
    assert refused.value.reason is Reason.LINK_NOT_CHECKED
