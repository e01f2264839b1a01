"""A minimal DER reader (X.690 §8.1, §10) for the few places where walking the bytes is much faster than
building one Python object per element: the revokedCertificates list of a large CRL, the subjectPublicKey
BIT STRING hashed into OCSP CertIDs, and the few certificate fields the per-login revocation check needs
(:mod:`keys.x509.rawcert`).

It reads only what the callers need: single-byte tags and definite lengths of at most four length
octets. Callers run it on input that pyca/cryptography has already parsed as DER, and it still checks
every bound: anything unexpected raises :class:`~keys.errors.MalformedInput`.
"""

from __future__ import annotations

import datetime as dt

from keys.errors import MalformedInput, Reason

SEQUENCE = 0x30
INTEGER = 0x02
BOOLEAN = 0x01
OCTET_STRING = 0x04
BIT_STRING = 0x03
ENUMERATED = 0x0A
OBJECT_IDENTIFIER = 0x06
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18


def read_tlv(data: bytes, offset: int, end: int) -> tuple[int, int, int]:
    """Read the element at ``offset`` (which must end by ``end``): ``(tag, content_start, content_end)``.

    The short form and the one- and two-octet long forms (every element of a certificate, and of a CRL entry)
    are read in place; longer lengths (up to four octets) through ``int.from_bytes``."""
    if offset + 2 > end:
        raise MalformedInput(Reason.MALFORMED, "DER element truncated")
    tag = data[offset]
    length = data[offset + 1]
    if length < 0x80:
        start = offset + 2
    elif length == 0x81 and offset + 3 <= end:
        start, length = offset + 3, data[offset + 2]
    elif length == 0x82 and offset + 4 <= end:
        start, length = offset + 4, data[offset + 2] << 8 | data[offset + 3]
    else:
        count, start = length & 0x7F, offset + 2
        if not 1 <= count <= 4 or start + count > end:
            raise MalformedInput(Reason.MALFORMED, "DER length is indefinite or too long")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    stop = start + length
    if tag & 0x1F == 0x1F:
        raise MalformedInput(Reason.MALFORMED, "DER high-tag-number form is not expected here")
    if stop > end:
        raise MalformedInput(Reason.MALFORMED, "DER element overruns its container")
    return tag, start, stop


def expect(data: bytes, offset: int, end: int, tag: int, what: str) -> tuple[int, int]:
    """Read an element that must carry ``tag``: ``(content_start, content_end)``."""
    found, start, stop = read_tlv(data, offset, end)
    if found != tag:
        raise MalformedInput(Reason.MALFORMED, f"{what}: expected tag 0x{tag:02x}, found 0x{found:02x}")
    return start, stop


def decode_time(tag: int, value: bytes) -> dt.datetime:
    """RFC 5280 §4.1.2.5: UTCTime ``YYMMDDHHMMSSZ`` (years 1950–2049) or GeneralizedTime ``YYYYMMDDHHMMSSZ``."""
    text = value.decode("ascii", "replace")
    if tag == UTC_TIME and len(text) == 13:
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != GENERALIZED_TIME or len(text) != 15:
        raise MalformedInput(Reason.MALFORMED, "time is not a UTCTime or GeneralizedTime in Zulu form")
    if not text[:14].isdigit() or text[14] != "Z":
        raise MalformedInput(Reason.MALFORMED, "time is not a UTCTime or GeneralizedTime in Zulu form")
    try:
        return dt.datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    except ValueError:
        raise MalformedInput(Reason.MALFORMED, "time has an impossible date") from None


def subject_public_key_bits(spki: bytes) -> bytes:
    """The subjectPublicKey BIT STRING value (without the unused-bits octet) of a SubjectPublicKeyInfo,
    the input of an OCSP issuerKeyHash (RFC 6960 §4.1.1)."""
    start, stop = expect(spki, 0, len(spki), SEQUENCE, "SubjectPublicKeyInfo")
    _, _, after_algorithm = read_tlv(spki, start, stop)
    bits_start, bits_stop = expect(spki, after_algorithm, stop, BIT_STRING, "subjectPublicKey")
    if bits_stop == bits_start or spki[bits_start] != 0:
        raise MalformedInput(Reason.MALFORMED, "subjectPublicKey has unused bits")
    return spki[bits_start + 1 : bits_stop]
