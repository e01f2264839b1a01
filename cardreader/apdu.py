"""Short APDUs (ISO/IEC 7816-4 §5.1): encoding of the four command cases, response parsing, status words,
and a transport-agnostic :func:`transceive` that handles ``61xx`` (GET RESPONSE) and ``6Cxx`` (re-send with
the right Le) as jpki-card-and-certs.md §1.3 describes.

Pure: no I/O here. A :class:`Transport` is anything with ``transmit(apdu) -> response``; the PC/SC
transport (:mod:`cardreader.pcsc`) and the virtual card (:mod:`cardreader.virtual.card`) both fit.

Traces go to the ``cardreader.apdu`` logger at DEBUG. They never contain reference data (VERIFY,
CHANGE REFERENCE DATA, RESET RETRY COUNTER: the data field is masked, its length too) nor response data
(the signing certificate carries personal data): responses are traced as length and status word only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from cardreader.errors import MalformedResponse

log = logging.getLogger("cardreader.apdu")

#: INS codes whose data field is reference data (a PIN): ISO 7816-4 VERIFY, CHANGE REFERENCE DATA,
#: RESET RETRY COUNTER.
SENSITIVE_INS = frozenset({0x20, 0x24, 0x2C})
INS_GET_RESPONSE = 0xC0
#: Upper bound on a response assembled from 61xx chains (defensive: a card cannot make us loop).
MAX_CHAINED_RESPONSE = 64 * 1024


class SW(IntEnum):
    """Status words the JPKI layer distinguishes (jpki-card-and-certs.md §1.6)."""

    OK = 0x9000
    WRONG_LENGTH = 0x6700
    SECURITY_STATUS_NOT_SATISFIED = 0x6982
    AUTH_METHOD_BLOCKED = 0x6983
    REFERENCE_DATA_NOT_USABLE = 0x6984
    CONDITIONS_NOT_SATISFIED = 0x6985
    FILE_NOT_FOUND = 0x6A82
    INCORRECT_P1P2 = 0x6A86
    WRONG_P1P2 = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00


#: SW1 values that name a family: ``61xx`` xx bytes available, ``63Cx`` counter, ``6Cxx`` wrong Le.
SW1_BYTES_AVAILABLE = 0x61
SW1_WARNING = 0x63
SW1_WRONG_LE = 0x6C


def counter_of(sw: int) -> int | None:
    """The retry counter x of a ``63Cx`` status word, or ``None`` for any other word."""
    if sw >> 8 == SW1_WARNING and sw & 0xF0 == 0xC0:
        return sw & 0x0F
    return None


@dataclass(frozen=True, slots=True)
class Command:
    """A short command APDU. ``le`` is the expected response length 1..256 (256 is encoded ``00``), or
    ``None`` when no response data is expected. ``data`` may be a ``bytearray`` so that the caller can wipe
    reference data after the exchange.
    """

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes | bytearray = b""
    le: int | None = None

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            if not 0 <= getattr(self, name) <= 0xFF:
                raise ValueError(f"{name} out of range")
        if len(self.data) > 255:
            raise ValueError("short APDUs carry at most 255 data bytes")
        if self.le is not None and not 1 <= self.le <= 256:
            raise ValueError("Le must be 1..256")

    @property
    def sensitive(self) -> bool:
        """True when the data field is reference data (a PIN) and must never be traced or kept."""
        return self.ins in SENSITIVE_INS and len(self.data) > 0

    def encode(self) -> bytearray:
        """The APDU bytes (case 1: header; 2: +Le; 3: +Lc data; 4: +Lc data Le)."""
        out = bytearray((self.cla, self.ins, self.p1, self.p2))
        if self.data:
            out.append(len(self.data))
            out += self.data
        if self.le is not None:
            out.append(self.le & 0xFF)
        return out

    @classmethod
    def decode(cls, raw: bytes | bytearray) -> Command:
        """Parse a short command APDU (the card side). Extended length is refused with ``ValueError``."""
        if len(raw) < 4:
            raise ValueError("a command APDU has at least 4 bytes")
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, le=body[0] or 256)
        lc = body[0]
        if lc == 0:
            raise ValueError("extended-length APDUs are not supported")
        if len(body) == 1 + lc:
            return cls(cla, ins, p1, p2, bytes(body[1:]))
        if len(body) == 2 + lc:
            return cls(cla, ins, p1, p2, bytes(body[1:-1]), le=body[-1] or 256)
        raise ValueError("Lc does not match the APDU length")

    def with_le(self, le: int) -> Command:
        """The same command with another Le (for ``6Cxx``)."""
        return Command(self.cla, self.ins, self.p1, self.p2, self.data, le)

    def describe(self) -> str:
        """Trace text; reference data is replaced by ``<pin>`` (its length is not shown either)."""
        head = f"{self.cla:02X} {self.ins:02X} {self.p1:02X} {self.p2:02X}"
        if self.sensitive:
            body = " <pin>"
        elif self.data:
            body = f" Lc={len(self.data):02X} {bytes(self.data).hex(' ').upper()}"
        else:
            body = ""
        le = "" if self.le is None else f" Le={self.le & 0xFF:02X}"
        return head + body + le

    def __repr__(self) -> str:
        return f"Command({self.describe()})"


@dataclass(frozen=True, slots=True)
class Response:
    """A response APDU: data and the status word."""

    data: bytes
    sw: int

    @classmethod
    def parse(cls, raw: bytes) -> Response:
        """Split ``raw`` into data and SW1-SW2; fewer than two bytes is :class:`MalformedResponse`."""
        if len(raw) < 2:
            raise MalformedResponse(f"response of {len(raw)} bytes has no status word")
        sw = int.from_bytes(raw[-2:], "big")
        if not (0x61 <= sw >> 8 <= 0x6F or 0x90 <= sw >> 8 <= 0x9F):
            # ISO/IEC 7816-3 §10.3.3: SW1 is 6X (not 60) or 9X; anything else is not a status word.
            raise MalformedResponse(f"{sw:04X} is not a status word", sw=sw)
        return cls(bytes(raw[:-2]), sw)

    @property
    def ok(self) -> bool:
        """True for ``9000``."""
        return self.sw == SW.OK

    @property
    def sw1(self) -> int:
        """The first status byte."""
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        """The second status byte."""
        return self.sw & 0xFF

    def describe(self) -> str:
        """Trace text: length and status word only (response data may be personal data)."""
        return f"{len(self.data)} bytes SW={self.sw:04X}"


class Transport(Protocol):
    """Anything that exchanges one APDU: the PC/SC connection, the virtual card, a test double."""

    def transmit(self, apdu: bytes | bytearray) -> bytes:
        """Send one command APDU, return the raw response APDU (data + SW1 SW2)."""
        ...


def transceive(transport: Transport, command: Command) -> Response:
    """Exchange ``command``, following ``6Cxx`` once and ``61xx`` chains (ISO 7816-4 §5.3.4 / T=0 rules
    that CCID readers may pass through). A response with more data than Le asked for is malformed.
    """
    response = _exchange(transport, command)
    if response.sw1 == SW1_WRONG_LE:
        command = command.with_le(response.sw2 or 256)
        response = _exchange(transport, command)
        if response.sw1 == SW1_WRONG_LE:
            raise MalformedResponse("the card asked twice for another Le", sw=response.sw)
    expected = command.le or 0
    if len(response.data) > expected:
        raise MalformedResponse(f"{len(response.data)} data bytes where at most {expected} were expected")
    data = bytearray(response.data)
    while response.sw1 == SW1_BYTES_AVAILABLE:
        response = _exchange(transport, Command(0x00, INS_GET_RESPONSE, 0x00, 0x00, le=response.sw2 or 256))
        data += response.data
        if len(data) > MAX_CHAINED_RESPONSE:
            raise MalformedResponse(f"chained response longer than {MAX_CHAINED_RESPONSE} bytes")
    return Response(bytes(data), response.sw)


def _exchange(transport: Transport, command: Command) -> Response:
    apdu = command.encode()
    if log.isEnabledFor(logging.DEBUG):
        log.debug("C: %s", command.describe())
    try:
        raw = transport.transmit(apdu)
    finally:
        if command.sensitive:
            apdu[:] = bytes(len(apdu))
    response = Response.parse(raw)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("R: %s", response.describe())
    return response


__all__ = [
    "MAX_CHAINED_RESPONSE",
    "SENSITIVE_INS",
    "SW",
    "Command",
    "Response",
    "Transport",
    "counter_of",
    "transceive",
]
