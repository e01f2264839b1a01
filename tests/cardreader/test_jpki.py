"""The JPKI application's identifiers, commands and response parsers (jpki-card-and-certs.md §1)."""

from __future__ import annotations

import pytest

from cardreader import jpki
from cardreader.apdu import Response
from cardreader.errors import (
    CardError,
    FileNotFound,
    MalformedResponse,
    PinBlocked,
    PinIncorrect,
    SecurityStatusNotSatisfied,
    UnexpectedStatus,
    WrongLength,
)
from cardreader.jpki import EF, CertificateKind, Key, PinStatus, TokenType


def test_command_bytes() -> None:
    assert bytes(jpki.select_application().encode()) == bytes.fromhex("00A4040C0AD392F000260100000001")
    assert bytes(jpki.select_file(EF.AUTH_PIN).encode()) == bytes.fromhex("00A4020C020018")
    assert bytes(jpki.read_binary(0x0100, 256).encode()) == bytes.fromhex("00B0010000")
    assert bytes(jpki.read_binary(0x7FFF, 4).encode()) == bytes.fromhex("00B07FFF04")
    assert bytes(jpki.verify().encode()) == bytes.fromhex("00200080")
    assert bytes(jpki.verify(bytearray(b"1234")).encode()) == bytes.fromhex("002000800431323334")
    assert bytes(jpki.compute_signature(b"\x30\x31").encode()) == bytes.fromhex("802A0080023031" + "00")


def test_read_binary_offset_is_15_bits() -> None:
    with pytest.raises(MalformedResponse, match="15-bit"):
        jpki.read_binary(0x8000, 1)


@pytest.mark.parametrize("size", [0, 246])
def test_signature_input_bounds(size: int) -> None:
    with pytest.raises(ValueError, match=r"1\.\.245"):
        jpki.compute_signature(bytes(size))


def test_keys_and_certificates() -> None:
    assert (Key.AUTH.pin_ef, Key.AUTH.key_ef, Key.AUTH.certificate, Key.AUTH.max_tries) == (
        EF.AUTH_PIN, EF.AUTH_KEY, CertificateKind.AUTH, 3)
    assert (Key.SIGN.pin_ef, Key.SIGN.key_ef, Key.SIGN.certificate, Key.SIGN.max_tries) == (
        EF.SIGN_PIN, EF.SIGN_KEY, CertificateKind.SIGN, 5)
    assert {k: k.ef for k in CertificateKind} == {
        CertificateKind.AUTH: 0x000A, CertificateKind.SIGN: 0x0001,
        CertificateKind.AUTH_CA: 0x000B, CertificateKind.SIGN_CA: 0x0002,
    }
    assert [k for k in CertificateKind if k.required_pin] == [CertificateKind.SIGN]


@pytest.mark.parametrize(("sw", "error"), [
    (0x6982, SecurityStatusNotSatisfied),
    (0x6983, PinBlocked),
    (0x6984, PinBlocked),
    (0x63C0, PinBlocked),
    (0x63C2, PinIncorrect),
    (0x6A82, FileNotFound),
    (0x6700, WrongLength),
    (0x6A86, UnexpectedStatus),
    (0x6D00, UnexpectedStatus),
    (0x6B00, UnexpectedStatus),
])
def test_status_words_map_to_typed_errors(sw: int, error: type[CardError]) -> None:
    with pytest.raises(error) as caught:
        jpki.check(Response(b"", sw))
    assert caught.value.sw == sw
    assert caught.value.as_dict()["sw"] == f"{sw:04X}"


def test_pin_incorrect_carries_the_tries() -> None:
    with pytest.raises(PinIncorrect) as caught:
        jpki.check(Response(b"", 0x63C2))
    assert caught.value.tries_left == 2
    assert "2 tries left" in caught.value.message
    assert "残り2回" in caught.value.message_ja


def test_check_returns_the_data() -> None:
    assert jpki.check(Response(b"\x01", 0x9000)) == b"\x01"


@pytest.mark.parametrize(("sw", "status"), [
    (0x63C3, PinStatus(3)),
    (0x63C0, PinStatus(0)),
    (0x9000, PinStatus(None, verified=True)),
    (0x6984, PinStatus(0)),
    (0x6983, PinStatus(0)),
])
def test_pin_status(sw: int, status: PinStatus) -> None:
    assert jpki.pin_status(Response(b"", sw)) == status
    assert status.blocked == (status.tries_left == 0)


def test_pin_status_of_a_missing_pin_ef() -> None:
    with pytest.raises(FileNotFound):
        jpki.pin_status(Response(b"", 0x6A82))


@pytest.mark.parametrize(("label", "kind"), [
    ("JPKIAPICCTOKEN2", TokenType.CARD),
    ("JPKIAPICCTOKEN", TokenType.CARD),
    ("JPKIAPGPSETOKEN", TokenType.ANDROID),
    ("JPKIAPIOSTOKEN", TokenType.IOS),
    ("SOMETHING ELSE", TokenType.UNKNOWN),
])
def test_token_type_by_label_prefix(label: str, kind: TokenType) -> None:
    info = jpki.parse_token_info(label.encode().ljust(32, b" "))
    assert (info.type, info.label) == (kind, label)


def test_token_label_length() -> None:
    with pytest.raises(MalformedResponse, match="32"):
        jpki.parse_token_info(b"JPKIAPICCTOKEN2")


@pytest.mark.parametrize(("data", "sign", "auth"), [
    ("8F8F00", True, True),
    ("008F00", False, True),
    ("000000", False, False),
    ("018F00", False, True),  # only 8F means present
])
def test_certificates_present(data: str, sign: bool, auth: bool) -> None:
    present = jpki.parse_certificates_present(bytes.fromhex(data))
    assert (present.sign, present.auth) == (sign, auth)


@pytest.mark.parametrize("data", ["8F8F", "8F8F0000"])
def test_certificates_present_is_three_bytes(data: str) -> None:
    with pytest.raises(MalformedResponse, match="3"):
        jpki.parse_certificates_present(bytes.fromhex(data))


@pytest.mark.parametrize(("prefix", "total"), [
    ("3003", 5),
    ("308180", 0x80 + 3),
    ("308202D6", 0x2D6 + 4),
    ("30833FFFFF", 0x3FFFFF + 5),
])
def test_certificate_length(prefix: str, total: int) -> None:
    assert jpki.certificate_length(bytes.fromhex(prefix), limit=1 << 24) == total


@pytest.mark.parametrize(("prefix", "message"), [
    ("", "SEQUENCE"),
    ("3182", "SEQUENCE"),
    ("3080", "unsupported"),  # indefinite length is not DER
    ("3084FFFFFFFF", "unsupported"),
    ("3082", "truncated"),
    ("30820010", "shortest"),  # 16 fits the short form
    ("30817F", "shortest"),
    ("3082007F", "shortest"),
    ("30827FF0", "limit"),
])
def test_certificate_length_refuses(prefix: str, message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        jpki.certificate_length(bytes.fromhex(prefix), limit=16 * 1024)
