"""PINs: local format checks before anything is sent, and no way to print, compare or pickle one."""

from __future__ import annotations

import pickle

import pytest

from cardreader.errors import PinFormatError
from cardreader.jpki import Key
from cardreader.pin import Pin


@pytest.mark.parametrize("secret", ["0000", "7391"])
def test_auth_pin_is_four_digits(secret: str) -> None:
    assert bytes(Pin(Key.AUTH, secret).reference_data()) == secret.encode()


@pytest.mark.parametrize("secret", ["", "123", "12345", "12a4", "１２３４", "12 4", "٣٣٣٣"])
def test_auth_pin_format_errors(secret: str) -> None:
    with pytest.raises(PinFormatError) as caught:
        Pin(Key.AUTH, secret)
    assert not caught.value.signing
    assert caught.value.message == "The PIN must be exactly 4 digits."
    if secret:
        assert secret not in str(caught.value)


@pytest.mark.parametrize(("secret", "sent"), [
    ("ABC123", "ABC123"),
    ("kq7x2m9p", "KQ7X2M9P"),
    ("A" * 16, "A" * 16),
    ("123456", "123456"),
])
def test_signing_password_is_upper_cased(secret: str, sent: str) -> None:
    assert bytes(Pin(Key.SIGN, secret).reference_data()) == sent.encode()


@pytest.mark.parametrize("secret", ["ABC12", "A" * 17, "ABC-123", "ABC 123", "ßßß123", "ＡＢＣ１２３", "abc123\n"])
def test_signing_password_format_errors(secret: str) -> None:
    with pytest.raises(PinFormatError) as caught:
        Pin(Key.SIGN, secret)
    assert caught.value.signing
    assert "6 to 16" in caught.value.message
    assert "6〜16" in caught.value.message_ja


def test_a_pin_never_prints() -> None:
    pin = Pin(Key.AUTH, "7391")
    for text in (repr(pin), str(pin), f"{pin}", f"{pin!r}", f"{pin:>10}", "%s" % pin, str([pin])):  # noqa: UP031
        assert "7391" not in text
    assert repr(pin) == "<pin>"


def test_a_pin_cannot_be_pickled_compared_or_hashed() -> None:
    pin = Pin(Key.AUTH, "7391")
    with pytest.raises(TypeError):
        pickle.dumps(pin)
    with pytest.raises(TypeError):
        _ = pin == Pin(Key.AUTH, "7391")
    with pytest.raises(TypeError):
        hash(pin)


def test_wipe_and_single_use() -> None:
    pin = Pin(Key.AUTH, "7391")
    buffer = pin.reference_data()
    pin.wipe()
    assert pin.wiped
    assert buffer == bytearray()
    with pytest.raises(ValueError, match="already used"):
        pin.reference_data()


def test_a_bytearray_input_is_wiped_by_the_constructor() -> None:
    secret = bytearray(b"kq7x2m9p")
    pin = Pin(Key.SIGN, secret)
    assert secret == bytearray(8)
    assert bytes(pin.reference_data()) == b"KQ7X2M9P"
    bad = bytearray(b"73a1")
    with pytest.raises(PinFormatError):
        Pin(Key.AUTH, bad)
    assert bad == bytearray(4)
