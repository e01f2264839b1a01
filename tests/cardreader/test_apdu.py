"""Short APDUs (ISO/IEC 7816-4 §5.1), status words and :func:`transceive`'s 61xx / 6Cxx handling."""

from __future__ import annotations

import logging

import pytest

from cardreader import jpki
from cardreader.apdu import MAX_CHAINED_RESPONSE, Command, Response, counter_of, transceive
from cardreader.errors import MalformedResponse
from cardreader.jpki import Key
from cardreader.pin import Pin
from cardreader.session import JpkiSession
from cardreader.virtual.card import VirtualCard
from keys.signatures import digest_info_sha256

from .conftest import AUTH_PIN


class Script:
    """A card that answers from a script: for protocol corners the virtual card never produces."""

    def __init__(self, *responses: str) -> None:
        self.responses = [bytes.fromhex(r) for r in responses]
        self.sent: list[bytes] = []

    def transmit(self, apdu: bytes | bytearray) -> bytes:
        self.sent.append(bytes(apdu))
        return self.responses.pop(0)


CASES = [
    (Command(0x00, 0x20, 0x00, 0x80), "00200080"),  # case 1
    (Command(0x00, 0xB0, 0x01, 0x00, le=256), "00B0010000"),  # case 2, Le 256 = 00
    (Command(0x00, 0xB0, 0x00, 0x00, le=4), "00B0000004"),
    (Command(0x00, 0xA4, 0x02, 0x0C, b"\x00\x0a"), "00A4020C02000A"),  # case 3
    (Command(0x80, 0x2A, 0x00, 0x80, b"\x01\x02", le=256), "802A0080020102" + "00"),  # case 4
]


@pytest.mark.parametrize(("command", "encoded"), CASES)
def test_encoding_of_the_four_cases(command: Command, encoded: str) -> None:
    assert bytes(command.encode()) == bytes.fromhex(encoded)
    assert Command.decode(bytes.fromhex(encoded)) == command


@pytest.mark.parametrize(
    "raw",
    ["00A404", "00A4040C000002", "00A4040C0301", "00A4040C01AABBCC"],
    ids=["too-short", "extended-length", "lc-too-long", "trailing-bytes"],
)
def test_decode_refuses_malformed_commands(raw: str) -> None:
    with pytest.raises(ValueError, match=r"APDU|extended|Lc"):
        Command.decode(bytes.fromhex(raw))


@pytest.mark.parametrize(
    "fields",
    [
        {"cla": 0x100, "ins": 0, "p1": 0, "p2": 0},
        {"cla": 0, "ins": 0, "p1": -1, "p2": 0},
        {"cla": 0, "ins": 0, "p1": 0, "p2": 0, "le": 0},
        {"cla": 0, "ins": 0, "p1": 0, "p2": 0, "le": 257},
        {"cla": 0, "ins": 0, "p1": 0, "p2": 0, "data": bytes(256)},
    ],
)
def test_command_fields_are_checked(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"range|Le|255"):
        Command(**fields)  # type: ignore[arg-type]


def test_reference_data_is_masked_in_traces_and_reprs() -> None:
    verify = Command(0x00, 0x20, 0x00, 0x80, AUTH_PIN.encode())
    assert verify.sensitive
    assert verify.describe() == "00 20 00 80 <pin>"
    assert AUTH_PIN not in repr(verify)
    assert "<pin>" in repr(verify)
    assert not Command(0x00, 0x20, 0x00, 0x80).sensitive
    select = Command(0x00, 0xA4, 0x02, 0x0C, b"\x00\x18")
    assert select.describe() == "00 A4 02 0C Lc=02 00 18"


@pytest.mark.parametrize(("raw", "data", "sw"), [("9000", b"", 0x9000), ("01026A82", b"\x01\x02", 0x6A82),
                                                  ("61FF", b"", 0x61FF), ("63C2", b"", 0x63C2)])
def test_response_split(raw: str, data: bytes, sw: int) -> None:
    response = Response.parse(bytes.fromhex(raw))
    assert (response.data, response.sw) == (data, sw)
    assert response.describe() == f"{len(data)} bytes SW={sw:04X}"


@pytest.mark.parametrize("raw", ["", "90", "1234", "0000", "6000", "A000", "01027F00"])
def test_a_response_without_a_status_word_is_malformed(raw: str) -> None:
    with pytest.raises(MalformedResponse):
        Response.parse(bytes.fromhex(raw))


