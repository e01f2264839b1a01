"""The JPKI application (公的個人認証AP) of the My Number card, sans-I/O: identifiers, command builders and
response parsers. The flows that drive a transport are in :mod:`cardreader.session`.

Facts (jpki-card-and-certs.md §1):

* AID ``D3 92 F0 00 26 01 00 00 00 01``, selected by name with ``00 A4 04 0C`` (§1.1). No other
  application is ever selected: the other APs hold the 個人番号 (§1.7).
* Elementary files, selected with ``00 A4 02 0C 02 <FID>`` (§1.2): 0001 signing certificate (after the
  signing password), 0002 signing CA, 0006 token info, 0008 certificates present, 000A authentication
  certificate, 000B authentication CA, 0017/0018 authentication key/PIN, 001A/001B signing key/password.
* READ BINARY ``00 B0 P1 P2 Le`` with a 15-bit offset; certificates are trimmed to their DER length (§1.3).
* VERIFY ``00 20 00 80``: without data it answers ``63Cx`` (x tries left, none spent) or ``9000`` (already
  verified); with data ``9000``, ``63Cx``, ``63C0`` on the attempt that blocks, ``6983``/``6984`` afterwards
  (§1.4).
* COMPUTE DIGITAL SIGNATURE ``80 2A 00 80 Lc <DigestInfo> 00`` on the selected key EF (§1.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from cardreader.apdu import SW, Command, Response, counter_of
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

#: AID of the JPKI application (§1.1).
JPKI_AID = bytes.fromhex("D392F000260100000001")
#: READ BINARY chunk size: short APDUs with Le = 00 (§1.3).
CHUNK = 256
#: Largest READ BINARY offset (P1 bit 8 must stay 0).
MAX_OFFSET = 0x7FFF
#: Largest COMPUTE DIGITAL SIGNATURE payload for RSA-2048 with PKCS#1 v1.5 padding (k - 11, §1.5).
MAX_SIGNATURE_INPUT = 245


class EF(IntEnum):
    """File identifiers inside the JPKI application (§1.2)."""

    SIGN_CERTIFICATE = 0x0001
    SIGN_CA = 0x0002
    TOKEN_INFO = 0x0006
    CERTIFICATES_PRESENT = 0x0008
    AUTH_CERTIFICATE = 0x000A
    AUTH_CA = 0x000B
    AUTH_KEY = 0x0017
    AUTH_PIN = 0x0018
    SIGN_KEY = 0x001A
    SIGN_PIN = 0x001B


class Key(StrEnum):
    """The two key pairs: 利用者証明用 (authentication, 4-digit PIN, 3 tries) and 署名用 (signing,
    6-16 character password, 5 tries)."""

    AUTH = "auth"
    SIGN = "sign"

    @property
    def pin_ef(self) -> EF:
        """The PIN reference EF VERIFY runs against."""
        return EF.AUTH_PIN if self is Key.AUTH else EF.SIGN_PIN

    @property
    def key_ef(self) -> EF:
        """The private-key EF COMPUTE DIGITAL SIGNATURE runs on."""
        return EF.AUTH_KEY if self is Key.AUTH else EF.SIGN_KEY

    @property
    def certificate(self) -> CertificateKind:
        """The end-entity certificate of this key."""
        return CertificateKind.AUTH if self is Key.AUTH else CertificateKind.SIGN

    @property
    def max_tries(self) -> int:
        """The card's retry counter maximum (OpenSC jpki.h: 3 and 5)."""
        return 3 if self is Key.AUTH else 5


class CertificateKind(StrEnum):
    """The four certificates of the JPKI application."""

    AUTH = "auth"
    SIGN = "sign"
    AUTH_CA = "auth-ca"
    SIGN_CA = "sign-ca"

    @property
    def ef(self) -> EF:
        """The EF holding this certificate."""
        return _CERTIFICATE_EF[self]

    @property
    def required_pin(self) -> Key | None:
        """The PIN that must be verified before reading on the plastic card, if any (only the signing
        certificate); a smartphone token may need more: :meth:`TokenType.certificate_pin`."""
        return TokenType.CARD.certificate_pin(self)


_CERTIFICATE_EF = {
    CertificateKind.AUTH: EF.AUTH_CERTIFICATE,
    CertificateKind.SIGN: EF.SIGN_CERTIFICATE,
    CertificateKind.AUTH_CA: EF.AUTH_CA,
    CertificateKind.SIGN_CA: EF.SIGN_CA,
}


