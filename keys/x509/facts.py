"""The 4 basic facts (基本4情報) in a JPKI signing certificate's subjectAltName.

Each entry is ``otherName [0] { type-id OID, value [0] EXPLICIT UTF8String }`` (checked on a real
certificate; jpki-card-and-certs.md §2.3):

=========================  =====================================================================
``1.2.392.200149.8.5.5.1``  氏名 name; surname and given name separated by U+3000
``1.2.392.200149.8.5.5.2``  氏名代替文字の使用位置情報: one digit per name character (0 original, 1 substitute)
``1.2.392.200149.8.5.5.3``  性別 sex: ``1`` male, ``2`` female, ``3`` unknown
``1.2.392.200149.8.5.5.4``  生年月日 ``EYYYYMMDD``: era digit then the **Gregorian** date; zeros for unknown parts
``1.2.392.200149.8.5.5.5``  住所 address, from the prefecture, at most 200 characters
``1.2.392.200149.8.5.5.6``  住所代替文字の使用位置情報: one digit per address character
=========================  =====================================================================

Values are kept exactly as read (``*_raw``) next to their decoded forms, so that a consumer can detect
外字 substitution. Nothing here is ever logged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from keys.errors import Reason, UntrustedCertificate

NAME_OID = ObjectIdentifier("1.2.392.200149.8.5.5.1")
NAME_SUBSTITUTION_OID = ObjectIdentifier("1.2.392.200149.8.5.5.2")
SEX_OID = ObjectIdentifier("1.2.392.200149.8.5.5.3")
BIRTH_DATE_OID = ObjectIdentifier("1.2.392.200149.8.5.5.4")
ADDRESS_OID = ObjectIdentifier("1.2.392.200149.8.5.5.5")
ADDRESS_SUBSTITUTION_OID = ObjectIdentifier("1.2.392.200149.8.5.5.6")

FACT_OIDS = (NAME_OID, NAME_SUBSTITUTION_OID, SEX_OID, BIRTH_DATE_OID, ADDRESS_OID, ADDRESS_SUBSTITUTION_OID)

MAX_NAME_CHARS = 100
MAX_ADDRESS_CHARS = 200
_UTF8STRING_TAG = 0x0C


class Sex(StrEnum):
    """性別 as coded in the certificate."""

    MALE = "1"
    FEMALE = "2"
    UNKNOWN = "3"


class Era(IntEnum):
    """The era digit that precedes the Gregorian birth date."""

    UNKNOWN = 0
    MEIJI = 1
    TAISHO = 2
    SHOWA = 3
    HEISEI = 4
    REIWA = 5


@dataclass(frozen=True, slots=True)
class BasicFacts:
    """The decoded 4 basic facts. Personal data: never log, minimise, release per claim with consent."""

    name: str
    name_substitution: str
    sex: Sex
    birth_era: Era
    #: ISO 8601 date, or ``YYYY-MM`` / ``YYYY`` when the certificate gives zeros for unknown parts.
    birth_date: str
    address: str
    address_substitution: str
    birth_date_raw: str

    @property
    def name_has_substitutes(self) -> bool:
        """True when at least one character of the name is a 代替文字."""
        return "1" in self.name_substitution

    @property
    def address_has_substitutes(self) -> bool:
        """True when at least one character of the address is a 代替文字."""
        return "1" in self.address_substitution

    def __repr__(self) -> str:  # personal data stays out of reprs and tracebacks
        return "BasicFacts(<redacted>)"


def _bad(detail: str) -> UntrustedCertificate:
    return UntrustedCertificate(Reason.BAD_FACTS, detail)


def utf8string_value(other: x509.OtherName) -> str:
    """Decode an otherName value that must be exactly one DER UTF8String."""
    der = other.value
    if len(der) < 2 or der[0] != _UTF8STRING_TAG:
        raise _bad(f"{other.type_id.dotted_string}: value is not a UTF8String")
    length = der[1]
    offset = 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 2 or len(der) < 2 + n:
            raise _bad(f"{other.type_id.dotted_string}: bad length encoding")
        length = int.from_bytes(der[2 : 2 + n], "big")
        if length < 0x80 or (n == 2 and length < 0x100):
            raise _bad(f"{other.type_id.dotted_string}: non-minimal length")
        offset = 2 + n
    if offset + length != len(der):
        raise _bad(f"{other.type_id.dotted_string}: length does not match the value")
    try:
        return der[offset:].decode("utf-8")
    except UnicodeDecodeError:
        raise _bad(f"{other.type_id.dotted_string}: not valid UTF-8") from None


def _flags(value: str, against: str, what: str) -> str:
    if len(value) != len(against) or any(c not in "01" for c in value):
        raise _bad(f"{what}: must be one 0/1 digit per character ({len(value)} for {len(against)})")
    return value


def decode_birth_date(raw: str) -> tuple[Era, str]:
    """Decode ``EYYYYMMDD`` into the era and an ISO date (``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``)."""
    if len(raw) != 9 or not raw.isascii() or not raw.isdigit():
        raise _bad("birth date: expected 9 ASCII digits EYYYYMMDD")
    try:
        era = Era(int(raw[0]))
    except ValueError:
        raise _bad("birth date: unknown era digit") from None
    year, month, day = int(raw[1:5]), int(raw[5:7]), int(raw[7:9])
    if year == 0:
        raise _bad("birth date: year is zero")
    if month == 0:
        if day != 0:
            raise _bad("birth date: day given without month")
        return era, f"{year:04d}"
    if day == 0:
        if not 1 <= month <= 12:
            raise _bad("birth date: month out of range")
        return era, f"{year:04d}-{month:02d}"
    try:
        return era, dt.date(year, month, day).isoformat()
    except ValueError:
        raise _bad("birth date: not a calendar date") from None


def decode_basic_facts(cert: x509.Certificate) -> BasicFacts:
    """Decode the six JPKI otherNames of a signing certificate, or raise ``BAD_FACTS``.

    Each of the six OIDs must appear exactly once; other SAN entries are refused (the profile has none).
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise _bad("no subjectAltName: not a signing certificate") from None
    values: dict[ObjectIdentifier, str] = {}
    for general_name in san:
        if not isinstance(general_name, x509.OtherName):
            raise _bad(f"unexpected subjectAltName entry {type(general_name).__name__}")
        if general_name.type_id not in FACT_OIDS:
            raise _bad(f"unknown otherName {general_name.type_id.dotted_string}")
        if general_name.type_id in values:
            raise _bad(f"duplicate otherName {general_name.type_id.dotted_string}")
        values[general_name.type_id] = utf8string_value(general_name)
    missing = [o.dotted_string for o in FACT_OIDS if o not in values]
    if missing:
        raise _bad(f"missing otherNames {', '.join(missing)}")

    name, address = values[NAME_OID], values[ADDRESS_OID]
    if not name or len(name) > MAX_NAME_CHARS:
        raise _bad("name: empty or too long")
    if not address or len(address) > MAX_ADDRESS_CHARS:
        raise _bad("address: empty or longer than 200 characters")
    try:
        sex = Sex(values[SEX_OID])
    except ValueError:
        raise _bad("sex: expected 1, 2 or 3") from None
    era, birth_date = decode_birth_date(values[BIRTH_DATE_OID])
    return BasicFacts(
        name=name,
        name_substitution=_flags(values[NAME_SUBSTITUTION_OID], name, "name substitution flags"),
        sex=sex,
        birth_era=era,
        birth_date=birth_date,
        address=address,
        address_substitution=_flags(values[ADDRESS_SUBSTITUTION_OID], address, "address substitution flags"),
        birth_date_raw=values[BIRTH_DATE_OID],
    )
