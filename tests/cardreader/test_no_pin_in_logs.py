"""No PIN, in any form, in any log line at any level: our loggers (captured at DEBUG, including the APDU
trace), the card process's APDU log and output, the CLI's verbose output, and every error's message, repr
and JSON form — over correct, wrong, malformed, refused and blocked-path PIN entries."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from cardreader import session
from cardreader.errors import CardError
from cardreader.jpki import CertificateKind, Key
from cardreader.pcsc import open_card
from cardreader.pin import Pin
from cardreader.virtual.lab import PcscLab
from cardreader.virtual.profile import CardProfile

from .conftest import AUTH_PIN, SIGN_PASSWORD, WRONG_PASSWORD, WRONG_PIN, Slot
from .test_cli import cli

pytestmark = pytest.mark.pcsc


def forms(secret: str) -> list[str]:
    """The secret as text and as the hex a trace would show."""
    raw = secret.encode()
    return [secret, raw.hex(), raw.hex().upper(), raw.hex(" "), raw.hex(" ").upper()]


def test_no_pin_in_any_log_line(
    slot: Slot, lab: PcscLab, fresh_profile: CardProfile, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    apdu_log = tmp_path / "card-apdu.log"
    slot.use(fresh_profile, apdu_log=apdu_log)
    errors: list[CardError] = []

    def attempt(flow: Callable[[], object]) -> None:
        try:
            flow()
        except CardError as exc:
            logging.getLogger("test").exception("flow failed")  # as an application would log it
            errors.append(exc)

    def sign(key: Key, secret: str, **options: bool) -> None:
        with open_card() as card:
            session.sign(card, key, b"challenge", Pin(key, secret), **options)

    def read_sign_certificate(secret: str) -> None:
        with open_card() as card:
            session.read_certificate(card, CertificateKind.SIGN, pin=Pin(Key.SIGN, secret))

    attempt(lambda: sign(Key.AUTH, AUTH_PIN))
    attempt(lambda: sign(Key.AUTH, WRONG_PIN))  # PinIncorrect(2)
    attempt(lambda: sign(Key.AUTH, WRONG_PIN))  # PinIncorrect(1)
    attempt(lambda: sign(Key.AUTH, AUTH_PIN))  # LastTryNeedsConfirmation: not sent
    attempt(lambda: Pin(Key.AUTH, AUTH_PIN + "1"))  # PinFormatError
    attempt(lambda: Pin(Key.SIGN, SIGN_PASSWORD + "-"))  # PinFormatError
    attempt(lambda: read_sign_certificate(SIGN_PASSWORD.lower()))
    attempt(lambda: sign(Key.SIGN, WRONG_PASSWORD))  # PinIncorrect(4)
    attempt(lambda: sign(Key.SIGN, SIGN_PASSWORD))
    message = tmp_path / "m.bin"
    message.write_bytes(b"m")
    verbose = cli("sign", "--key", "auth", "--data-file", str(message), "--confirm-last-try", "-v",
                  env=lab.env, pin=AUTH_PIN)
    assert verbose.returncode == 0, verbose.stderr

    assert [e.reason.value for e in errors] == [
        "pin_incorrect", "pin_incorrect", "last_try_needs_confirmation", "pin_format", "pin_format",
        "pin_incorrect",
    ]
    texts = [record.getMessage() for record in caplog.records]
    texts += [caplog.text]
    texts += [f"{e} {e!r} {json.dumps(e.as_dict(), ensure_ascii=False)}" for e in errors]
    texts += [apdu_log.read_text(), lab.card_log.read_text(), verbose.stdout, verbose.stderr]
    for secret in (AUTH_PIN, WRONG_PIN, SIGN_PASSWORD, SIGN_PASSWORD.lower(), WRONG_PASSWORD):
        for form in forms(secret):
            leaks = [text for text in texts if form in text]
            assert not leaks, f"{form!r} found in a log"
    # the logs did see the VERIFYs, masked
    assert "C: 00 20 00 80 <pin>" in caplog.text
    assert "C: 00 20 00 80 <pin>" in apdu_log.read_text()
    assert "cardreader.apdu: C: 00 20 00 80 <pin>" in verbose.stderr
