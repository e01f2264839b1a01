"""The JPKI flows over the virtual card used directly as a transport (fast; the same flows run through
pcscd in test_pcsc.py)."""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from cardreader import session
from cardreader.apdu import Transport
from cardreader.errors import (
    CertificateAbsent,
    LastTryNeedsConfirmation,
    MalformedResponse,
    NotJpkiCard,
    PinBlocked,
    PinIncorrect,
    SecurityStatusNotSatisfied,
)
from cardreader.jpki import CertificateKind, Key, PinStatus, TokenType
from cardreader.pin import Pin
from cardreader.virtual.card import CardContent, Fault, VirtualCard
from cardreader.virtual.profile import CardProfile
from keys.limits import Limits
from keys.signatures import verify_card_signature

from .conftest import AUTH_PIN, SIGN_PASSWORD, WRONG_PASSWORD, WRONG_PIN


class Counting:
    """Counts the APDUs a flow sends to a card."""

    def __init__(self, card: Transport) -> None:
        self.card = card
        self.apdus: list[bytes] = []

    def transmit(self, apdu: bytes | bytearray) -> bytes:
        self.apdus.append(bytes(apdu))
        return self.card.transmit(apdu)


def _public_key(der: bytes) -> rsa.RSAPublicKey:
    key = x509.load_der_x509_certificate(der).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def test_read_info(card: VirtualCard) -> None:
    info = session.read_info(card)
    assert info.token.type is TokenType.CARD
    assert (info.certificates.auth, info.certificates.sign) == (True, True)
    assert (info.auth_pin, info.sign_pin) == (PinStatus(3), PinStatus(5))
    assert info.as_dict()["auth_pin"] == {"tries_left": 3, "verified": False, "blocked": False}


def test_read_info_of_a_minor(minor_profile: CardProfile) -> None:
    info = session.read_info(minor_profile.card())
    assert (info.certificates.auth, info.certificates.sign) == (True, False)
    assert info.sign_pin is None


@pytest.mark.parametrize(("kind", "role"), [
    (CertificateKind.AUTH, "auth_certificate"),
    (CertificateKind.AUTH_CA, "auth_ca"),
    (CertificateKind.SIGN_CA, "sign_ca"),
])
def test_read_free_certificates(card: VirtualCard, card_profile: CardProfile, kind: CertificateKind,
                                role: str) -> None:
    assert session.read_certificate(card, kind) == card_profile.certificate(role)


def test_read_signing_certificate(card: VirtualCard, card_profile: CardProfile) -> None:
    der = session.read_certificate(card, CertificateKind.SIGN, pin=Pin(Key.SIGN, SIGN_PASSWORD.lower()))
    assert der == card_profile.certificate("sign_certificate")
    with pytest.raises(ValueError, match="needs the sign PIN"):
        session.read_certificate(card, CertificateKind.SIGN)


def test_signing_certificate_without_password_is_6982(card: VirtualCard) -> None:
    with pytest.raises(SecurityStatusNotSatisfied) as caught:
        session.JpkiSession(card).read_certificate(CertificateKind.SIGN)
    assert caught.value.sw == 0x6982


