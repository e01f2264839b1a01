"""The JPKI flows through the real PC/SC stack: pyscard → libpcsclite → a private pcscd → vpcd → TCP → the
virtual card process. Every operation, every status-word path, and the ways a session can break: PIN
lockout (kept across an emulator restart), a card pulled mid-signature, a mute card, pcscd restarted or
gone, a reader held by another process, malformed answers, and virtual readers outside test mode."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from cardreader import jpki, pcsc, session
from cardreader.apdu import Command, transceive
from cardreader.errors import (
    CardError,
    CardRemoved,
    CardTimeout,
    CertificateAbsent,
    FileNotFound,
    LastTryNeedsConfirmation,
    MalformedResponse,
    NoCard,
    NoReader,
    PcscUnavailable,
    PinBlocked,
    PinIncorrect,
    ReaderBusy,
    ReaderRefused,
    SecurityStatusNotSatisfied,
    UnexpectedStatus,
    WrongLength,
)
from cardreader.jpki import EF, CertificateKind, Key, PinStatus, TokenType
from cardreader.pcsc import TEST_MODE_ENV, Access, open_card
from cardreader.pin import Pin
from cardreader.session import JpkiSession
from cardreader.virtual.card import Fault
from cardreader.virtual.lab import READER, PcscLab
from cardreader.virtual.profile import CardProfile
from keys.signatures import digest_info_sha256, verify_card_signature

from .conftest import AUTH_PIN, SIGN_PASSWORD, WRONG_PIN, Slot

pytestmark = pytest.mark.pcsc


def _public_key(der: bytes) -> rsa.RSAPublicKey:
    key = x509.load_der_x509_certificate(der).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def test_readers(reader: Slot) -> None:
    assert [r for r in pcsc.list_readers() if r.startswith("Virtual PCD")] == [READER, "Virtual PCD 00 01"]


def test_info(reader: Slot) -> None:
    with open_card() as card:
        info = session.read_info(card)
    assert card.reader == READER
    assert info.token.type is TokenType.CARD
    assert (info.certificates.auth, info.certificates.sign) == (True, True)
    assert (info.auth_pin, info.sign_pin) == (PinStatus(3), PinStatus(5))


@pytest.mark.parametrize(("kind", "role"), [
    (CertificateKind.AUTH, "auth_certificate"),
    (CertificateKind.AUTH_CA, "auth_ca"),
    (CertificateKind.SIGN_CA, "sign_ca"),
])
def test_read_certificates(reader: Slot, card_profile: CardProfile, kind: CertificateKind, role: str) -> None:
    with open_card() as card:
        assert session.read_certificate(card, kind) == card_profile.certificate(role)


def test_read_signing_certificate(reader: Slot, card_profile: CardProfile) -> None:
    with open_card() as card:
        der = session.read_certificate(card, CertificateKind.SIGN, pin=Pin(Key.SIGN, SIGN_PASSWORD))
    assert der == card_profile.certificate("sign_certificate")


@pytest.mark.parametrize(("key", "secret"), [(Key.AUTH, AUTH_PIN), (Key.SIGN, SIGN_PASSWORD)])
def test_sign(reader: Slot, card_profile: CardProfile, key: Key, secret: str) -> None:
    challenge = b"nonce 7f3a || rp.example"
    with open_card() as card:
        evidence = session.sign(card, key, challenge, Pin(key, secret))
    assert evidence.certificate == card_profile.certificate(f"{key.value}_certificate")
    verify_card_signature(_public_key(evidence.certificate), evidence.signature, challenge)
    # the token type first (SELECT 0006 + READ BINARY); the signing flow also reads EF 0008
    assert card.apdu_count <= (17 if key is Key.AUTH else 18)
    with open_card() as card:  # the session's reset left no verified PIN behind
        assert JpkiSession(card).pin_status(key) == PinStatus(key.max_tries)


def test_get_response_through_pcscd(reader: Slot) -> None:
    with open_card() as card:
        jpki_session = JpkiSession(card)
        jpki_session.verify(Pin(Key.AUTH, AUTH_PIN))
        jpki_session.select_file(EF.AUTH_KEY)
        response = transceive(card, Command(0x80, 0x2A, 0x00, 0x80, digest_info_sha256(bytes(32))))  # no Le: 6100
    assert (response.sw, len(response.data)) == (0x9000, 256)
    # SELECT AP, SELECT 0018, VERIFY (tries), VERIFY, SELECT 0017, 80 2A (answered 6100), GET RESPONSE
    assert card.apdu_count == 7


def _prepare_key_ef(s: JpkiSession) -> None:
    s.select_file(EF.AUTH_KEY)


def _prepare_cert_ef(s: JpkiSession) -> None:
    s.select_file(EF.AUTH_CERTIFICATE)


def _prepare_pin_ef(s: JpkiSession) -> None:
    s.select_file(EF.AUTH_PIN)


@pytest.mark.parametrize(("prepare", "command", "error", "sw"), [
    (_prepare_cert_ef, jpki.select_file(0x0009), FileNotFound, 0x6A82),  # type: ignore[arg-type]
    (_prepare_cert_ef, Command(0x00, 0xB0, 0x00, 0x00), WrongLength, 0x6700),
    (_prepare_cert_ef, Command(0x00, 0xB0, 0x7F, 0x00, le=16), UnexpectedStatus, 0x6B00),
    (_prepare_key_ef, jpki.compute_signature(digest_info_sha256(bytes(32))), SecurityStatusNotSatisfied, 0x6982),
    (_prepare_pin_ef, Command(0x00, 0x20, 0x00, 0x81), UnexpectedStatus, 0x6A86),
    (_prepare_pin_ef, Command(0x00, 0xCA, 0xDF, 0x30, le=5), UnexpectedStatus, 0x6D00),
    (_prepare_pin_ef, Command(0x0C, 0xB0, 0x00, 0x00, le=4), UnexpectedStatus, 0x6E00),
])
def test_status_words_through_pcscd(
    reader: Slot, prepare: Callable[[JpkiSession], None], command: Command, error: type[CardError], sw: int
) -> None:
    with open_card() as card:
        prepare(JpkiSession(card))
        with pytest.raises(error) as caught:
            jpki.check(transceive(card, command))
    assert caught.value.sw == sw


def test_signing_certificate_without_the_password(reader: Slot) -> None:
    with open_card() as card, pytest.raises(SecurityStatusNotSatisfied):
        JpkiSession(card).read_certificate(CertificateKind.SIGN)


def test_card_without_signing_pair(slot: Slot, minor_profile: CardProfile) -> None:
    slot.use(minor_profile)
    with open_card() as card:
        info = session.read_info(card)
        assert (info.certificates.sign, info.sign_pin) == (False, None)
        with pytest.raises(CertificateAbsent):
            session.sign(card, Key.SIGN, b"x", Pin(Key.SIGN, SIGN_PASSWORD))


def test_lockout_and_it_survives_an_emulator_restart(slot: Slot, fresh_profile: CardProfile) -> None:
    slot.use(fresh_profile)

    def attempt(secret: str, *, confirm: bool = False) -> None:
        with open_card() as card:
            session.sign(card, Key.AUTH, b"x", Pin(Key.AUTH, secret), confirm_last_try=confirm)

    with pytest.raises(PinIncorrect) as caught:
        attempt(WRONG_PIN)
    assert (caught.value.tries_left, caught.value.sw) == (2, 0x63C2)
    with pytest.raises(PinIncorrect) as caught:
        attempt(WRONG_PIN)
    assert caught.value.tries_left == 1
    with pytest.raises(LastTryNeedsConfirmation):
        attempt(AUTH_PIN)  # not sent: the counter stays at 1
    with pytest.raises(PinBlocked) as caught:
        attempt(WRONG_PIN, confirm=True)
    assert caught.value.sw == 0x63C0
    with pytest.raises(PinBlocked):
        attempt(AUTH_PIN, confirm=True)  # not sent either

    slot.restart()
    with open_card() as card:
        assert session.read_info(card).auth_pin == PinStatus(0)
        jpki_session = JpkiSession(card)
        jpki_session.select_file(EF.AUTH_PIN)
        with pytest.raises(PinBlocked) as caught:  # sent by hand: the card itself refuses
            jpki.check(transceive(card, jpki.verify(bytearray(AUTH_PIN.encode()))))
    assert caught.value.sw == 0x6984
    with pytest.raises(PinBlocked):
        attempt(AUTH_PIN, confirm=True)


def test_card_pulled_mid_signature(slot: Slot, card_profile: CardProfile) -> None:
    slot.use(card_profile, fault=Fault.PULL_ON_SIGN)
    started = time.monotonic()
    with pytest.raises(CardRemoved), open_card() as card:
        session.sign(card, Key.AUTH, b"x", Pin(Key.AUTH, AUTH_PIN))
    assert time.monotonic() - started < 2
    slot.pull()
    with pytest.raises(NoCard):
        open_card().__enter__()


def test_mute_card_times_out(slot: Slot, card_profile: CardProfile) -> None:
    slot.use(card_profile, fault=Fault.MUTE)
    started = time.monotonic()
    with pytest.raises(CardTimeout, match="SCardTransmit"), open_card(apdu_timeout=1.0) as card:
        session.sign(card, Key.AUTH, b"x", Pin(Key.AUTH, AUTH_PIN))
    assert 1.0 <= time.monotonic() - started < 3
    slot.pull()  # unblocks pcscd's reader thread (and our abandoned PC/SC call)


@pytest.mark.parametrize(("fault", "operation", "match"), [
    (Fault.SHORT_DATA, lambda card: session.read_info(card), "short read"),
    (Fault.GARBAGE_SW, lambda card: session.read_info(card), "not a status word"),
    (Fault.BAD_DER_LENGTH, lambda card: session.read_certificate(card, CertificateKind.AUTH), "exceeds the limit"),
], ids=["short-data", "garbage-sw", "bad-der-length"])
def test_malformed_answers_are_typed_errors(
    slot: Slot, card_profile: CardProfile, fault: Fault, operation: Callable[[pcsc.PcscConnection], object],
    match: str,
) -> None:
    slot.use(card_profile, fault=fault)
    started = time.monotonic()
    with pytest.raises(MalformedResponse, match=match), open_card() as card:
        operation(card)
    assert time.monotonic() - started < 1


def test_pcscd_restarted_between_operations(reader: Slot, lab: PcscLab) -> None:
    with open_card() as card:
        session.read_info(card)
    lab.stop_pcscd()
    try:
        with pytest.raises(PcscUnavailable):
            open_card().__enter__()
        with pytest.raises(PcscUnavailable):
            pcsc.list_readers()
    finally:
        lab.start_pcscd()
    lab.wait_for_card()  # the card process reconnects by itself
    with open_card() as card:
        assert session.read_info(card).auth_pin == PinStatus(3)


def test_pcscd_gone_in_the_middle_of_a_session(reader: Slot, lab: PcscLab) -> None:
    try:
        started = time.monotonic()
        with open_card() as card:  # closing after pcscd went away must not raise or hang either
            jpki_session = JpkiSession(card)
            jpki_session.read_token_info()
            lab.stop_pcscd()
            with pytest.raises(PcscUnavailable):
                jpki_session.read_certificates_present()
        assert time.monotonic() - started < 5
    finally:
        lab.start_pcscd()
    lab.wait_for_card()


HOLDER = textwrap.dedent("""
    import sys, time
    from cardreader.pcsc import Access, open_card
    with open_card(access=Access(sys.argv[1])):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
