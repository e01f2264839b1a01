"""The audit hash chain: each kind of tampering is caught (in an export and in the table), HMAC keys, the
personal-data rule of the field schema, retention anchors."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData, Table, delete, update

from servicekit import audit
from servicekit.audit import (
    GENESIS,
    Anchor,
    AuditFieldError,
    AuditKey,
    AuditSchema,
    AuditTrail,
    Entry,
    FieldKind,
    Kind,
    Problem,
    entry_columns,
    head_columns,
    make_entry,
    read_lines,
    verify,
)
from servicekit.database import Database

T0 = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)
SCHEMA = AuditSchema({"client_id": FieldKind.IDENTIFIER, "outcome": FieldKind.TOKEN, "index": FieldKind.COUNT,
                      "certificate_ref": FieldKind.DIGEST, "claims": FieldKind.NAMES, "indexes": FieldKind.COUNTS})
KEY = AuditKey(b"k" * 32)


def _at(problem: Problem | None) -> tuple[Kind, int] | None:
    return None if problem is None else (problem.kind, problem.seq)


def _kind(problem: Problem | None) -> Kind | None:
    return None if problem is None else problem.kind


def chain(n: int, key: AuditKey | None = None) -> list[Entry]:
    entries: list[Entry] = []
    seq, prev = 0, GENESIS
    for i in range(n):
        entry = make_entry(seq, prev, "event", SCHEMA.check("event", {"client_id": f"rp{i}", "index": i}),
                           T0 + dt.timedelta(seconds=i), key)
        entries.append(entry)
        seq, prev = entry.seq, entry.hash
    return entries


def test_an_intact_chain_verifies() -> None:
    verdict = verify(chain(5), anchor=Anchor())
    assert (verdict.ok, verdict.checked, verdict.last_seq) == (True, 5, 5)


def test_a_changed_field_is_found() -> None:
    entries = chain(5)
    entries[2] = dataclasses.replace(entries[2], fields={"client_id": "mallory", "index": 2})
    problem = verify(entries, anchor=Anchor()).problem
    assert _at(problem) == (Kind.CHANGED, 3)


def test_a_changed_and_rehashed_entry_is_found_by_its_successor() -> None:
    entries = chain(5)
    forged = make_entry(2, entries[1].hash, "event", {"client_id": "mallory", "index": 2}, T0, None)
    entries[2] = forged
    problem = verify(entries, anchor=Anchor()).problem
    assert _at(problem) == (Kind.CHANGED, 3)


def test_a_removed_entry_is_found() -> None:
    entries = chain(5)
    del entries[2]
    problem = verify(entries, anchor=Anchor()).problem
    assert _at(problem) == (Kind.REMOVED, 3)


def test_an_inserted_entry_is_found() -> None:
    entries = chain(5)
    forged = make_entry(2, entries[1].hash, "event", {"client_id": "mallory"}, T0, None)
    entries.insert(2, forged)
    problem = verify(entries, anchor=Anchor()).problem
    assert _at(problem) == (Kind.INSERTED, 3)


def test_a_copied_entry_is_found_as_inserted() -> None:
    entries = chain(5)
    entries.insert(3, entries[0])
    problem = verify(entries, anchor=Anchor()).problem
    assert _kind(problem) is Kind.INSERTED


def test_a_copy_of_a_later_entry_is_found_as_inserted() -> None:
    entries = chain(5)
    entries.insert(1, entries[2])
    assert _at(verify(entries, anchor=Anchor()).problem) == (Kind.INSERTED, 3)


def test_swapped_entries_are_found() -> None:
    entries = chain(5)
    entries[1], entries[2] = entries[2], entries[1]
    problem = verify(entries, anchor=Anchor()).problem
    assert _at(problem) == (Kind.REORDERED, 2)


def test_entries_swapped_with_their_seq_numbers_kept_in_place_are_found() -> None:
    entries = chain(5)
    a, b = entries[1], entries[2]
    entries[1], entries[2] = dataclasses.replace(b, seq=2), dataclasses.replace(a, seq=3)
    problem = verify(entries, anchor=Anchor()).problem
    assert _kind(problem) is Kind.REORDERED


def test_removal_of_the_newest_entries_is_found_against_the_head() -> None:
    problem = verify(chain(5)[:3], anchor=Anchor(), head_seq=5).problem
    assert _at(problem) == (Kind.REMOVED, 4)


def test_an_entry_beyond_the_head_is_inserted() -> None:
    problem = verify(chain(5), anchor=Anchor(), head_seq=4).problem
    assert _at(problem) == (Kind.INSERTED, 5)


def test_an_export_starts_at_its_first_entry_but_seq_1_must_follow_genesis() -> None:
    assert verify(chain(5)[2:]).ok
    entries = chain(5)
    entries[0] = dataclasses.replace(entries[0], prev_hash="1" * 64)
    assert not verify(entries).ok


def test_with_a_key_a_rehashed_change_is_found() -> None:
    entries = chain(4, KEY)
    assert verify(entries, keys=[KEY], anchor=Anchor()).ok
    forged = make_entry(1, entries[0].hash, "event", {"client_id": "mallory"}, T0, None)
    entries[1] = dataclasses.replace(forged, key_id=KEY.key_id)  # an attacker without the key
    problem = verify(entries, keys=[KEY], anchor=Anchor()).problem
    assert _at(problem) == (Kind.CHANGED, 2)


def test_with_a_key_unkeyed_entries_are_refused_unless_older_than_the_key() -> None:
    entries = chain(3)
    problem = verify(entries, keys=[KEY], anchor=Anchor()).problem
    assert _kind(problem) is Kind.CHANGED
    assert verify(entries, keys=[KEY], anchor=Anchor(), unkeyed_until=3).ok
    assert not verify(chain(3, KEY), keys=[AuditKey(b"x" * 32)], anchor=Anchor()).ok


def test_a_line_that_is_not_an_entry_is_malformed() -> None:
    lines = [e.to_json() for e in chain(3)]
    lines[1] = '{"seq": 2'
    problem = verify(read_lines(lines)).problem
    assert _at(problem) == (Kind.MALFORMED, 2)


@pytest.mark.parametrize("fields", [{"name": "山田太郎"}, {"birthdate": "1990-01-01"}, {"pin": "1234"},
                                    {"address": "東京都"}, {"client_id": "山田 太郎"},
                                    {"certificate_ref": "1990-01-01"}, {"outcome": "Yamada Taro"},
                                    {"claims": ["name", "山田"]}, {"index": -1},
                                    {"indexes": [1, "2"]}, {"index": True}])
def test_personal_data_cannot_be_logged(fields: dict[str, object]) -> None:
    with pytest.raises(AuditFieldError):
        SCHEMA.check("event", fields)


def test_references_are_accepted() -> None:
    assert SCHEMA.check("event", {"client_id": "rp-1", "certificate_ref": "ab" * 32, "claims": ("name", "birthdate"),
                                  "index": 0, "outcome": "success", "empty": None, "indexes": (3, 1)}) == {
        "client_id": "rp-1", "certificate_ref": "ab" * 32, "claims": ["name", "birthdate"], "index": 0,
        "outcome": "success", "indexes": [3, 1]}


# --- the store (SQLite) ---------------------------------------------------------------------------------------

@pytest.fixture
def trail(tmp_path: Path) -> Iterator[AuditTrail]:
    metadata = MetaData()
    entries = Table("audit_log", metadata, *entry_columns("audit_log"))
    head = Table("audit_head", metadata, *head_columns("audit_head"))
    db = Database.connect(f"sqlite:///{tmp_path / 'audit.sqlite3'}")

    async def create() -> None:
        async with db.begin() as conn:
            await conn.run_sync(metadata.create_all)

    asyncio.run(create())
    yield AuditTrail(db, entries, head, SCHEMA, keys=(KEY,))
    asyncio.run(db.dispose())


async def _append(trail: AuditTrail, n: int) -> None:
    for i in range(n):
        await trail.append("event", {"client_id": f"rp{i}", "index": i}, at=T0 + dt.timedelta(days=i))


def test_the_table_round_trips_through_an_export(trail: AuditTrail) -> None:
    async def run() -> None:
        await _append(trail, 5)
        assert (await trail.verify()).ok
        out = io.StringIO()
        assert await trail.export(out) == 5
        lines = out.getvalue().splitlines()
        assert json.loads(lines[0])["fields"] == {"client_id": "rp0", "index": 0}
        assert verify(read_lines(lines), keys=[KEY]).ok
        assert (await trail.head()).seq == 5

    asyncio.run(run())


async def _tamper(trail: AuditTrail, how: str | None, seq: int) -> None:
    """Tamper with the entry ``seq`` of the table (``swap``: with the next one; ``insert``: a forged entry there)."""
    table = trail.entries
    async with trail.db.begin() as conn:
        if how == "change":
            await conn.execute(update(table).where(table.c.seq == seq).values(fields='{"client_id":"mallory"}'))
        elif how == "remove":
            await conn.execute(delete(table).where(table.c.seq == seq))
        elif how == "insert":
            last = (await conn.execute(table.select().where(table.c.seq == seq - 1))).one()
            forged = make_entry(seq - 1, last.hash, "event", {"client_id": "mallory"}, T0, KEY)
            await conn.execute(table.insert().values(
                seq=seq, time=forged.time, type="event", fields='{"client_id":"mallory"}', key_id=KEY.key_id,
                prev_hash=forged.prev_hash, hash=forged.hash))
        elif how == "swap":
            await conn.execute(update(table).where(table.c.seq == seq).values(seq=-seq))
            await conn.execute(update(table).where(table.c.seq == seq + 1).values(seq=seq))
            await conn.execute(update(table).where(table.c.seq == -seq).values(seq=seq + 1))


@pytest.mark.parametrize(("tamper", "at", "kind", "seq"), [
    ("change", 3, Kind.CHANGED, 3), ("remove", 3, Kind.REMOVED, 3), ("insert", 6, Kind.INSERTED, 6),
    ("swap", 2, Kind.REORDERED, 2), ("remove", 5, Kind.REMOVED, 5)])
def test_tampering_in_the_table_is_found(trail: AuditTrail, tamper: str, at: int, kind: Kind, seq: int) -> None:
    async def run() -> None:
        await _append(trail, 5)
        await _tamper(trail, tamper, at)
        problem = (await trail.verify()).problem
        assert _at(problem) == (kind, seq), problem

    asyncio.run(run())


def test_retention_moves_the_anchor_and_the_rest_still_verifies(trail: AuditTrail) -> None:
    async def run() -> None:
        await _append(trail, 5)
        assert await trail.prune(T0 + dt.timedelta(days=2, hours=1)) == 3
        head = await trail.head()
        assert (head.anchor.seq, head.seq) == (3, 5)
        assert (await trail.verify()).ok
        assert await trail.prune(T0 + dt.timedelta(days=2, hours=1)) == 0
        await trail.append("event", {"client_id": "rp9"}, at=T0 + dt.timedelta(days=9))
        assert (await trail.verify()).ok
        async with trail.db.begin() as conn:  # removing the oldest kept entry without moving the anchor
            await conn.execute(delete(trail.entries).where(trail.entries.c.seq == 4))
        problem = (await trail.verify()).problem
        assert _at(problem) == (Kind.REMOVED, 4)

    asyncio.run(run())


@pytest.mark.parametrize(("tamper", "at", "kind", "seq"), [
    (None, 0, None, None), ("change", 7, Kind.CHANGED, 7), ("remove", 3, Kind.REMOVED, 3),
    ("swap", 3, Kind.REORDERED, 3), ("remove", 10, Kind.REMOVED, 10)])
def test_the_table_is_verified_batch_by_batch(trail: AuditTrail, monkeypatch: pytest.MonkeyPatch, tamper: str | None,
                                              at: int, kind: Kind | None, seq: int | None) -> None:
    monkeypatch.setattr(audit, "BATCH", 3)

    async def run() -> None:
        await _append(trail, 10)
        await _tamper(trail, tamper, at)  # a swap of 3 and 4 crosses a batch boundary
        verdict = await trail.verify()
        assert _at(verdict.problem) == (None if kind is None or seq is None else (kind, seq))
        if tamper is None:
            assert (verdict.checked, verdict.last_seq) == (10, 10)

    asyncio.run(run())
