"""The shared serial index of a CRL (keys.revocation.serial_index): exact answers against a plain dict for any
serials (hypothesis), serials too long for a fixed-width key, the CRL parser's reading of non-minimal and
negative encodings, atomic replacement under readers, two processes on one file, and damaged files refused
and rebuilt."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import random
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keys.errors import MalformedInput
from keys.revocation.crl import CrlIndex, check_crl, load_crl
from keys.revocation.serial_index import (
    HEADER,
    RECORD_OCTETS,
    IndexFileError,
    SerialIndex,
    build_in_memory,
    open_index,
    write_index,
)
from keys.revocation.status import Revoked
from keys.testpki import CardMaterial, Root
from keys.testpki.revocation import issue_crl

from .conftest import NOW

DIGEST = bytes(range(32))
#: serials as the CRL parser yields them: any signed integer of up to 127 content octets (RFC 5280 allows 20).
SERIALS = st.one_of(
    st.integers(min_value=-(2**79), max_value=2**79 - 1),
    st.integers(min_value=-(2**159), max_value=2**159 - 1),
    st.integers(min_value=2**79 - 3, max_value=2**79 + 3),
    st.integers(min_value=-(2**79) - 3, max_value=-(2**79) + 3),
)
TIMES = st.one_of(st.integers(min_value=-(2**40), max_value=2**40), st.sampled_from([-631152000, 0, 1_800_000_000]))
REASONS = st.one_of(st.none(), st.sampled_from([0, 1, 2, 3, 4, 5, 6, 8, 9, 10]))
Entries = dict[int, tuple[int, int | None]]


def _entries(listed: Entries) -> list[tuple[int, int, int | None]]:
    return [(serial, at, reason) for serial, (at, reason) in listed.items()]


def _assert_exact(index: SerialIndex, listed: Entries, probes: list[int]) -> None:
    assert len(index) == len(listed)
    assert sorted(index.serials()) == sorted(listed)
    for serial in [*listed, *probes]:
        assert index.lookup(serial) == listed.get(serial)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(SERIALS, st.tuples(TIMES, REASONS), max_size=600), st.lists(SERIALS, max_size=50))
def test_lookups_are_exactly_those_of_a_dict(listed: Entries, probes: list[int]) -> None:
    neighbours = [s + d for s in list(listed)[:50] for d in (-1, 1)]
    _assert_exact(build_in_memory(DIGEST, _entries(listed)), listed, probes + neighbours)


@settings(max_examples=15, deadline=None)
@given(st.dictionaries(SERIALS, st.tuples(TIMES, REASONS), min_size=1, max_size=3000))
def test_a_file_built_in_sorted_runs_answers_like_one_built_in_memory(listed: Entries) -> None:
    import keys.revocation.serial_index as module

    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"serial-index-{os.getpid()}-{threading.get_ident()}.idx"
    run_records = module.RUN_RECORDS
    module.RUN_RECORDS = 97  # type: ignore[misc]  # force the external merge of many runs
    try:
        write_index(path, DIGEST, _entries(listed))
    finally:
        module.RUN_RECORDS = run_records  # type: ignore[misc]
    try:
        _assert_exact(open_index(path, DIGEST), listed, [min(listed) - 1, max(listed) + 1])
    finally:
        path.unlink()


def test_serials_longer_than_the_key_go_to_the_exact_side_table(tmp_path: Path) -> None:
    long_serial = int.from_bytes(bytes.fromhex("7f" + "ab" * 19), "big")  # 20 octets (RFC 5280's maximum)
    listed: Entries = {long_serial: (1_700_000_000, 1), long_serial ^ 1: (1_700_000_001, None),
                       -long_serial: (5, 2), 2**79: (0, None), 5: (1_700_000_000, None)}
    write_index(tmp_path / "x.idx", DIGEST, _entries(listed))
    index = open_index(tmp_path / "x.idx", DIGEST)
    _assert_exact(index, listed, [long_serial + 2, long_serial >> 80, 2**79 - 1, 2**79 + 1])
    # the main table holds fixed-width records only; the rest is the side table
    size = (tmp_path / "x.idx").stat().st_size
    assert size > HEADER.size + 2 * RECORD_OCTETS


def test_duplicates_are_refused_wherever_they_land() -> None:
    from keys.revocation.serial_index import DuplicateSerial

    for serial in (5, 2**100):
        with pytest.raises(DuplicateSerial):
            build_in_memory(DIGEST, [(serial, 0, None), (7, 0, None), (serial, 1, 1)])


class _Padded(int):
    """A serial the test CRL writes with two leading zero octets (a non-minimal INTEGER)."""

    def to_bytes(self, *args: Any, **kwargs: Any) -> bytes:  # type: ignore[override]
        return b"\x00\x00" + int(self).to_bytes(1, "big")


def test_non_minimal_serials_are_refused_and_negative_ones_indexed_exactly(card: CardMaterial) -> None:
    root = card.auth_root
    revoked_at = NOW - dt.timedelta(days=1)
    times = {"this_update": NOW - dt.timedelta(hours=1), "next_update": NOW + dt.timedelta(hours=1), "crl_number": 1}
    padded = issue_crl(root, [(_Padded(5), revoked_at, None)], **times)  # type: ignore[arg-type]
    assert b"\x02\x03\x00\x00\x05" in padded
    with pytest.raises(MalformedInput):  # DER INTEGERs are minimal (X.690 §8.3.2): pyca refuses, as before
        load_crl(padded, issuer=root.certificate, at=NOW)
    data = issue_crl(root, [(5, revoked_at, None), (-5, revoked_at, x509.ReasonFlags.superseded),
                            (-(2**150), revoked_at, None)], **times)  # type: ignore[arg-type]
    assert b"\x02\x01\xfb" in data
    index = load_crl(data, issuer=root.certificate, at=NOW)
    assert sorted(index.serials()) == [-(2**150), -5, 5]
    five, minus_five = index.lookup(5), index.lookup(-5)
    assert five is not None
    assert (five.revoked_at, five.reason) == (revoked_at.replace(microsecond=0), None)
    assert minus_five is not None
    assert minus_five.reason is x509.ReasonFlags.superseded
    assert index.lookup(251) is None
    assert index.lookup(-(2**150)) is not None


def _crl(root: Root, serials: list[int], crl_number: int = 1) -> bytes:
    at = NOW - dt.timedelta(days=1)
    return issue_crl(root, [(s, at, x509.ReasonFlags.key_compromise) for s in serials],
                     this_update=NOW - dt.timedelta(hours=1), next_update=NOW + dt.timedelta(hours=1),
                     crl_number=crl_number)


def test_a_shared_file_is_built_once_and_mapped_after(card: CardMaterial, tmp_path: Path) -> None:
    root = card.auth_root
    serials = [card.auth_certificate.serial_number, *random.Random(1).sample(range(1, 2**63), 500)]
    data = _crl(root, serials)
    first = load_crl(data, issuer=root.certificate, at=NOW, index_dir=tmp_path)
    (built,) = tmp_path.glob("*.idx")
    inode = built.stat().st_ino
    second = load_crl(data, issuer=root.certificate, at=NOW, index_dir=tmp_path)
    assert built.stat().st_ino == inode  # mapped, not rebuilt
    assert built.name == f"{first.sha256.hex()}.idx"
    assert len(second) == 501
    assert second.index_bytes == built.stat().st_size < 16 * len(second) + HEADER.size
    with pytest.raises(Revoked):
        check_crl(second, card.auth_certificate, at=NOW, grace=dt.timedelta(0))


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "other-crl"])
def test_a_damaged_file_is_refused_and_rebuilt(card: CardMaterial, tmp_path: Path, damage: str) -> None:
    root = card.auth_root
    serials = list(range(1000, 3000, 7))
    index = load_crl(_crl(root, serials), issuer=root.certificate, at=NOW, index_dir=tmp_path)
    path = tmp_path / f"{index.sha256.hex()}.idx"
    data = bytearray(path.read_bytes())
    index._serials.close()
    if damage == "truncate":
        del data[-RECORD_OCTETS:]
    elif damage == "flip":
        data[HEADER.size + 3] ^= 0x01  # one bit of one key: it would change an answer
    elif damage == "empty":
        data.clear()
    else:
        other = load_crl(_crl(root, serials[:5], 2), issuer=root.certificate, at=NOW, index_dir=tmp_path)
        data = bytearray((tmp_path / f"{other.sha256.hex()}.idx").read_bytes())
    path.write_bytes(bytes(data))
    with pytest.raises(IndexFileError):
        open_index(path, index.sha256)
    rebuilt = load_crl(_crl(root, serials), issuer=root.certificate, at=NOW, index_dir=tmp_path)
    assert sorted(rebuilt.serials()) == serials
    assert rebuilt.lookup(serials[3]) is not None
    assert rebuilt.lookup(serials[3] + 1) is None
    open_index(path, index.sha256)  # intact again


def test_readers_see_the_old_or_the_new_file_whole_while_it_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "x.idx"
    versions = [{s: (s, None) for s in range(v, 4000 + v, 2)} for v in (0, 1)]
    write_index(path, DIGEST, _entries(versions[0]))
    stop = threading.Event()
    seen: list[int] = []
    failures: list[BaseException] = []

    def read() -> None:
        while not stop.is_set():
            try:
                index = open_index(path, DIGEST)
                parity = next(iter(index.serials())) % 2
                listed = versions[parity]
                assert all(index.lookup(s) == listed.get(s) for s in range(0, 4002, 37))
                seen.append(parity)
                index.close()
            except BaseException as exc:
                failures.append(exc)
                return

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    for i in range(40):
        write_index(path, DIGEST, _entries(versions[i % 2]))
    stop.set()
    for reader in readers:
        reader.join()
    assert not failures
    assert seen


def _load_in_child(args: tuple[bytes, bytes, str, list[int]]) -> tuple[int, list[bool]]:
    data, root_der, directory, probes = args
    root = x509.load_der_x509_certificate(root_der)
    index = load_crl(data, issuer=root, at=NOW, index_dir=Path(directory))
    return os.getpid(), [index.lookup(p) is not None for p in probes]


def test_two_processes_share_one_file(card: CardMaterial, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    root = card.auth_root
    serials = random.Random(2).sample(range(1, 2**62), 20000)
    data = _crl(root, serials)
    probes = [*serials[:50], *(s + 1 for s in serials[:50])]
    job = (data, root.certificate.public_bytes(Encoding.DER), str(tmp_path), probes)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.map(_load_in_child, [job, job])
    assert results[0][0] != results[1][0]
    expected = [True] * 50 + [s + 1 in set(serials) for s in serials[:50]]
    assert results[0][1] == results[1][1] == expected
    assert len(list(tmp_path.glob("*.idx"))) == 1
    assert not list(tmp_path.glob("*.tmp"))


def test_crl_index_api_is_unchanged(card: CardMaterial) -> None:
    root = card.auth_root
    index: CrlIndex = load_crl(_crl(root, [3, 1, 2]), issuer=root.certificate, at=NOW)
    assert len(index) == 3
    assert sorted(index.serials()) == [1, 2, 3]
    entry = index.lookup(2)
    assert entry is not None
    assert entry.serial == 2
    assert entry.reason is x509.ReasonFlags.key_compromise
    assert entry.revoked_at == NOW.replace(microsecond=0) - dt.timedelta(days=1)