class TokenType(StrEnum):
    """What answers as the JPKI application, from the EF 0006 label (§1.2, §4), with its access rules.

    Which certificate needs which PIN before READ BINARY (:meth:`certificate_pin`):

    * card (``JPKIAPICCTOKEN2``): the signing certificate needs the signing password; the others are free.
      Confirmed by OpenSC (the certificate object is private), jpki/myna, siketyan/jpki-rs, soltia48/myna-card.
    * Android (``JPKIAPGPSETOKEN``, スマホ用電子証明書 in the phone's GP secure element): in addition the
      authentication certificate needs the authentication PIN. Confirmed by jpki/myna, which verifies 0018
      before reading 000A exactly when the label is ``JPKIAPGPSETOKEN`` (its Go ``jpki cert`` command and
      its Rust ``src/jpki.rs``/``src/cli.rs``, in every version since the token was added).
    * iPhone (``JPKIAPIOSTOKEN``, since 2025-06): no public source describes its access rules; the rules of
      the card are **assumed** (:attr:`rules_confirmed` is false). A reader must not trust an assumption with
      a PIN try, so the flows of :mod:`cardreader.session` read such a token's certificate first and only
      verify the PIN (which the operation needs anyway) when the token answers 6982.
    * anything else: as the iPhone (assumed card rules, same fallback).

    Not implemented: soltia48/myna-card sends iPhone tokens a "last command" indicator ``80 FC 00 00`` (a single
    source, unexplained; jpki-card-and-certs.md §4 rates it Low).
    """

    CARD = "card"
    ANDROID = "smartphone-android"
    IOS = "smartphone-ios"
    UNKNOWN = "unknown"

    @property
    def smartphone(self) -> bool:
        """True for a スマホ用電子証明書 (Android or iPhone) rather than the plastic card."""
        return self in (TokenType.ANDROID, TokenType.IOS)

    @property
    def rules_confirmed(self) -> bool:
        """Whether public sources confirm :meth:`certificate_pin` for this token (card and Android)."""
        return self in (TokenType.CARD, TokenType.ANDROID)

    def device(self) -> tuple[str, str]:
        """What the person holds, in English and Japanese, for prompts and pages: the card or the smartphone."""
        if self.smartphone:
            return "smartphone (smartphone certificate)", "スマートフォン（スマホ用電子証明書）"
        return "My Number card", "マイナンバーカード"

    def certificate_pin(self, kind: CertificateKind) -> Key | None:
        """The PIN that must be verified before ``kind`` can be read on this token, if any."""
        if kind is CertificateKind.SIGN:
            return Key.SIGN
        if kind is CertificateKind.AUTH and self is TokenType.ANDROID:
            return Key.AUTH
        return None


#: Label prefixes of EF 0006; physical cards say ``JPKIAPICCTOKEN2`` (some mocks ``JPKIAPICCTOKEN``).
TOKEN_LABELS = (
    ("JPKIAPICCTOKEN", TokenType.CARD),
    ("JPKIAPGPSETOKEN", TokenType.ANDROID),
    ("JPKIAPIOSTOKEN", TokenType.IOS),
)
#: The label is the first 32 bytes of the 160-byte CK_TOKEN_INFO in EF 0006.
TOKEN_LABEL_LENGTH = 32
#: EF 0008 holds exactly three bytes; a certificate is present when its byte is 8F.
CERTIFICATES_PRESENT_LENGTH = 3
CERTIFICATE_PRESENT = 0x8F


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """The token type and its raw label (trailing spaces removed)."""

    type: TokenType
    label: str


@dataclass(frozen=True, slots=True)
class CertificatesPresent:
    """EF 0008: byte 0 says signing certificate, byte 1 authentication certificate (8F = present)."""

    sign: bool
    auth: bool


@dataclass(frozen=True, slots=True)
class PinStatus:
    """Result of an empty VERIFY: tries left (``None`` when the card answered 9000: already verified)."""

    tries_left: int | None
    verified: bool = False

    @property
    def blocked(self) -> bool:
        """True when no try is left."""
        return self.tries_left == 0


# --- commands ---------------------------------------------------------------------------------------


def select_application() -> Command:
    """SELECT the JPKI AP by name, no FCI (``00 A4 04 0C 0A <AID>``)."""
    return Command(0x00, 0xA4, 0x04, 0x0C, JPKI_AID)


def select_file(ef: EF) -> Command:
    """SELECT an EF of the current AP by identifier, no FCI (``00 A4 02 0C 02 <FID>``)."""
    return Command(0x00, 0xA4, 0x02, 0x0C, ef.to_bytes(2, "big"))


def read_binary(offset: int, length: int) -> Command:
    """READ BINARY ``length`` (1..256) bytes at ``offset`` (0..7FFF) of the current EF."""
    if not 0 <= offset <= MAX_OFFSET:
        raise MalformedResponse(f"offset {offset} beyond READ BINARY's 15-bit range")
    return Command(0x00, 0xB0, offset >> 8, offset & 0xFF, le=length)


def verify(reference_data: bytearray | None = None) -> Command:
    """VERIFY against the current PIN EF: without data it asks for the tries left (no try spent)."""
    return Command(0x00, 0x20, 0x00, 0x80, reference_data if reference_data is not None else b"")


