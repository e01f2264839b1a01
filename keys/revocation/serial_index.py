"""The revoked serials of one CRL as a sorted file of fixed-width records: built once per CRL, memory-mapped
read-only by every process of a host, looked up by binary search (RFC 5280 §5.1.2.6 revokedCertificates).

Format (version 1, all integers big-endian)::

    header  96 octets  magic "MYNACRLX", version u16, record width u16 (15), reserved u32,
                       main count u64, side length u64, SHA-256 of the CRL DER, SHA-256 of everything after
                       the header
    main    15 octets  per serial, sorted, no two keys equal:
                         key    10 octets  serial + 2**79 (serials in [-2**79, 2**79))
                         value   5 octets  seconds of revocationDate since 1950-01-01T00:00:00Z (36 bits),
                                           then the CRLReason code (4 bits; 15: no reasonCode)
    side    variable   per serial that does not fit a main record (longer serial, revocationDate outside
                       1950 .. 1950 + 2**36 s): length u8, serial (minimal two's complement), seconds since
                       1970 (i64), reason code u8

Collision rule: a key is the serial itself, offset to sort as unsigned bytes, never a hash, so two serials
never share a key; a serial outside the key range goes to the exact side table, read into a dict when the
file is opened (none of JPKI's serials are that long). A lookup therefore answers exactly as a set of the
serial integers would: it can never say "not revoked" for a listed serial.

Integrity: :func:`open_index` refuses (``IndexFileError``) a file whose size, header or body digest is wrong,
so a truncated or corrupted file is never used (the caller rebuilds it). Files are written beside their
final name and renamed over it (atomic on POSIX), so a reader sees the old file or the new one, whole.

Example::

    write_index(path, crl_sha256, entries)        # entries: (serial, revoked_at seconds, reason code or None)
    index = open_index(path, crl_sha256)
    index.lookup(serial)                          # -> (revoked_at, reason code or None) or None
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import heapq
import mmap
import os
import struct
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Final

MAGIC: Final = b"MYNACRLX"
VERSION: Final = 1
HEADER: Final = struct.Struct(">8sHHIQQ32s32s")
KEY_OCTETS: Final = 10
RECORD_OCTETS: Final = 15
_KEY_OFFSET: Final = 1 << (8 * KEY_OCTETS - 1)
_EPOCH_1950: Final = int(dt.datetime(1950, 1, 1, tzinfo=dt.UTC).timestamp())
_MAX_SECONDS: Final = 1 << 36
_NO_REASON: Final = 15
_SIDE_TAIL: Final = struct.Struct(">qB")
#: Records per block of the lookup fence.
BLOCK_RECORDS: Final = 256
#: Records sorted in memory at once while building; larger CRLs are sorted in runs and merged from disk.
RUN_RECORDS: Final = 1 << 20


class IndexFileError(Exception):
    """The index file is missing, truncated, corrupted or of another CRL: rebuild it."""


class DuplicateSerial(Exception):
    """The entries list a serial more than once."""


def main_record(serial: int, revoked_at: int, reason: int | None) -> bytes | None:
    """The fixed-width record of an entry, or ``None`` when it belongs to the side table."""
    seconds = revoked_at - _EPOCH_1950
    if not -_KEY_OFFSET <= serial < _KEY_OFFSET or not 0 <= seconds < _MAX_SECONDS:
        return None
    value = seconds << 4 | (_NO_REASON if reason is None else reason)
    return (serial + _KEY_OFFSET).to_bytes(KEY_OCTETS, "big") + value.to_bytes(5, "big")


def _side_record(serial: int, revoked_at: int, reason: int | None) -> bytes:
    encoded = serial.to_bytes((serial + (serial < 0)).bit_length() // 8 + 1, "big", signed=True)
    return bytes([len(encoded)]) + encoded + _SIDE_TAIL.pack(revoked_at, _NO_REASON if reason is None else reason)


def write_index(path: Path, crl_sha256: bytes, entries: Iterable[tuple[int, int, int | None]]) -> int:
    """Write the index of ``entries`` (serial, revocationDate as POSIX seconds, CRLReason code or ``None``) to
    ``path`` atomically; raise :class:`DuplicateSerial` when a serial repeats. Returns the number of serials.

    Peak memory is one run of :data:`RUN_RECORDS` records, whatever the number of entries."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w+b") as out:
            count = _write_body(out, crl_sha256, entries)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count


