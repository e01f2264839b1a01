"""Strict base64url (RFC 7515 §2: RFC 4648 §5 without padding) and strict base64 for ``x5c`` (RFC 7515 §4.1.6).

Decoding accepts only the canonical encoding of some octet string: the URL-safe alphabet, no padding, no
whitespace, no impossible length, and zero unused trailing bits. Anything else would let two different strings
carry one value (and one signature; verification-hardening.md row 6).

:func:`b64url_decode_loose` is for the few peers outside JOSE that never had that rule (the card login's
challenge and evidence, a platform answer's nonce, KEKs in text): the URL-safe alphabet and a possible length
are still checked, unused trailing bits are tolerated. Standard padded base64 (PEM, HTTP Basic, ``x5c``)
is not base64url and stays with :mod:`base64`.

Usage::

    b64url_encode(b"\xfb\xff")                 # "-_8"
    b64url_decode("-_8", "nonce")              # b"\xfb\xff"; MalformedInput on anything non-canonical
    b64url_decode_loose("-_9")                 # b"\xfb\xff"; ValueError when not base64url at all
"""

from __future__ import annotations

import base64
import binascii
import re

from keys.errors import MalformedInput, Reason

_URLSAFE = bytes.maketrans(b"+/", b"-_")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
#: The last character of a canonical encoding whose length is 2 or 3 (mod 4): its unused low bits are zero
#: (4 bits: alphabet index a multiple of 16; 2 bits: a multiple of 4).
_CANONICAL_LAST = {2: frozenset("AQgw"), 3: frozenset("AEIMQUYcgkosw048")}


def b64url_encode(data: bytes) -> str:
    """base64url without padding."""
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").translate(_URLSAFE).decode("ascii")


def b64url_decode(value: object, what: str) -> bytes:
    """Decode canonical unpadded base64url, or raise :class:`MalformedInput` naming ``what``."""
    if not isinstance(value, str) or not _BASE64URL.fullmatch(value) or len(value) % 4 == 1:
        raise MalformedInput(Reason.MALFORMED, f"{what} is not base64url without padding")
    remainder = len(value) % 4
    if remainder and value[-1] not in _CANONICAL_LAST[remainder]:
        raise MalformedInput(Reason.MALFORMED, f"{what} has non-zero unused bits (non-canonical base64url)")
    return base64.urlsafe_b64decode(value + "=" * (4 - remainder if remainder else 0))


def b64url_decode_loose(value: str) -> bytes:
    """Decode unpadded base64url, tolerating non-zero unused trailing bits; raise :class:`ValueError` otherwise."""
    if not _BASE64URL.fullmatch(value) or len(value) % 4 == 1:
        raise ValueError("not base64url without padding")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def b64_decode(value: object, what: str) -> bytes:
    """Decode canonical padded base64 (RFC 4648 §4), as ``x5c`` entries are, or raise :class:`MalformedInput`."""
    if not isinstance(value, str) or not value.isascii():
        raise MalformedInput(Reason.MALFORMED, f"{what} is not base64")
    try:
        data = base64.b64decode(value, validate=True)
    except binascii.Error:
        raise MalformedInput(Reason.MALFORMED, f"{what} is not base64") from None
    if base64.b64encode(data).decode("ascii") != value:
        raise MalformedInput(Reason.MALFORMED, f"{what} is not canonical base64")
    return data
