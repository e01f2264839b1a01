"""The virtual JPKI card: a pure APDU state machine that behaves like the JPKI application of a My Number
card as far as jpki-card-and-certs.md §1 and pcsc-virtual-card.md ("What the emulator implements") describe.

* ATR ``3B E0 00 FF 81 31 FE 45 14`` (the one OpenSC's ``jpki`` driver lists).
* SELECT by name: the JPKI AID → 9000, any other AID → 6A82 (the card holds no other AP here, and
  OpenSC probes many). SELECT EF (P1=02) only inside the AP; unknown FIDs → 6A82; SELECT MF → 6A86.
* READ BINARY with a 15-bit offset; fewer bytes than Le at the end of a file; 6B00 past the end; 6982
  on the signing certificate until the signing password is verified — and, when EF 0006 says
  ``JPKIAPGPSETOKEN`` (the Android smartphone token), on the authentication certificate until the
  authentication PIN is verified (:func:`protected_files`); 6981 on PIN and key EFs.
  Certificate EFs are padded past the DER (as on real cards), so readers must trim.
* VERIFY ``00 20 00 80``: empty → 63Cx (63C0 when blocked, so OpenSC's init still works) or 9000 when
  verified; with data → 9000 (counter back to its maximum), 63Cx, 63C0 on the attempt that blocks, 6984
  once blocked. Counter changes are handed to a :class:`CounterStore` *before* the answer, like a card
  writing its EEPROM before it replies; the counters survive power cycles and emulator restarts.
* COMPUTE DIGITAL SIGNATURE ``80 2A 00 80``: RSA over ``00 01 FF.. 00 || data`` with the selected key,
  after its PIN; without Le the signature waits behind ``6100`` for GET RESPONSE; a short Le gets ``6C00``.
* Unknown INS → 6D00, unknown CLA → 6E00. Power on/off and reset clear the volatile state (selected
  AP/EF, verified PINs).

:class:`Fault` selects a deliberately broken behaviour for tests of the reader's error handling.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from cardreader.apdu import SW, Command
from cardreader.jpki import EF, JPKI_AID, TOKEN_LABEL_LENGTH, CertificateKind, Key, parse_token_info
from keys.signatures import SHA256_DIGEST_INFO_PREFIX

ATR = bytes.fromhex("3BE000FF8131FE4514")
#: Certificate EFs are padded to at least this size (real EFs are larger than their certificates).
CERTIFICATE_EF_SIZE = 2048
#: The header the BAD_DER_LENGTH fault writes over each certificate (a SEQUENCE of 0x7FF0 bytes).
BAD_DER_HEADER = bytes.fromhex("30827FF0")
#: What the GARBAGE_SW fault answers instead of a status word.
GARBAGE_SW = bytes.fromhex("1234")

_SW_NO_CURRENT_EF = 0x6986
_SW_INCOMPATIBLE_FILE = 0x6981
_SW_REFERENCE_NOT_FOUND = 0x6A88
_SW_FUNCTION_NOT_SUPPORTED = 0x6A81

#: DigestInfo prefixes (RFC 8017 §9.2 note 1) the card can hand to OpenSSL's prehashed signing; any
#: other payload goes through the textbook RSA path (same result, slower).
_DIGEST_INFO_PREFIXES: dict[bytes, hashes.HashAlgorithm] = {
    bytes.fromhex("302d300d06096086480165030402040500041c"): hashes.SHA224(),
    SHA256_DIGEST_INFO_PREFIX: hashes.SHA256(),
    bytes.fromhex("3041300d060960864801650304020205000430"): hashes.SHA384(),
    bytes.fromhex("3051300d060960864801650304020305000440"): hashes.SHA512(),
}


class Fault(StrEnum):
    """Deliberately broken behaviours (for tests of the reader, never for demos)."""

    #: READ BINARY answers half the bytes asked for, with 9000.
    SHORT_DATA = "short-data"
    #: Certificate EFs start with a DER header claiming 0x7FF0 bytes.
    BAD_DER_LENGTH = "bad-der-length"
    #: READ BINARY answers end in ``12 34``, which is not a status word.
    GARBAGE_SW = "garbage-sw"
    #: COMPUTE DIGITAL SIGNATURE is never answered (handled by :mod:`.vpcd`).
    MUTE = "mute"
    #: The card leaves the reader when COMPUTE DIGITAL SIGNATURE arrives (handled by :mod:`.vpcd`).
    PULL_ON_SIGN = "pull-on-sign"


@dataclass(frozen=True)
class PinReference:
    """A PIN EF: its reference data and the counter maximum."""

    secret: bytes = field(repr=False)
    max_tries: int


@dataclass(frozen=True)
class CardContent:
    """What a card holds: transparent EFs, PIN references and private keys, all by FID."""

    files: Mapping[int, bytes]
    pins: Mapping[int, PinReference]
    #: key EF → (private key, the PIN EF that unlocks it)
    keys: Mapping[int, tuple[rsa.RSAPrivateKey, int]]
    #: transparent EF → the PIN EF that must be verified before reading it
    protected: Mapping[int, int]

    @classmethod
    def jpki(
        cls,
        *,
        token_label: str,
        auth_pin: str,
        auth_key: rsa.RSAPrivateKey,
        auth_certificate: bytes,
        auth_ca: bytes,
        sign_ca: bytes,
        sign_password: str | None = None,
        sign_key: rsa.RSAPrivateKey | None = None,
        sign_certificate: bytes | None = None,
        fault: Fault | None = None,
    ) -> CardContent:
        """The JPKI AP's files. Without a signing pair the card has no 0001/001A/001B and EF 0008 says so."""
        certificates: dict[int, bytes] = {
            EF.AUTH_CERTIFICATE: auth_certificate, EF.AUTH_CA: auth_ca, EF.SIGN_CA: sign_ca
        }
        pins: dict[int, PinReference] = {EF.AUTH_PIN: PinReference(auth_pin.encode("ascii"), Key.AUTH.max_tries)}
        keys: dict[int, tuple[rsa.RSAPrivateKey, int]] = {EF.AUTH_KEY: (auth_key, EF.AUTH_PIN)}
        if sign_key is not None and sign_certificate is not None and sign_password is not None:
            certificates[EF.SIGN_CERTIFICATE] = sign_certificate
            pins[EF.SIGN_PIN] = PinReference(sign_password.upper().encode("ascii"), Key.SIGN.max_tries)
            keys[EF.SIGN_KEY] = (sign_key, EF.SIGN_PIN)
        has_sign = EF.SIGN_KEY in keys
        files: dict[int, bytes] = {ef: _certificate_file(der, fault) for ef, der in certificates.items()}
        files[EF.TOKEN_INFO] = token_info(token_label)
        files[EF.CERTIFICATES_PRESENT] = bytes([0x8F if has_sign else 0x00, 0x8F, 0x00])
        return cls(files, pins, keys, protected_files(token_label))