def _write_body(out: BinaryIO, crl_sha256: bytes, entries: Iterable[tuple[int, int, int | None]]) -> int:
    out.write(bytes(HEADER.size))
    digest = hashlib.sha256()
    side: dict[int, bytes] = {}
    runs: list[BinaryIO] = []
    run: list[bytes] = []
    try:
        for serial, revoked_at, reason in entries:
            record = main_record(serial, revoked_at, reason)
            if record is not None:
                run.append(record)
                if len(run) >= RUN_RECORDS:
                    runs.append(_spill(sorted(run)))
                    run = []
            elif serial in side:
                raise DuplicateSerial(serial)
            else:
                side[serial] = _side_record(serial, revoked_at, reason)
        run.sort()
        records = heapq.merge(*(_read_run(r) for r in runs), run) if runs else iter(run)
        count = _write_main(out, digest, records)
    finally:
        for spilled in runs:
            spilled.close()
    side_body = b"".join(side[s] for s in sorted(side))
    out.write(side_body)
    digest.update(side_body)
    out.seek(0)
    out.write(HEADER.pack(MAGIC, VERSION, RECORD_OCTETS, 0, count, len(side_body), crl_sha256, digest.digest()))
    return count + len(side)


def _spill(records: list[bytes]) -> BinaryIO:
    spilled = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _write_body once merged
    spilled.write(b"".join(records))
    spilled.seek(0)
    return spilled


def _read_run(spilled: BinaryIO) -> Iterator[bytes]:
    while block := spilled.read(RECORD_OCTETS * 4096):
        for offset in range(0, len(block), RECORD_OCTETS):
            yield block[offset : offset + RECORD_OCTETS]


def _write_main(out: BinaryIO, digest: hashlib._Hash, records: Iterator[bytes]) -> int:
    count = 0
    previous = b""
    block: list[bytes] = []
    for record in records:
        key = record[:KEY_OCTETS]
        if key == previous:
            raise DuplicateSerial(int.from_bytes(key, "big") - _KEY_OFFSET)
        previous = key
        block.append(record)
        if len(block) >= 65536:
            count += _flush(out, digest, block)
    return count + _flush(out, digest, block)


def _flush(out: BinaryIO, digest: hashlib._Hash, block: list[bytes]) -> int:
    data = b"".join(block)
    out.write(data)
    digest.update(data)
    written = len(block)
    block.clear()
    return written


