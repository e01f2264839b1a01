"""The Status List itself (draft-ietf-oauth-status-list §4): a byte array of 1, 2, 4 or 8-bit entries, compressed
with DEFLATE in the ZLIB format (RFC 1950/1951) and base64url-encoded in the JSON form ``{"bits", "lst"}``.

Entry ``i`` of a ``bits``-wide list lives in byte ``i * bits // 8`` at bit offset ``(i * bits) % 8``, counted from
the least significant bit (§4.1 step 3, §11.1). Compression uses the highest level (§4.1 step 4), which
reproduces the draft's test vectors byte for byte.

Decoding is bounded: at most ``limits.status_list_bytes`` are ever inflated (a zlib bomb is ``too_large``), the
stream must be one complete ZLIB stream with nothing after it, and ``bits`` must be 1, 2, 4 or 8.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from enum import IntEnum
from typing import Any

from credentials.errors import CredentialLimitExceeded, MalformedCredential, translated
from credentials.limits import DEFAULT_CREDENTIAL_LIMITS, CredentialLimits
from keys.errors import Reason
from keys.jose.b64 import b64url_decode, b64url_encode

#: The allowed entry widths (§4.1 step 1).
BITS = (1, 2, 4, 8)


class StatusType(IntEnum):
    """Status Type values (§7.1). 0x03 and 0x0B-0x0F are application specific; the rest are reserved."""

    VALID = 0
    INVALID = 1
    SUSPENDED = 2


class StatusList:
    """A mutable Status List of ``size`` entries of ``bits`` bits, all VALID (0) at first, of at most
    ``max_bytes`` bytes (bounded size)."""

    __slots__ = ("_data", "bits", "size")

    def __init__(
        self, size: int, bits: int = 1, *, data: bytes | bytearray | None = None,
        max_bytes: int = DEFAULT_CREDENTIAL_LIMITS.status_list_bytes,
    ) -> None:
        if bits not in BITS:
            raise ValueError(f"bits must be one of {BITS}")
        if size <= 0:
            raise ValueError("a Status List has at least one entry")
        length = (size * bits + 7) // 8
        if length > max_bytes:
            raise ValueError(f"a Status List is at most {max_bytes} bytes")
        if data is not None and len(data) != length:
            raise ValueError(f"{size} entries of {bits} bits need {length} bytes")
        self.bits = bits
        self.size = size
        self._data = bytearray(data) if data is not None else bytearray(length)

    def __getitem__(self, index: int) -> int:
        byte, shift = self._locate(index)
        return (self._data[byte] >> shift) & ((1 << self.bits) - 1)

    def __setitem__(self, index: int, value: int) -> None:
        if not 0 <= value < (1 << self.bits):
            raise ValueError(f"status {value} does not fit in {self.bits} bits")
        byte, shift = self._locate(index)
        mask = ((1 << self.bits) - 1) << shift
        self._data[byte] = (self._data[byte] & ~mask) | (value << shift)

    def __len__(self) -> int:
        return self.size

    def _locate(self, index: int) -> tuple[int, int]:
        if not 0 <= index < self.size:
            raise IndexError("status index out of range")
        position = index * self.bits
        return position // 8, position % 8

    def compressed(self) -> bytes:
        """The byte array, DEFLATE/ZLIB-compressed at the highest level (§4.1 step 4)."""
        return zlib.compress(bytes(self._data), 9)

    def to_json(self) -> dict[str, Any]:
        """The JSON Status List object ``{"bits": n, "lst": base64url(compressed)}`` (§4.2)."""
        return {"bits": self.bits, "lst": b64url_encode(self.compressed())}

    @classmethod
    def from_json(cls, value: object, *, limits: CredentialLimits = DEFAULT_CREDENTIAL_LIMITS) -> StatusList:
        """Decode a JSON Status List (§4.2) within ``limits``. The list's size is its decompressed length."""
        if not isinstance(value, Mapping):
            raise MalformedCredential(Reason.MALFORMED, "status_list is not an object")
        bits, lst = value.get("bits"), value.get("lst")
        if not isinstance(bits, int) or isinstance(bits, bool) or bits not in BITS:
            raise MalformedCredential(Reason.MALFORMED, "status_list bits is not 1, 2, 4 or 8")
        with translated(MalformedCredential):
            compressed = b64url_decode(lst, "status_list lst")
        data = inflate(compressed, limits.status_list_bytes)
        return cls(len(data) * 8 // bits, bits, data=data, max_bytes=limits.status_list_bytes)


def inflate(compressed: bytes, limit: int) -> bytes:
    """Decompress one complete ZLIB stream of at most ``limit`` bytes, never inflating more than that."""
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(compressed, limit + 1)
    except zlib.error:
        raise MalformedCredential(Reason.MALFORMED, "status_list lst is not a ZLIB stream") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise CredentialLimitExceeded(Reason.TOO_LARGE, f"Status List inflates beyond {limit} bytes")
    if not inflater.eof or inflater.unused_data:
        raise MalformedCredential(Reason.MALFORMED, "status_list lst is not exactly one complete ZLIB stream")
    if not data:
        raise MalformedCredential(Reason.MALFORMED, "the Status List is empty")
    return data