def protected_files(token_label: str) -> dict[int, int]:
    """The certificate EFs the token with ``token_label`` guards, and the PIN EF each needs: the access rules
    of :meth:`cardreader.jpki.TokenType.certificate_pin` (Android guards 000A too; the iPhone token is given
    the card's rules, which no public source confirms or refutes)."""
    token = parse_token_info(token_info(token_label)[:TOKEN_LABEL_LENGTH]).type
    protected: dict[int, int] = {}
    for kind in (CertificateKind.AUTH, CertificateKind.SIGN):
        pin = token.certificate_pin(kind)
        if pin is not None:
            protected[kind.ef] = pin.pin_ef
    return protected


def token_info(label: str) -> bytes:
    """A 160-byte PKCS#11 CK_TOKEN_INFO with big-endian 32-bit ULONGs, as in EF 0006 (§1.2)."""

    def text(value: str, size: int) -> bytes:
        return value.encode("ascii")[:size].ljust(size, b" ")

    ulongs = [
        0x0000040D,  # flags: RNG | LOGIN_REQUIRED | USER_PIN_INITIALIZED | TOKEN_INITIALIZED
        0, 0, 0, 0,  # session counts
        16, 4,  # max / min PIN length
        0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF,  # memory: unavailable
    ]
    body = text(label, 32) + text("mynacard-id virtual card", 32) + text("JPKI-TEST", 16) + text("0001", 16)
    body += b"".join(v.to_bytes(4, "big") for v in ulongs) + b"0301" + bytes(16)
    assert len(body) == 160
    return body