""")


@contextmanager
def held(lab: PcscLab, access: Access, seconds: float) -> Iterator[subprocess.Popen[bytes]]:
    """Another process holding the reader for ``seconds``; stopped by PID afterwards."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, access.value, str(seconds)], env=lab.env,
                              stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"held\n"
        yield holder
    finally:
        holder.kill()
        holder.wait(5)


def test_busy_reader_fails_fast(reader: Slot, lab: PcscLab) -> None:
    with held(lab, Access.EXCLUSIVE, 5):
        for access in Access:
            started = time.monotonic()
            with pytest.raises(ReaderBusy):
                open_card(access=access).__enter__()
            assert time.monotonic() - started < 0.5


def test_waiting_for_a_busy_reader(reader: Slot, lab: PcscLab) -> None:
    with held(lab, Access.EXCLUSIVE, 0.8) as holder:
        started = time.monotonic()
        with open_card(wait=5) as card:
            assert session.read_info(card).auth_pin == PinStatus(3)
        assert 0.5 < time.monotonic() - started < 5
        assert holder.wait(5) == 0


def test_a_held_transaction_is_waited_for_with_a_bound(reader: Slot, lab: PcscLab) -> None:
    # pcsc-lite lets SCardConnect (shared or exclusive) block without a limit while another application
    # holds a transaction: we give up after ``wait`` plus a fixed allowance for pcscd itself (2 s).
    with held(lab, Access.TRANSACTION, 10):
        for access in Access:
            started = time.monotonic()
            with pytest.raises(ReaderBusy, match="transaction"):
                open_card(access=access, wait=0.3).__enter__()
            assert 0.3 <= time.monotonic() - started < 3.5