def test_login_read_and_signature(card: VirtualCard, card_profile: CardProfile) -> None:
    counting = Counting(card)
    pin = Pin(Key.AUTH, AUTH_PIN)
    evidence = session.sign(counting, Key.AUTH, b"nonce||context", pin)
    assert pin.wiped
    assert evidence.certificate == card_profile.certificate("auth_certificate")
    assert evidence.digest == hashlib.sha256(b"nonce||context").digest()
    verify_card_signature(_public_key(evidence.certificate), evidence.signature, b"nonce||context")
    # SELECT AP, SELECT 0006, READ BINARY (token label), SELECT 000A, 7 READ BINARY (1584 bytes), SELECT 0018,
    # VERIFY (tries), VERIFY, SELECT 0017, SIGN
    reads = -(-len(evidence.certificate) // 256)
    assert len(counting.apdus) == 9 + reads <= 17
    assert set(evidence.as_dict()) == {"key", "certificate", "digest", "signature", "token_type"}
    assert evidence.token is TokenType.CARD


def test_signing_key_flow(card: VirtualCard, card_profile: CardProfile) -> None:
    digest = hashlib.sha256(b"document").digest()
    evidence = session.sign(card, Key.SIGN, digest, Pin(Key.SIGN, SIGN_PASSWORD), prehashed=True)
    assert evidence.certificate == card_profile.certificate("sign_certificate")
    verify_card_signature(_public_key(evidence.certificate), evidence.signature, b"document")


def test_signing_key_of_a_minor(minor_profile: CardProfile) -> None:
    card = minor_profile.card()
    pin = Pin(Key.SIGN, SIGN_PASSWORD)
    with pytest.raises(CertificateAbsent):
        session.sign(card, Key.SIGN, b"document", pin)
    assert pin.wiped
    with pytest.raises(CertificateAbsent):
        session.read_certificate(card, CertificateKind.SIGN, pin=Pin(Key.SIGN, SIGN_PASSWORD))


def test_wrong_pin_then_last_try_refusal_then_lockout(card: VirtualCard) -> None:
    with pytest.raises(PinIncorrect) as first:
        session.sign(card, Key.AUTH, b"x", Pin(Key.AUTH, WRONG_PIN))
    assert first.value.tries_left == 2
    with pytest.raises(PinIncorrect) as second:
        session.sign(card, Key.AUTH, b"x", Pin(Key.AUTH, WRONG_PIN))
    assert second.value.tries_left == 1
    counting = Counting(card)
    pin = Pin(Key.AUTH, AUTH_PIN)
    with pytest.raises(LastTryNeedsConfirmation):
        session.sign(counting, Key.AUTH, b"x", pin)
    assert pin.wiped
    assert not [a for a in counting.apdus if a[:4] == b"\x00\x20\x00\x80" and len(a) > 4]  # no PIN sent
    assert card.counters[0x0018] == 1
    with pytest.raises(PinBlocked) as blocked:
        session.sign(card, Key.AUTH, b"x", Pin(Key.AUTH, WRONG_PIN), confirm_last_try=True)
    assert blocked.value.sw == 0x63C0
    counting = Counting(card)
    with pytest.raises(PinBlocked):
        session.sign(counting, Key.AUTH, b"x", Pin(Key.AUTH, AUTH_PIN), confirm_last_try=True)
    assert not [a for a in counting.apdus if a[:4] == b"\x00\x20\x00\x80" and len(a) > 4]


def test_confirmed_last_try_with_the_right_pin(card: VirtualCard) -> None:
    for _ in range(2):
        with pytest.raises(PinIncorrect):
            session.sign(card, Key.SIGN, b"x", Pin(Key.SIGN, WRONG_PASSWORD))
    for _ in range(2):
        with pytest.raises(PinIncorrect):
            session.sign(card, Key.SIGN, b"x", Pin(Key.SIGN, WRONG_PASSWORD))
    with pytest.raises(LastTryNeedsConfirmation):
        session.sign(card, Key.SIGN, b"x", Pin(Key.SIGN, SIGN_PASSWORD))
    session.sign(card, Key.SIGN, b"x", Pin(Key.SIGN, SIGN_PASSWORD), confirm_last_try=True)
    assert card.counters[0x001B] == 5


def test_pin_must_match_the_key(card: VirtualCard) -> None:
    pin = Pin(Key.AUTH, AUTH_PIN)
    with pytest.raises(ValueError, match="needs the sign PIN"):
        session.sign(card, Key.SIGN, b"x", pin)
    assert pin.wiped
    with pytest.raises(ValueError, match="32-byte"):
        session.sign(card, Key.AUTH, b"short", Pin(Key.AUTH, AUTH_PIN), prehashed=True)


def test_a_card_without_the_jpki_application() -> None:
    class OtherCard:
        def transmit(self, apdu: bytes | bytearray) -> bytes:
            return b"\x6a\x82"

    with pytest.raises(NotJpkiCard) as caught:
        session.read_info(OtherCard())
    assert "My Number" in caught.value.message


@pytest.mark.parametrize(("fault", "match"), [
    (Fault.SHORT_DATA, "short read"),
    (Fault.GARBAGE_SW, "not a status word"),
])
def test_malformed_answers_while_reading_info(card_content: CardContent, fault: Fault, match: str) -> None:
    with pytest.raises(MalformedResponse, match=match):
        session.read_info(VirtualCard(card_content, fault=fault))


def test_bad_der_length_is_bounded(card_profile: CardProfile) -> None:
    card = VirtualCard(card_profile.content(Fault.BAD_DER_LENGTH), fault=Fault.BAD_DER_LENGTH)
    with pytest.raises(MalformedResponse, match="exceeds the limit of 16384"):
        session.read_certificate(card, CertificateKind.AUTH)
    # within a larger limit the header runs past the file: the card answers 6B00
    with pytest.raises(MalformedResponse, match="ends before"):
        session.read_certificate(card, CertificateKind.AUTH, limits=Limits(certificate_bytes=64 * 1024))


def test_a_truncated_certificate_does_not_parse(card_profile: CardProfile) -> None:
    der = card_profile.certificate("auth_certificate")
    content = card_profile.content()
    files = dict(content.files)
    files[0x000A] = der[:4] + der[4:-10]  # header still claims the full length, the file is 10 bytes short
    card = VirtualCard(CardContent(files, content.pins, content.keys, content.protected))
    with pytest.raises(MalformedResponse, match="short read"):
        session.read_certificate(card, CertificateKind.AUTH)
    files[0x000A] = bytes.fromhex("30820100") + bytes(256) + bytes(2000)  # a SEQUENCE that is no certificate
    card = VirtualCard(CardContent(files, content.pins, content.keys, content.protected))
    with pytest.raises(MalformedResponse, match="not a certificate"):
        session.read_certificate(card, CertificateKind.AUTH)


def test_already_verified_pin_status(card: VirtualCard) -> None:
    jpki_session = session.JpkiSession(card)
    jpki_session.verify(Pin(Key.AUTH, AUTH_PIN))
    assert jpki_session.pin_status(Key.AUTH) == PinStatus(None, verified=True)
