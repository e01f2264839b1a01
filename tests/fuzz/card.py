"""Fuzz targets of the card side: response APDUs, command APDUs (the virtual card's parser) and the JPKI files'
formats (token label, certificates-present flags, the certificate file's DER length prefix), and the card agent's
reading of the provider's card-login answers."""

from __future__ import annotations

import json
from contextlib import suppress

import httpx

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
from cardreader.login import LoginError, Provider, Ticket
from keys.limits import DEFAULT_LIMITS
from tests.fuzz.harness import json_values, target


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


def _answer_seeds() -> dict[str, bytes]:
    challenge = {"issuer": PROVIDER, "challenge": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
                 "interaction": "i-1", "issued_at": "2026-11-22T12:00:00Z", "expires_at": "2026-11-22T12:02:00Z",
                 "key": "auth", "client_name": "RP"}
    refusal = {"error": "expired", "message": "Expired.", "message_ja": "期限切れです。"}
    return {"challenge": b"\x00" + json.dumps(challenge).encode(), "refusal": b"\x01" + json.dumps(refusal).encode(),
            # regression: httpx's json() raised RecursionError past the agent's except ValueError
            "regress-deep-json": b"\x00" + b"[" * 3000}


PROVIDER = "https://id.example.jp"


@target("provider_answer", seeds=_answer_seeds, shaped=lambda: json_values(20).map(
    lambda v: b"\x00" + json.dumps(v).encode()))
def provider_answer(data: bytes) -> None:
    """The card agent's reading of the provider's challenge answer (:meth:`cardreader.login.Provider.challenge`):
    byte 0 picks HTTP 200 or 400, the rest is the body (errors: LoginError)."""
    status = 200 if not data or data[0] % 2 == 0 else 400
    transport = httpx.MockTransport(lambda _: httpx.Response(status, content=data[1:]))
    provider = Provider(PROVIDER, test_mode=True, transport=transport)
    try:
        with suppress(LoginError):
            provider.challenge(Ticket.token("A" * 43))
    finally:
        provider.close()