def test_transactions_take_turns(reader: Slot) -> None:
    outcome: dict[str, object] = {}

    def second() -> None:
        try:
            with open_card(access=Access.TRANSACTION, wait=5) as card:
                outcome["info"] = session.read_info(card)
        except CardError as exc:
            outcome["error"] = exc

    with open_card(access=Access.TRANSACTION) as first:
        JpkiSession(first).verify(Pin(Key.AUTH, AUTH_PIN))
        waiting = threading.Thread(target=second)
        waiting.start()
        time.sleep(0.3)
        assert not outcome  # still waiting for our transaction
    waiting.join(10)
    assert "error" not in outcome  # our reset on leaving does not fail the next holder
    assert outcome["info"].auth_pin == PinStatus(3)  # type: ignore[attr-defined]  # and left no verified PIN


def test_a_transaction_session_leaves_no_verified_pin(reader: Slot) -> None:
    # The card is reset before the transaction ends: whoever gets the card next finds no verified PIN,
    # even a holder whose connect was already waiting (see test_transactions_take_turns).
    for _ in range(3):
        with open_card(access=Access.TRANSACTION) as card:
            jpki_session = JpkiSession(card)
            assert jpki_session.pin_status(Key.AUTH) == PinStatus(3)
            jpki_session.verify(Pin(Key.AUTH, AUTH_PIN))
            assert jpki_session.pin_status(Key.AUTH).verified


def test_virtual_reader_needs_test_mode(reader: Slot, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ReaderRefused):
        open_card(test_mode=False).__enter__()
    monkeypatch.delenv(TEST_MODE_ENV)
    with pytest.raises(ReaderRefused) as caught:
        open_card(READER).__enter__()
    assert caught.value.reason == "reader_refused"
    assert READER in pcsc.list_readers()  # listed, but never used


def test_no_card_and_no_reader(reader: Slot) -> None:
    with pytest.raises(NoCard):
        open_card("Virtual PCD 00 01").__enter__()
    with pytest.raises(NoReader):
        open_card("ACS ACR39U").__enter__()
    with pytest.raises(NoCard):
        pcsc.wait_for_card("Virtual PCD 00 01", timeout=0.2)
