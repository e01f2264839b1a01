"""Smartphone tokens (スマホ用電子証明書) over the virtual card used directly as a transport: the token type is read
first, the Android token's authentication certificate is read only after the PIN, and no flow spends a PIN try it
did not need (the same flows through pcscd, the agent and the provider: tests/idp/cardlogin/test_smartphone.py)."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from cardreader import session
from cardreader.errors import LastTryNeedsConfirmation, PinIncorrect, SecurityStatusNotSatisfied
from cardreader.jpki import EF, CertificateKind, Key, TokenType
from cardreader.pin import Pin
from cardreader.virtual.card import CardContent, VirtualCard, token_info
from cardreader.virtual.profile import ANDROID_TOKEN_LABEL, IOS_TOKEN_LABEL, CardProfile

from .conftest import AUTH_PIN, SIGN_PASSWORD, WRONG_PIN
from .test_session import Counting

_SELECT_000A = bytes.fromhex("00A4020C02000A")
_VERIFY = bytes.fromhex("00200080")


def _token(profile: CardProfile, tmp_path: Path, label: str) -> CardProfile:
    copy = profile.copy_to(tmp_path / "token.json")
    token = dataclasses.replace(copy, token_label=label)
    token.save()
    return token


@pytest.fixture
def android(card_profile: CardProfile, tmp_path: Path) -> CardProfile:
    return _token(card_profile, tmp_path, ANDROID_TOKEN_LABEL)


@pytest.fixture
def iphone(card_profile: CardProfile, tmp_path: Path) -> CardProfile:
    return _token(card_profile, tmp_path, IOS_TOKEN_LABEL)


def _verifies_with_data(apdus: list[bytes]) -> list[int]:
    return [i for i, a in enumerate(apdus) if a.startswith(_VERIFY) and len(a) > len(_VERIFY)]


def test_token_types_and_their_rules(android: CardProfile, iphone: CardProfile) -> None:
    assert session.read_info(android.card()).token.type is TokenType.ANDROID
    assert session.read_info(iphone.card()).token.type is TokenType.IOS
    assert TokenType.ANDROID.certificate_pin(CertificateKind.AUTH) is Key.AUTH
    assert TokenType.CARD.certificate_pin(CertificateKind.AUTH) is None
    assert TokenType.IOS.certificate_pin(CertificateKind.AUTH) is None
    assert not TokenType.IOS.rules_confirmed
    assert all(t.certificate_pin(CertificateKind.SIGN) is Key.SIGN for t in TokenType)
    assert TokenType.ANDROID.smartphone
    assert TokenType.IOS.smartphone
    assert not TokenType.CARD.smartphone


def test_android_guards_the_authentication_certificate(android: CardProfile) -> None:
    card = android.card()
    with pytest.raises(SecurityStatusNotSatisfied):
        session.JpkiSession(card).read_certificate(CertificateKind.AUTH)
    with pytest.raises(ValueError, match="needs the auth PIN"):
        session.read_certificate(card, CertificateKind.AUTH)
    assert card.counters[EF.AUTH_PIN] == 3
    assert session.read_certificate(card, CertificateKind.AUTH_CA) == android.certificate("auth_ca")
    der = session.read_certificate(card, CertificateKind.AUTH, pin=Pin(Key.AUTH, AUTH_PIN))
    assert der == android.certificate("auth_certificate")


@pytest.mark.parametrize("token", ["android", "iphone"])
def test_login_signature_on_a_smartphone_token(token: str, request: pytest.FixtureRequest) -> None:
    profile: CardProfile = request.getfixturevalue(token)
    card = profile.card()
    counting = Counting(card)
    evidence = session.sign(counting, Key.AUTH, b"login", Pin(Key.AUTH, AUTH_PIN))
    assert evidence.certificate == profile.certificate("auth_certificate")
    assert evidence.token is (TokenType.ANDROID if token == "android" else TokenType.IOS)
    assert evidence.digest == hashlib.sha256(b"login").digest()
    verify, select = _verifies_with_data(counting.apdus), counting.apdus.index(_SELECT_000A)
    assert len(verify) == 1
    assert (verify[0] < select) is (token == "android")  # Android: PIN first; iPhone: the card's order
    assert card.counters[EF.AUTH_PIN] == 3


def test_signing_key_on_the_android_token(android: CardProfile) -> None:
    evidence = session.sign(android.card(), Key.SIGN, b"document", Pin(Key.SIGN, SIGN_PASSWORD))
    assert evidence.certificate == android.certificate("sign_certificate")


def test_android_pin_rules_hold(android: CardProfile) -> None:
    card = android.card()
    with pytest.raises(PinIncorrect):
        session.sign(card, Key.AUTH, b"login", Pin(Key.AUTH, WRONG_PIN))
    with pytest.raises(PinIncorrect):
        session.sign(card, Key.AUTH, b"login", Pin(Key.AUTH, WRONG_PIN))
    assert card.counters[EF.AUTH_PIN] == 1
    counting = Counting(card)
    with pytest.raises(LastTryNeedsConfirmation):
        session.sign(counting, Key.AUTH, b"login", Pin(Key.AUTH, AUTH_PIN))
    assert _verifies_with_data(counting.apdus) == []
    assert card.counters[EF.AUTH_PIN] == 1
    session.sign(card, Key.AUTH, b"login", Pin(Key.AUTH, AUTH_PIN), confirm_last_try=True)
    assert card.counters[EF.AUTH_PIN] == 3


def test_a_token_with_assumed_rules_that_guards_its_certificate(card_content: CardContent) -> None:
    """An iPhone (or unknown) token that turns out to guard 000A: the free read is answered 6982, then the PIN the
    signature needs anyway is verified once and the certificate read; the card's confirmed rules are not bent."""
    guarded = dict(card_content.protected) | {EF.AUTH_CERTIFICATE: EF.AUTH_PIN}
    ios = VirtualCard(dataclasses.replace(card_content, protected=guarded,
                                          files={**card_content.files, EF.TOKEN_INFO: token_info(IOS_TOKEN_LABEL)}))
    counting = Counting(ios)
    evidence = session.sign(counting, Key.AUTH, b"login", Pin(Key.AUTH, AUTH_PIN))
    assert evidence.token is TokenType.IOS
    assert len(_verifies_with_data(counting.apdus)) == 1
    assert ios.counters[EF.AUTH_PIN] == 3
    card = VirtualCard(dataclasses.replace(card_content, protected=guarded))
    counting = Counting(card)
    with pytest.raises(SecurityStatusNotSatisfied):
        session.sign(counting, Key.AUTH, b"login", Pin(Key.AUTH, AUTH_PIN))
    assert _verifies_with_data(counting.apdus) == []