def compute_signature(digest_info: bytes) -> Command:
    """COMPUTE DIGITAL SIGNATURE with the selected key over a DigestInfo (the card pads, PKCS#1 v1.5); build
    the DigestInfo with :func:`keys.signatures.digest_info_sha256`."""
    if not 1 <= len(digest_info) <= MAX_SIGNATURE_INPUT:
        raise ValueError(f"signature input must be 1..{MAX_SIGNATURE_INPUT} bytes")
    return Command(0x80, 0x2A, 0x00, 0x80, digest_info, le=256)


# --- responses --------------------------------------------------------------------------------------

_STATUS_ERRORS: dict[int, type[CardError]] = {
    SW.SECURITY_STATUS_NOT_SATISFIED: SecurityStatusNotSatisfied,
    SW.AUTH_METHOD_BLOCKED: PinBlocked,
    SW.REFERENCE_DATA_NOT_USABLE: PinBlocked,
    SW.FILE_NOT_FOUND: FileNotFound,
    SW.WRONG_LENGTH: WrongLength,
}


def check(response: Response) -> bytes:
    """Return the data of a ``9000`` response, or raise the typed error of its status word (§1.6)."""
    if response.ok:
        return response.data
    tries = counter_of(response.sw)
    if tries is not None:
        raise PinBlocked(sw=response.sw) if tries == 0 else PinIncorrect(tries, sw=response.sw)
    error = _STATUS_ERRORS.get(response.sw, UnexpectedStatus)
    raise error(sw=response.sw)


def pin_status(response: Response) -> PinStatus:
    """Interpret the answer to an empty VERIFY: ``63Cx`` → x tries, ``9000`` → already verified,
    ``6983``/``6984`` → blocked; anything else raises its typed error."""
    tries = counter_of(response.sw)
    if tries is not None:
        return PinStatus(tries)
    if response.sw in (SW.AUTH_METHOD_BLOCKED, SW.REFERENCE_DATA_NOT_USABLE):
        return PinStatus(0)
    check(response)
    return PinStatus(None, verified=True)


def parse_token_info(label: bytes) -> TokenInfo:
    """Classify the first 32 bytes of EF 0006 (a space-padded PKCS#11 label) by prefix."""
    if len(label) != TOKEN_LABEL_LENGTH:
        raise MalformedResponse(f"token label is {len(label)} bytes, not {TOKEN_LABEL_LENGTH}")
    text = label.decode("ascii", errors="replace").rstrip(" \x00")
    for prefix, token_type in TOKEN_LABELS:
        if text.startswith(prefix):
            return TokenInfo(token_type, text)
    return TokenInfo(TokenType.UNKNOWN, text)


def parse_certificates_present(data: bytes) -> CertificatesPresent:
    """Parse EF 0008 (exactly three bytes, e.g. ``8F 8F 00`` for both certificates)."""
    if len(data) != CERTIFICATES_PRESENT_LENGTH:
        raise MalformedResponse(f"EF 0008 is {len(data)} bytes, not {CERTIFICATES_PRESENT_LENGTH}")
    return CertificatesPresent(sign=data[0] == CERTIFICATE_PRESENT, auth=data[1] == CERTIFICATE_PRESENT)


def certificate_length(prefix: bytes, limit: int) -> int:
    """Total length (header + contents) of the DER SEQUENCE that ``prefix`` starts, bounded by ``limit``.

    Only definite lengths of at most three length octets are DER for anything this small; a length
    beyond ``limit`` (the certificate size limit of :class:`keys.limits.Limits`) is malformed.
    """
    if len(prefix) < 2 or prefix[0] != 0x30:
        raise MalformedResponse("the file does not start with a DER SEQUENCE")
    first = prefix[1]
    if first < 0x80:
        header, body = 2, first
    else:
        count = first & 0x7F
        if not 1 <= count <= 3 or len(prefix) < 2 + count:
            raise MalformedResponse("unsupported or truncated DER length")
        header, body = 2 + count, int.from_bytes(prefix[2 : 2 + count], "big")
        if body < 0x80 or body >> (8 * (count - 1)) == 0:
            raise MalformedResponse("DER length not in its shortest form")
    total = header + body
    if total > limit:
        raise MalformedResponse(f"certificate length {total} exceeds the limit of {limit} bytes")
    return total


__all__ = [
    "CHUNK",
    "EF",
    "JPKI_AID",
    "CertificateKind",
    "CertificatesPresent",
    "Key",
    "PinStatus",
    "TokenInfo",
    "TokenType",
    "certificate_length",
    "check",
    "compute_signature",
    "parse_certificates_present",
    "parse_token_info",
    "pin_status",
    "read_binary",
    "select_application",
    "select_file",
    "verify",
]