class SerialIndex:
    """A read-only view of an index file (or of its bytes, for an index kept in memory)."""

    __slots__ = ("_buffer", "_count", "_fence", "_mmap", "_side")

    def __init__(self, buffer: bytes | mmap.mmap, count: int, side: dict[int, tuple[int, int | None]],
                 mapping: mmap.mmap | None) -> None:
        self._buffer = buffer
        self._count = count
        self._side = side
        self._mmap = mapping
        #: The first key of every block of :data:`BLOCK_RECORDS` records (a few bytes per thousand serials, per
        #: process): a lookup bisects it in C, then searches one block of the mapping.
        self._fence = [
            buffer[start : start + KEY_OCTETS]
            for start in range(HEADER.size, HEADER.size + count * RECORD_OCTETS, BLOCK_RECORDS * RECORD_OCTETS)
        ]

    def __len__(self) -> int:
        return self._count + len(self._side)

    @property
    def size(self) -> int:
        """Octets of the index (header, records and side table)."""
        return len(self._buffer)

    def lookup(self, serial: int) -> tuple[int, int | None] | None:
        """``(revocationDate as POSIX seconds, CRLReason code or None)`` of ``serial``, or ``None`` when it is
        not listed: O(log n) (a bisection of the block fence, then a binary search of one block)."""
        if not -_KEY_OFFSET <= serial < _KEY_OFFSET:
            return self._side.get(serial)
        key = (serial + _KEY_OFFSET).to_bytes(KEY_OCTETS, "big")
        block = bisect.bisect_right(self._fence, key) - 1
        if block < 0:
            return self._side.get(serial)
        first = block * BLOCK_RECORDS
        records = self._buffer  # searched in place: slicing the block out would copy it
        low, high = first, min(first + BLOCK_RECORDS, self._count)
        while low < high:
            middle = (low + high) >> 1
            offset = HEADER.size + middle * RECORD_OCTETS
            found = records[offset : offset + KEY_OCTETS]
            if found < key:
                low = middle + 1
            elif found > key:
                high = middle
            else:
                value = int.from_bytes(records[offset + KEY_OCTETS : offset + RECORD_OCTETS], "big")
                reason = value & 0xF
                return (value >> 4) + _EPOCH_1950, None if reason == _NO_REASON else reason
        return self._side.get(serial)

    def serials(self) -> Iterator[int]:
        """Every listed serial (main records in key order, then the side table)."""
        buffer = self._buffer
        for i in range(self._count):
            start = HEADER.size + i * RECORD_OCTETS
            yield int.from_bytes(buffer[start : start + KEY_OCTETS], "big") - _KEY_OFFSET
        yield from self._side

    def close(self) -> None:
        """Unmap the file (lookups afterwards fail); the mapping is also released when the view is collected."""
        if self._mmap is not None:
            self._mmap.close()


def build_in_memory(crl_sha256: bytes, entries: Iterable[tuple[int, int, int | None]]) -> SerialIndex:
    """The index of ``entries`` held in this process's memory (small CRLs; tests; no index directory)."""
    with tempfile.TemporaryFile() as out:
        _write_body(out, crl_sha256, entries)
        out.seek(0)
        data = out.read()
    return _view(data, crl_sha256, None)


def open_index(path: Path, crl_sha256: bytes) -> SerialIndex:
    """Map ``path`` read-only and check it whole; raise :class:`IndexFileError` if it is not the intact index
    of the CRL with SHA-256 ``crl_sha256``."""
    try:
        with path.open("rb") as source:
            mapping = mmap.mmap(source.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError) as exc:  # ValueError: an empty file cannot be mapped
        raise IndexFileError(f"cannot map the index: {exc}") from None
    try:
        return _view(mapping, crl_sha256, mapping)
    except IndexFileError:
        mapping.close()
        raise


def _view(buffer: bytes | mmap.mmap, crl_sha256: bytes, mapping: mmap.mmap | None) -> SerialIndex:
    if len(buffer) < HEADER.size:
        raise IndexFileError("index file is truncated")
    magic, version, width, _, count, side_length, crl_digest, body_digest = HEADER.unpack_from(buffer, 0)
    if magic != MAGIC or version != VERSION or width != RECORD_OCTETS:
        raise IndexFileError("not an index file of this version")
    if crl_digest != crl_sha256:
        raise IndexFileError("index file is of another CRL")
    main_end = HEADER.size + count * RECORD_OCTETS
    if main_end + side_length != len(buffer):
        raise IndexFileError("index file is truncated or has trailing data")
    with memoryview(buffer) as view, view[HEADER.size :] as body:
        intact = hashlib.sha256(body).digest() == body_digest
    if not intact:
        raise IndexFileError("index file is corrupted")
    return SerialIndex(buffer, count, _read_side(bytes(buffer[main_end:])), mapping)


def _read_side(data: bytes) -> dict[int, tuple[int, int | None]]:
    side: dict[int, tuple[int, int | None]] = {}
    position = 0
    while position < len(data):
        length = data[position]
        serial = int.from_bytes(data[position + 1 : position + 1 + length], "big", signed=True)
        revoked_at, reason = _SIDE_TAIL.unpack_from(data, position + 1 + length)
        side[serial] = (revoked_at, None if reason == _NO_REASON else reason)
        position += 1 + length + _SIDE_TAIL.size
    return side