def _certificate_file(der: bytes, fault: Fault | None) -> bytes:
    if fault is Fault.BAD_DER_LENGTH:
        der = BAD_DER_HEADER + der[4:]
    size = max(CERTIFICATE_EF_SIZE, -(-(len(der) + 1) // 256) * 256)
    return der.ljust(size, b"\xff")


class CounterStore(Protocol):
    """Where a card keeps its PIN retry counters (a state file for the emulator)."""

    def save(self, counters: Mapping[int, int]) -> None:
        """Persist the counters (PIN EF → tries left) before the card answers."""
        ...


def _sw(sw: int, data: bytes = b"") -> bytes:
    return data + sw.to_bytes(2, "big")


class VirtualCard:
    """The card. It is a :class:`~cardreader.apdu.Transport` (``transmit``) and has an ATR."""

    atr = ATR

    def __init__(
        self,
        content: CardContent,
        *,
        counters: Mapping[int, int] | None = None,
        store: CounterStore | None = None,
        fault: Fault | None = None,
    ) -> None:
        self.content = content
        self.fault = fault
        self._store = store
        self.counters: dict[int, int] = {ef: ref.max_tries for ef, ref in content.pins.items()}
        for ef, tries in (counters or {}).items():
            if ef in self.counters:
                self.counters[ef] = max(0, min(tries, content.pins[ef].max_tries))
        self.reset()

    def reset(self) -> None:
        """Power on/off or warm reset: forget the selection, the verified PINs and pending data."""
        self._in_ap = False
        self._current: int | None = None
        self._verified: set[int] = set()
        self._pending = b""

    def transmit(self, apdu: bytes | bytearray) -> bytes:
        """Process one command APDU and return the response APDU."""
        try:
            command = Command.decode(apdu)
        except ValueError:
            return _sw(SW.WRONG_LENGTH)
        pending, self._pending = self._pending, b""
        if command.cla not in (0x00, 0x80):
            return _sw(SW.CLA_NOT_SUPPORTED)
        if (command.cla, command.ins) == (0x00, 0xC0):
            return self._get_response(command, pending)
        handler = _HANDLERS.get((command.cla, command.ins))
        if handler is None:
            return _sw(SW.INS_NOT_SUPPORTED)
        return handler(self, command)

    # -- commands --------------------------------------------------------------------------------------

    def _select(self, command: Command) -> bytes:
        if command.p1 == 0x04:
            if bytes(command.data) != JPKI_AID:
                return _sw(SW.FILE_NOT_FOUND)
            self._in_ap, self._current = True, None
            return _sw(SW.OK)
        if command.p1 != 0x02:
            return _sw(SW.INCORRECT_P1P2)
        if len(command.data) != 2:
            return _sw(SW.WRONG_LENGTH)
        fid = int.from_bytes(command.data, "big")
        known = fid in self.content.files or fid in self.content.pins or fid in self.content.keys
        if not self._in_ap or not known:
            return _sw(SW.FILE_NOT_FOUND)
        self._current = fid
        return _sw(SW.OK)

    def _read_binary(self, command: Command) -> bytes:
        if command.p1 & 0x80:
            return _sw(_SW_FUNCTION_NOT_SUPPORTED)
        if command.le is None:
            return _sw(SW.WRONG_LENGTH)
        if self._current is None:
            return _sw(_SW_NO_CURRENT_EF)
        content = self.content.files.get(self._current)
        if content is None:
            return _sw(_SW_INCOMPATIBLE_FILE)
        required = self.content.protected.get(self._current)
        if required is not None and required not in self._verified:
            return _sw(SW.SECURITY_STATUS_NOT_SATISFIED)
        offset = command.p1 << 8 | command.p2
        if offset >= len(content):
            return _sw(SW.WRONG_P1P2)
        data = content[offset : offset + command.le]
        if self.fault is Fault.SHORT_DATA:
            data = data[: max(1, len(data) // 2)]
        if self.fault is Fault.GARBAGE_SW:
            return data + GARBAGE_SW
        return _sw(SW.OK, data)

    def _verify(self, command: Command) -> bytes:
        if command.p1 != 0x00 or command.p2 != 0x80:
            return _sw(SW.INCORRECT_P1P2)
        reference = self.content.pins.get(self._current) if self._current is not None else None
        if reference is None or self._current is None:
            return _sw(_SW_REFERENCE_NOT_FOUND)
        ef, tries = self._current, self.counters[self._current]
        if not command.data:
            if tries and ef in self._verified:
                return _sw(SW.OK)
            return _sw(0x63C0 | tries)
        if tries == 0:
            return _sw(SW.REFERENCE_DATA_NOT_USABLE)
        if hmac.compare_digest(bytes(command.data), reference.secret):
            self._set_counter(ef, reference.max_tries)
            self._verified.add(ef)
            return _sw(SW.OK)
        self._verified.discard(ef)
        self._set_counter(ef, tries - 1)
        return _sw(0x63C0 | (tries - 1))

    def _compute_signature(self, command: Command) -> bytes:
        if command.p1 != 0x00 or command.p2 != 0x80:
            return _sw(SW.INCORRECT_P1P2)
        entry = self.content.keys.get(self._current) if self._current is not None else None
        if entry is None:
            return _sw(SW.CONDITIONS_NOT_SATISFIED)
        key, pin_ef = entry
        if pin_ef not in self._verified:
            return _sw(SW.SECURITY_STATUS_NOT_SATISFIED)
        size = (key.key_size + 7) // 8
        if not 1 <= len(command.data) <= size - 11:
            return _sw(SW.WRONG_LENGTH)
        signature = rsa_pkcs1_sign(key, bytes(command.data))
        if command.le is None:
            self._pending = signature
            return _sw(0x6100 | (len(signature) & 0xFF))
        if command.le < len(signature):
            return _sw(0x6C00 | (len(signature) & 0xFF))
        return _sw(SW.OK, signature)

    def _get_response(self, command: Command, pending: bytes) -> bytes:
        if not pending:
            return _sw(SW.CONDITIONS_NOT_SATISFIED)
        length = command.le or 256
        data, self._pending = pending[:length], pending[length:]
        if self._pending:
            return _sw(0x6100 | (min(len(self._pending), 256) & 0xFF), data)
        return _sw(SW.OK, data)

    def _set_counter(self, ef: int, tries: int) -> None:
        if self.counters[ef] == tries:
            return
        self.counters[ef] = tries
        if self._store is not None:
            self._store.save(dict(self.counters))


_HANDLERS = {
    (0x00, 0xA4): VirtualCard._select,
    (0x00, 0xB0): VirtualCard._read_binary,
    (0x00, 0x20): VirtualCard._verify,
    (0x80, 0x2A): VirtualCard._compute_signature,
}


def rsa_pkcs1_sign(key: rsa.RSAPrivateKey, payload: bytes) -> bytes:
    """RSASSA-PKCS1-v1_5 with the card's padding: ``(00 01 FF.. 00 || payload)^d mod n`` (RFC 8017 §8.2.1,
    with the DigestInfo supplied by the host). Known DigestInfos go through OpenSSL's prehashed signing,
    which computes the same value faster; anything else through CRT exponentiation."""
    for prefix, algorithm in _DIGEST_INFO_PREFIXES.items():
        if payload.startswith(prefix) and len(payload) == len(prefix) + algorithm.digest_size:
            return key.sign(payload[len(prefix) :], padding.PKCS1v15(), utils.Prehashed(algorithm))
    return rsa_pkcs1_sign_textbook(key, payload)


def rsa_pkcs1_sign_textbook(key: rsa.RSAPrivateKey, payload: bytes) -> bytes:
    """The same signature computed with Python integers (CRT), for payloads that are not a DigestInfo."""
    numbers = key.private_numbers()
    size = (key.key_size + 7) // 8
    encoded = b"\x00\x01" + b"\xff" * (size - len(payload) - 3) + b"\x00" + payload
    m = int.from_bytes(encoded, "big")
    m1 = pow(m, numbers.dmp1, numbers.p)
    m2 = pow(m, numbers.dmq1, numbers.q)
    s = m2 + numbers.q * ((numbers.iqmp * (m1 - m2)) % numbers.p)
    return s.to_bytes(size, "big")


__all__ = ["ATR", "CardContent", "CounterStore", "Fault", "PinReference", "VirtualCard", "rsa_pkcs1_sign"]