@pytest.mark.parametrize(("sw", "tries"), [(0x63C3, 3), (0x63C0, 0), (0x63CF, 15), (0x6300, None), (0x9000, None)])
def test_counter_of(sw: int, tries: int | None) -> None:
    assert counter_of(sw) == tries


def _verified(card: VirtualCard) -> JpkiSession:
    session = JpkiSession(card)
    session.verify(Pin(Key.AUTH, AUTH_PIN))
    session.select_file(Key.AUTH.key_ef)
    return session


def test_get_response_chain_from_the_card(card: VirtualCard) -> None:
    _verified(card)
    digest_info = digest_info_sha256(bytes(32))
    case3 = Command(0x80, 0x2A, 0x00, 0x80, digest_info)  # no Le: the card answers 6100
    assert Response.parse(card.transmit(case3.encode())).sw == 0x6100
    response = transceive(card, case3)
    assert response.ok
    assert response.data == transceive(card, jpki.compute_signature(digest_info)).data
    assert len(response.data) == 256


def test_wrong_le_is_resent_with_the_cards_le(card: VirtualCard) -> None:
    _verified(card)
    command = Command(0x80, 0x2A, 0x00, 0x80, digest_info_sha256(bytes(32)), le=16)
    assert Response.parse(card.transmit(command.encode())).sw == 0x6C00
    response = transceive(card, command)
    assert (response.sw, len(response.data)) == (0x9000, 256)


def test_multi_part_get_response() -> None:
    script = Script("6103", "AABBCC6102", "DDEE9000")
    response = transceive(script, Command(0x00, 0xB0, 0x00, 0x00, le=5))
    assert (response.data, response.sw) == (bytes.fromhex("AABBCCDDEE"), 0x9000)
    assert script.sent[1:] == [bytes.fromhex("00C0000003"), bytes.fromhex("00C0000002")]


def test_wrong_le_twice_is_malformed() -> None:
    with pytest.raises(MalformedResponse, match="twice"):
        transceive(Script("6C10", "6C08"), Command(0x00, 0xB0, 0x00, 0x00, le=32))


@pytest.mark.parametrize(("command", "raw"), [
    (Command(0x00, 0xB0, 0x00, 0x00, le=2), "0102039000"),
    (Command(0x00, 0xA4, 0x02, 0x0C, b"\x00\x0a"), "019000"),
])
def test_more_data_than_asked_is_malformed(command: Command, raw: str) -> None:
    with pytest.raises(MalformedResponse, match="expected"):
        transceive(Script(raw), command)


def test_an_endless_get_response_chain_is_cut() -> None:
    class Endless:
        calls = 0

        def transmit(self, apdu: bytes | bytearray) -> bytes:
            self.calls += 1
            return bytes(255) + b"\x61\xff"

    endless = Endless()
    with pytest.raises(MalformedResponse, match="chained"):
        transceive(endless, Command(0x00, 0xB0, 0x00, 0x00, le=256))
    assert endless.calls <= MAX_CHAINED_RESPONSE // 255 + 2


def test_reference_data_is_wiped_from_the_apdu_buffer() -> None:
    seen: list[bytearray] = []
    during: list[bytes] = []

    class Recorder:
        def transmit(self, apdu: bytes | bytearray) -> bytes:
            assert isinstance(apdu, bytearray)
            seen.append(apdu)
            during.append(bytes(apdu))
            return b"\x90\x00"

    transceive(Recorder(), Command(0x00, 0x20, 0x00, 0x80, bytearray(AUTH_PIN.encode())))
    assert during[0].endswith(AUTH_PIN.encode())
    assert seen[0] == bytearray(len(seen[0]))


def test_trace_shows_headers_lengths_and_status_only(card: VirtualCard, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="cardreader.apdu")
    session = JpkiSession(card)
    session.verify(Pin(Key.AUTH, AUTH_PIN))
    session.read_certificate(jpki.CertificateKind.AUTH)
    text = caplog.text
    assert "C: 00 A4 04 0C Lc=0A D3 92 F0 00 26 01 00 00 00 01" in text
    assert "C: 00 20 00 80 <pin>" in text
    assert "R: 256 bytes SW=9000" in text
    assert AUTH_PIN not in text
    assert "30 82" not in text  # no certificate bytes
