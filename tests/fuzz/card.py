"""Fuzz targets of the card side: response APDUs, command APDUs (the virtual card's parser) and the JPKI files'
formats (token label, certificates-present flags, the certificate file's DER length prefix)."""

from __future__ import annotations

from contextlib import suppress

from cardreader.apdu import Command, Response
from cardreader.errors import CardError
from cardreader.jpki import (
    TOKEN_LABEL_LENGTH,
    certificate_length,
    check,
    parse_certificates_present,
    parse_token_info,
    pin_status,
)
from keys.limits import DEFAULT_LIMITS
from tests.fuzz.harness import target


def _response_seeds() -> dict[str, bytes]:
    return {"ok": b"\x01\x02\x90\x00", "tries": b"\x63\xc3", "blocked": b"\x69\x83", "more": b"\x61\x10",
            "wrong_le": b"\x6c\x20", "not_found": b"\x6a\x82", "empty": b"\x90\x00"}


@target("apdu_response", seeds=_response_seeds)
def apdu_response(data: bytes) -> None:
    """ISO/IEC 7816-4 response APDU: data and SW1-SW2, then the JPKI status-word mapping (errors: CardError)."""
    with suppress(CardError):
        response = Response.parse(data)
        response.describe()
        with suppress(CardError):
            check(response)
        pin_status(response)


def _command_seeds() -> dict[str, bytes]:
    return {"select": bytes.fromhex("00a4040c0ad392f000260100000001"), "read": bytes.fromhex("00b0000000"),
            "verify_empty": bytes.fromhex("00200080"), "sign": bytes.fromhex("802a00800401020304" + "00")}


@target("apdu_command", seeds=_command_seeds)
def apdu_command(data: bytes) -> None:
    """The virtual card's command APDU parser (documented error: ValueError)."""
    with suppress(ValueError):
        command = Command.decode(data)
        command.describe()
        Command.decode(bytes(command.encode()))


def _jpki_file_seeds() -> dict[str, bytes]:
    label = b"JPKIAPICCTOKEN2".ljust(TOKEN_LABEL_LENGTH, b" ")
    return {"label": label + b"\x8f\x8f\x00" + b"\x30\x82\x05\x10",
            "short_length": b"JPKI".ljust(TOKEN_LABEL_LENGTH, b"\x00") + b"\x8f\x00\x00\x30\x81\x90"}


@target("jpki_files", seeds=_jpki_file_seeds)
def jpki_files(data: bytes) -> None:
    """EF 0006's token label (32 bytes), EF 0008's flags (3 bytes) and a certificate file's length prefix."""
    with suppress(CardError):
        parse_token_info(data[:TOKEN_LABEL_LENGTH])
    with suppress(CardError):
        parse_certificates_present(data[TOKEN_LABEL_LENGTH : TOKEN_LABEL_LENGTH + 3])
    with suppress(CardError):
        certificate_length(data[TOKEN_LABEL_LENGTH + 3 :], DEFAULT_LIMITS.certificate_bytes)
    with suppress(CardError):
        certificate_length(data, DEFAULT_LIMITS.certificate_bytes)
