"""An append-only audit trail: security events in a hash chain in the database, exported as JSON lines and
verified from the table or from an export.

An entry is ``(seq, time, type, fields, key_id, prev_hash, hash)`` where::

    hash = SHA-256(prev_hash || canonical([seq, time, type, fields]))            (key_id "")
    hash = HMAC-SHA256(key, prev_hash || canonical([seq, time, type, fields]))   (key_id = the key's id)

``prev_hash`` is the previous entry's ``hash`` (32 zero octets before the first entry, or the retention anchor),
``canonical`` is JSON with sorted keys, no spaces, UTF-8; ``time`` is ISO 8601 UTC with microseconds
(``2026-12-07T10:50:30.123456Z``). Changing, removing, inserting or reordering an entry breaks a link, and
:func:`verify` names the first broken one with its kind (:class:`Kind`).

**What the chain proves.** Without a key, anyone can recompute the hashes: the chain catches accidents, partial
edits and tampering with an export checked against a head hash kept elsewhere; an attacker with write access to
the database can rewrite the whole chain consistently. With a key (HMAC), recomputing the chain needs the key,
which lives in the service's secret settings, not in the database: a database-only attacker can still delete the
newest entries together with the head row (truncation), but can no longer forge, change or reorder entries.
Truncation is caught against any earlier export or a head hash logged elsewhere (:meth:`AuditTrail.head`).

**No personal data.** Fields are references only: a service declares the allowed names, each with a
:class:`FieldKind` that constrains the value (a SHA-256 digest, a keyed reference, an identifier, a token, a count,
a list of names); any other name is refused (:class:`AuditFieldError`), so a name, a birthdate or a PIN cannot be
logged by mistake.

**Appends are serialised**: on SQLite one transaction reads the chain's head row (``BEGIN IMMEDIATE`` holds the
database's write lock), inserts the entry and moves the head; on PostgreSQL one statement moves the head from the
seq the entry follows and inserts it, or, when another process moved the head first, does neither and returns the
head it found (:meth:`AuditTrail.append`).

**Retention** (:meth:`AuditTrail.prune`) deletes the oldest entries and records the last deleted entry's seq and
hash in the head row as the anchor the remaining chain starts from.

Usage::

    schema = AuditSchema({"client_id": FieldKind.IDENTIFIER, "outcome": FieldKind.TOKEN})
    trail = AuditTrail(db, entries_table, head_table, schema, keys=())
    await trail.append("token_issued", {"client_id": "rp1", "outcome": "success"}, at=now)
    verdict = await trail.verify()                   # or verify(read_lines(open("audit.jsonl")), keys=...)
    assert verdict.ok, verdict.problem
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import re
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum, StrEnum
from typing import Any, Final, TextIO

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    select,
    union_all,
    update,
)
from sqlalchemy.sql.schema import SchemaItem

from servicekit.database import Connection, Database, Prepared

#: The ``prev_hash`` of the first entry of a chain (32 zero octets, hex).
GENESIS: Final = "0" * 64
#: Entries per read when exporting, verifying or pruning.
BATCH: Final = 1000
#: How far ahead :func:`verify` looks to tell an insertion or a reordering from a change.
LOOKAHEAD: Final = 1024
_HEAD_ID: Final = 1
_TYPE: Final = re.compile(r"[a-z][a-z0-9_.]{0,63}")
_HEX64: Final = re.compile(r"[0-9a-f]{64}")


class FieldKind(Enum):
    """What a field may hold: each kind is a pattern no personal fact matches by accident."""

    #: Lower-case hex SHA-256 (a certificate's digest, a hashed grant id).
    DIGEST = re.compile(r"[0-9a-f]{64}")
    #: A keyed reference, base64url (a pseudonymous account reference).
    REFERENCE = re.compile(r"[A-Za-z0-9_-]{16,86}")
    #: An identifier chosen by an administrator or a client: printable ASCII without spaces (client_id, kid).
    IDENTIFIER = re.compile(r"[!-~]{1,255}")
    #: A word from a fixed vocabulary (outcome, reason, grant type, state).
    TOKEN = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,63}")
    #: An X.500 distinguished name of a CA (RFC 4514 text): printable ASCII.
    DISTINGUISHED_NAME = re.compile(r"[ -~]{1,255}")
    #: A non-negative integer (a list id, an index, a CRL number).
    COUNT = None
    #: A list of at most 64 names (claim names, scope values), each printable ASCII without spaces.
    NAMES = re.compile(r"[!-~]{1,128}")
    #: A list of at most 1024 non-negative integers (status indexes).
    COUNTS = "counts"


#: A field's value as stored.
FieldValue = str | int | list[str] | list[int]
_MAX_NAMES: Final = 64
_MAX_COUNTS: Final = 1024


class AuditFieldError(ValueError):
    """An event with a field that is not allowed, or a value that is not of the field's kind."""


@dataclass(frozen=True, slots=True)
class AuditSchema:
    """The allowed field names and their kinds (the personal-data rule of the module docstring)."""

    fields: Mapping[str, FieldKind]

    def check(self, event_type: str, fields: Mapping[str, object]) -> dict[str, FieldValue]:
        """``fields`` without the ``None`` values, or :class:`AuditFieldError` naming the first refused field."""
        if not _TYPE.fullmatch(event_type):
            raise AuditFieldError(f"event type {event_type!r}: lower-case letters, digits, '_' and '.'")
        checked: dict[str, FieldValue] = {}
        for name, value in fields.items():
            if value is None:
                continue
            kind = self.fields.get(name)
            if kind is None:
                raise AuditFieldError(f"field {name!r} is not an allowed audit field")
            checked[name] = _checked_value(name, kind, value)
        return checked


def _checked_value(name: str, kind: FieldKind, value: object) -> FieldValue:
    if kind is FieldKind.COUNT:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    elif kind is FieldKind.COUNTS:
        if (isinstance(value, list | tuple) and len(value) <= _MAX_COUNTS
                and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)):
            return list(value)
    elif kind is FieldKind.NAMES:
        if (isinstance(value, list | tuple | set | frozenset) and len(value) <= _MAX_NAMES
                and all(isinstance(v, str) and kind.value.fullmatch(v) for v in value)):
            return sorted(value) if isinstance(value, set | frozenset) else list(value)
    elif isinstance(value, str) and kind.value.fullmatch(value):
        return value
    raise AuditFieldError(f"field {name!r} does not hold a {kind.name.lower()}")


@dataclass(frozen=True, slots=True)
class AuditKey:
    """A chain key (HMAC-SHA256); its id (the first 8 hex digits of its SHA-256) is stored with each entry."""

    secret: bytes

    @property
    def key_id(self) -> str:
        """What an entry records to say which key made its hash."""
        return hashlib.sha256(self.secret).hexdigest()[:8]


@dataclass(frozen=True, slots=True)
class Entry:
    """One link of the chain."""

    seq: int
    time: str
    type: str
    fields: Mapping[str, Any]
    key_id: str
    prev_hash: str
    hash: str

    def to_json(self) -> str:
        """The entry as one JSON line (no newline)."""
        return json.dumps({"seq": self.seq, "time": self.time, "type": self.type, "fields": dict(self.fields),
                           "key_id": self.key_id, "prev_hash": self.prev_hash, "hash": self.hash},
                          ensure_ascii=False, separators=(",", ":"))


def canonical(value: object) -> str:
    """Canonical JSON: sorted keys, no spaces (the form that is hashed and stored)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def format_time(at: dt.datetime) -> str:
    """``at`` as an entry's time: ISO 8601 UTC with microseconds (fixed width, so text order is time order)."""
    if at.tzinfo is None:
        raise ValueError("naive datetimes are refused: pass an aware UTC datetime")
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(prev_hash: str, seq: int, time: str, event_type: str, fields: Mapping[str, Any],
               key: AuditKey | None) -> str:
    """The hash of an entry (module docstring)."""
    message = bytes.fromhex(prev_hash) + canonical([seq, time, event_type, fields]).encode("utf-8")
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key.secret, message, hashlib.sha256).hexdigest()


def make_entry(prev_seq: int, prev_hash: str, event_type: str, fields: Mapping[str, FieldValue], at: dt.datetime,
               key: AuditKey | None) -> Entry:
    """The entry that follows ``(prev_seq, prev_hash)``."""
    seq, time = prev_seq + 1, format_time(at)
    return Entry(seq, time, event_type, dict(fields), "" if key is None else key.key_id, prev_hash,
                 entry_hash(prev_hash, seq, time, event_type, fields, key))


class Kind(StrEnum):
    """How the chain is broken at the first bad entry."""

    #: An entry's content no longer matches its hash, or an entry before it was changed and rehashed.
    CHANGED = "changed"
    #: An entry is missing (a gap in seq, or the newest entries are gone).
    REMOVED = "removed"
    #: An entry that was never appended (its successor links past it, or it lies beyond the head).
    INSERTED = "inserted"
    #: Entries are out of chain order.
    REORDERED = "reordered"
    #: A line of an export is not an audit entry.
    MALFORMED = "malformed"


@dataclass(frozen=True, slots=True)
class Problem:
    """The first broken link: its kind, the seq it concerns (the line number for malformed lines), why."""

    kind: Kind
    seq: int
    detail: str

    def __str__(self) -> str:
        return f"{self.kind.value} at seq {self.seq}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The result of :func:`verify`: entries checked, the last good (seq, hash), and the problem if any."""

    checked: int
    last_seq: int
    last_hash: str
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        """Whether the whole chain is intact."""
        return self.problem is None


@dataclass(frozen=True, slots=True)
class Anchor:
    """Where a chain (or the part of it kept) starts: the seq and hash the first entry follows."""

    seq: int = 0
    hash: str = GENESIS


def read_lines(lines: Iterable[str]) -> Iterator[Entry | Problem]:
    """Entries from JSON lines (an export); a line that is not an entry yields a :attr:`Kind.MALFORMED`
    problem carrying its line number. Blank lines are skipped."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
            entry = Entry(document["seq"], document["time"], document["type"], document["fields"],
                          document.get("key_id", ""), document["prev_hash"], document["hash"])
            valid = (isinstance(entry.seq, int) and not isinstance(entry.seq, bool) and isinstance(entry.time, str)
                     and isinstance(entry.type, str) and isinstance(entry.fields, dict)
                     and isinstance(entry.key_id, str) and isinstance(entry.prev_hash, str)
                     and isinstance(entry.hash, str) and bool(_HEX64.fullmatch(entry.prev_hash)))
        except (ValueError, TypeError, KeyError, RecursionError):
            valid = False
        if not valid:
            yield Problem(Kind.MALFORMED, number, "not an audit entry")
            return
        yield entry


def verify(entries: Iterable[Entry | Problem], *, keys: Sequence[AuditKey] = (), anchor: Anchor | None = None,
           head_seq: int | None = None, unkeyed_until: int = 0, limit: int | None = None) -> Verdict:
    """Check a chain in the order given.

    ``anchor``: what the first entry must follow (``None``: an export's first entry is trusted to start the chain,
    unless its seq is 1, which must follow :data:`GENESIS`). ``head_seq``: the seq of the newest entry appended
    (the table's head row), which catches removal of the newest entries and insertion beyond them. ``keys``:
    with keys, an entry must carry the id of one of them, except entries up to ``unkeyed_until`` (appended before
    a key was configured); entries whose key is unknown fail as changed. ``limit``: stop, content, after this many
    good entries (the rest only serve to diagnose a problem; used to verify a table batch by batch).
    """
    by_id = {key.key_id: key for key in keys}
    window: deque[Entry | Problem] = deque()
    source = iter(entries)
    checked, expected, prev = 0, None if anchor is None else anchor.seq + 1, None if anchor is None else anchor.hash
    last_seq = 0 if anchor is None else anchor.seq

    def fill() -> None:
        while len(window) < LOOKAHEAD + 1:
            item = next(source, None)
            if item is None:
                return
            window.append(item)

    fill()
    while window:
        if checked == limit:
            return Verdict(checked, last_seq, prev or GENESIS)
        entry = window.popleft()
        if isinstance(entry, Problem):
            return Verdict(checked, last_seq, prev or GENESIS, entry)
        if expected is None:  # an export trusted to start where its first entry says
            expected, prev = entry.seq, GENESIS if entry.seq == 1 else entry.prev_hash
        key, problem = _key_for(entry, by_id, bool(keys), unkeyed_until)
        assert prev is not None
        if problem is None and head_seq is not None and entry.seq > head_seq:
            problem = Problem(Kind.INSERTED, entry.seq, f"beyond the chain's head (seq {head_seq})")
        if problem is None and (entry.seq != expected or entry.prev_hash != prev or not hmac.compare_digest(
                entry_hash(entry.prev_hash, entry.seq, entry.time, entry.type, entry.fields, key), entry.hash)):
            problem = _diagnose(entry, [e for e in window if isinstance(e, Entry)], expected, prev, key, checked)
        if problem is not None:
            return Verdict(checked, last_seq, prev, problem)
        checked, last_seq, prev, expected = checked + 1, entry.seq, entry.hash, expected + 1
        fill()
    if head_seq is not None and last_seq < head_seq:
        return Verdict(checked, last_seq, prev or GENESIS,
                       Problem(Kind.REMOVED, last_seq + 1, f"the chain ends before its head (seq {head_seq})"))
    return Verdict(checked, last_seq, prev or GENESIS)


def _key_for(entry: Entry, by_id: Mapping[str, AuditKey], keyed: bool,
             unkeyed_until: int) -> tuple[AuditKey | None, Problem | None]:
    if not entry.key_id:
        if keyed and entry.seq > unkeyed_until:
            return None, Problem(Kind.CHANGED, entry.seq, "not authenticated with a key (a key is configured)")
        return None, None
    key = by_id.get(entry.key_id)
    if key is None:
        return None, Problem(Kind.CHANGED, entry.seq, f"made with key {entry.key_id}, which is not given")
    return key, None


def _diagnose(entry: Entry, later: list[Entry], expected: int, prev: str, key: AuditKey | None,
              checked: int) -> Problem:
    """Why ``entry`` does not follow ``(expected - 1, prev)``, judged with the entries after it."""
    if any(other.seq == entry.seq for other in later):
        return Problem(Kind.INSERTED, entry.seq, f"a second entry with seq {entry.seq}")
    if any(other.hash == entry.prev_hash for other in later):
        return Problem(Kind.REORDERED, expected, f"seq {entry.seq} stands before the entry it follows")
    if later and later[0].prev_hash == prev:
        return Problem(Kind.INSERTED, entry.seq, "the next entry follows the one before this")
    if entry.seq > expected:
        if any(other.seq == expected for other in later):
            return Problem(Kind.REORDERED, expected, f"seq {expected} comes after seq {entry.seq}")
        return Problem(Kind.REMOVED, expected, f"missing (the next entry present is seq {entry.seq})")
    if entry.seq < expected:
        return Problem(Kind.INSERTED, entry.seq, f"a second entry with seq {entry.seq}")
    if not hmac.compare_digest(entry_hash(entry.prev_hash, entry.seq, entry.time, entry.type, entry.fields, key),
                               entry.hash):
        return Problem(Kind.CHANGED, entry.seq, "the content does not match its hash")
    if checked == 0:
        return Problem(Kind.CHANGED, entry.seq, "does not follow the chain's anchor")
    return Problem(Kind.CHANGED, expected - 1, f"seq {entry.seq} does not follow it (changed and rehashed)")


def entry_columns(table: str) -> list[SchemaItem]:
    """The columns of an entries table named ``table`` (``fields`` holds the canonical JSON that was hashed)."""
    return [Column("seq", BigInteger().with_variant(Integer(), "sqlite"), autoincrement=False, nullable=False),
            Column("time", String(27), nullable=False),
            Column("type", String(64), nullable=False),
            Column("fields", Text, nullable=False),
            Column("key_id", String(8), nullable=False),
            Column("prev_hash", String(64), nullable=False),
            Column("hash", String(64), nullable=False),
            PrimaryKeyConstraint("seq", name=f"pk_{table}")]


def head_columns(table: str) -> list[SchemaItem]:
    """The columns of a head table named ``table``: one row, the newest entry's seq and hash, and the retention
    anchor."""
    return [Column("id", Integer, autoincrement=False, nullable=False),
            Column("seq", BigInteger, nullable=False),
            Column("hash", String(64), nullable=False),
            Column("anchor_seq", BigInteger, nullable=False),
            Column("anchor_hash", String(64), nullable=False),
            PrimaryKeyConstraint("id", name=f"pk_{table}")]


#: The head row of a new chain (the migration that creates the head table inserts it).
INITIAL_HEAD: Final = {"id": _HEAD_ID, "seq": 0, "hash": GENESIS, "anchor_seq": 0, "anchor_hash": GENESIS}


@dataclass(frozen=True, slots=True)
class Head:
    """The chain's head row: the newest entry and the anchor the kept entries start from."""

    seq: int
    hash: str
    anchor: Anchor


#: Most entries one PostgreSQL append statement writes (a group of the events that queued meanwhile).
MAX_GROUP: Final = 32


@dataclass(slots=True)
class _Queued:
    """An event waiting for its turn, and the future its caller awaits."""

    event_type: str
    fields: Mapping[str, FieldValue]
    at: dt.datetime
    key: AuditKey | None
    done: asyncio.Future[Entry]


class _Appender:
    """A process's appends on PostgreSQL (per event loop): the events queued while a statement was in flight go
    together in the next one, after the head this process last saw."""

    def __init__(self) -> None:
        self.head: tuple[int, str] | None = None
        self.queue: deque[_Queued] = deque()
        self.writer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def enqueue(self, queued: _Queued, write: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Queue ``queued``; start ``write()`` as this loop's writer task unless one is running."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a queue and a task belong to one event loop
            self.queue, self.writer, self._loop = deque(), None, loop
        self.queue.append(queued)
        if self.writer is None or self.writer.done():
            self.writer = loop.create_task(write())

    def take(self) -> list[_Queued]:
        """Up to :data:`MAX_GROUP` queued events whose callers still wait, oldest first."""
        group: list[_Queued] = []
        while self.queue and len(group) < MAX_GROUP:
            queued = self.queue.popleft()
            if not queued.done.done():  # a cancelled caller's event is not written
                group.append(queued)
        return group


@dataclass(frozen=True, slots=True)
class AuditTrail:
    """The chain in ``entries`` (columns of :func:`entry_columns`, primary key ``seq``) with its head row in
    ``head`` (:func:`head_columns`); ``keys[0]``, when given, authenticates new entries (HMAC)."""

    db: Database
    entries: Table
    head_table: Table
    schema: AuditSchema
    keys: Sequence[AuditKey] = ()
    #: Entries up to this seq were appended before a key was configured (see :func:`verify`).
    unkeyed_until: int = 0
    _insert_entry: Any = field(init=False, repr=False, compare=False)
    _move_head: Any = field(init=False, repr=False, compare=False)
    _read_head: Any = field(init=False, repr=False, compare=False)
    _read_head_for_update: Any = field(init=False, repr=False, compare=False)
    _read_head_now: Prepared = field(init=False, repr=False, compare=False)
    _append_after: dict[int, Prepared] = field(init=False, repr=False, compare=False)  # by entries per group
    _appender: _Appender = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Built once, values bound per call: an append is on the token endpoint's path, and building a statement
        # with literal values costs more than running it (SQLAlchemy derives a cache key from every value).
        head = self.head_table
        object.__setattr__(self, "_insert_entry", self.entries.insert())
        object.__setattr__(self, "_read_head", select(head).where(head.c.id == _HEAD_ID))
        object.__setattr__(self, "_read_head_for_update", self._read_head.with_for_update())
        object.__setattr__(self, "_move_head", update(head).where(head.c.id == _HEAD_ID).values(
            seq=bindparam("new_seq"), hash=bindparam("new_hash")))
        object.__setattr__(self, "_read_head_now", Prepared(select(head.c.seq, head.c.hash)
                                                            .where(head.c.id == _HEAD_ID)))
        object.__setattr__(self, "_append_after", {})
        object.__setattr__(self, "_appender", _Appender())

    def _append_group_after(self, count: int) -> Prepared:
        """PostgreSQL: move the head from the seq this process believes current past ``count`` entries and insert
        them, in one statement (data-modifying WITHs); the row it returns is the head as the statement found it, so
        an append that lost to another process's learns the new head from its own round trip. Entry ``n``'s values
        are bound as ``e<n>_<column>``."""
        statement = self._append_after.get(count)
        if statement is not None:
            return statement
        head = self.head_table
        moved = (update(head).where(head.c.id == _HEAD_ID, head.c.seq == bindparam("prev_seq"))
                 .values(seq=bindparam("new_seq"), hash=bindparam("new_hash")).returning(head.c.id).cte("moved"))
        names = ("seq", "time", "type", "fields", "key_id", "prev_hash", "hash")
        rows = [select(*(bindparam(f"e{n}_{name}", type_=self.entries.c[name].type) for name in names))
                .select_from(moved) for n in range(count)]
        added = (insert(self.entries).from_select(list(names), rows[0] if count == 1 else union_all(*rows))
                 .returning(self.entries.c.seq).cte("added"))
        statement = self._append_after[count] = Prepared(
            select(select(func.count()).select_from(added).scalar_subquery(), head.c.seq, head.c.hash)
            .where(head.c.id == _HEAD_ID), reads_only=False)
        return statement

    async def append(self, event_type: str, fields: Mapping[str, object], *, at: dt.datetime) -> Entry:
        """Append one event (its fields checked against the schema first) in one serialised transaction."""
        checked = self.schema.check(event_type, fields)
        key = self.keys[0] if self.keys else None
        if self.db.dialect == "postgresql":
            return await self._append_optimistically(event_type, checked, at, key)
        async with self.db.begin() as conn:
            head = await self._head(conn, for_update=True)
            entry = make_entry(head.seq, head.hash, event_type, checked, at, key)
            await conn.execute(self._insert_entry, {
                "seq": entry.seq, "time": entry.time, "type": entry.type, "fields": canonical(entry.fields),
                "key_id": entry.key_id, "prev_hash": entry.prev_hash, "hash": entry.hash})
            await conn.execute(self._move_head, {"new_seq": entry.seq, "new_hash": entry.hash})
        return entry

    async def _append_optimistically(self, event_type: str, checked: Mapping[str, FieldValue], at: dt.datetime,
                                     key: AuditKey | None) -> Entry:
        """PostgreSQL: queue the event for this process's writer task (:meth:`_write_queued`) and wait until it is
        stored. A caller cancelled while waiting leaves an event that is either not written or written whole."""
        queued = _Queued(event_type, checked, at, key, asyncio.get_running_loop().create_future())
        self._appender.enqueue(queued, self._write_queued)
        return await queued.done

    async def _write_queued(self) -> None:
        """This process's writer: the queued events, a group at a time in chain order, each group in one statement
        (:meth:`_append_group`); a group that fails fails its callers only. A task of its own, so that no caller's
        cancellation stops the others' appends. No database lock is held across the event loop's turns (a
        transaction holding the head row across its round trips made every other worker's append wait for this
        process's loop); this process's own groups go one at a time, so they never race each other."""
        appender = self._appender
        while group := appender.take():
            try:
                entries = await self._append_group(group)
            except Exception as exc:
                for queued in group:
                    if not queued.done.done():
                        queued.done.set_exception(exc)
                continue
            except BaseException:  # the writer itself was cancelled: the loop is closing
                for queued in [*group, *appender.take()]:
                    queued.done.cancel()
                raise
            for queued, entry in zip(group, entries, strict=True):
                if not queued.done.done():
                    queued.done.set_result(entry)

    async def _append_group(self, group: Sequence[_Queued]) -> list[Entry]:
        """Append ``group`` after the head this process last saw, in one statement; when another process moved the
        head meanwhile, that statement moved nothing, inserted nothing and returned the head it found, and the
        entries are made again after that."""
        appender = self._appender
        while True:
            if appender.head is None:
                row = await self.db.first(self._read_head_now, {})
                if row is None:  # a chain without its head row: create it, the serialised way
                    async with self.db.begin() as conn:
                        await self._head(conn)
                    continue
                appender.head = (row[0], row[1])
            seq, last_hash = appender.head
            entries: list[Entry] = []
            values: dict[str, Any] = {"prev_seq": seq}
            for n, queued in enumerate(group):
                entry = make_entry(seq, last_hash, queued.event_type, queued.fields, queued.at, queued.key)
                entries.append(entry)
                seq, last_hash = entry.seq, entry.hash
                values.update({f"e{n}_seq": entry.seq, f"e{n}_time": entry.time, f"e{n}_type": entry.type,
                               f"e{n}_fields": canonical(entry.fields), f"e{n}_key_id": entry.key_id,
                               f"e{n}_prev_hash": entry.prev_hash, f"e{n}_hash": entry.hash})
            values.update({"new_seq": seq, "new_hash": last_hash})
            appender.head = None  # unknown until the answer comes (a lost connection leaves it unknown)
            row = await self.db.first(self._append_group_after(len(group)), values)
            if row is not None and row[0]:
                appender.head = (seq, last_hash)
                return entries
            if row is not None:
                appender.head = (row[1], row[2])

    async def _head(self, conn: Connection, *, for_update: bool = False) -> Head:
        query = self._read_head_for_update if for_update else self._read_head
        row = (await conn.execute(query)).first()
        if row is None:
            await conn.execute(self.db.insert(self.head_table).values(**INITIAL_HEAD).on_conflict_do_nothing())
            row = (await conn.execute(query)).one()
        return Head(row.seq, row.hash, Anchor(row.anchor_seq, row.anchor_hash))

    async def head(self) -> Head:
        """The head row (log or keep its hash elsewhere: it is what truncation is caught against)."""
        async with self.db.begin() as conn:
            return await self._head(conn)

    async def iter_entries(self, since: int = 0) -> AsyncIterator[Entry]:
        """The entries after seq ``since``, in seq order, read :data:`BATCH` at a time."""
        while True:
            batch = await self._batch(since)
            for entry in batch:
                yield entry
            if len(batch) < BATCH:
                return
            since = batch[-1].seq

    async def _batch(self, since: int) -> list[Entry]:
        table = self.entries
        async with self.db.connection() as conn:
            rows = (await conn.execute(select(table).where(table.c.seq > since)
                                       .order_by(table.c.seq).limit(BATCH))).all()
        return [Entry(row.seq, row.time, row.type, json.loads(row.fields), row.key_id, row.prev_hash, row.hash)
                for row in rows]

    async def export(self, out: TextIO, since: int = 0) -> int:
        """Write the entries after seq ``since`` to ``out`` as JSON lines; return how many."""
        count = 0
        async for entry in self.iter_entries(since):
            out.write(entry.to_json() + "\n")
            count += 1
        return count

    async def verify(self) -> Verdict:
        """Verify the table from its anchor to its head, :data:`BATCH` entries at a time (each with the next
        batch as look-ahead for the diagnosis)."""
        head = await self.head()
        anchor, checked = head.anchor, 0
        batch = await self._batch(anchor.seq)
        while True:
            following = await self._batch(batch[-1].seq) if len(batch) == BATCH else []
            verdict = verify(batch + following, keys=self.keys, anchor=anchor, head_seq=head.seq,
                             unkeyed_until=self.unkeyed_until, limit=len(batch) if following else None)
            checked += verdict.checked
            if not verdict.ok or not following:
                return replace(verdict, checked=checked)
            anchor, batch = Anchor(verdict.last_seq, verdict.last_hash), following

    async def prune(self, before: dt.datetime) -> int:
        """Delete the entries older than ``before`` (from the oldest on, :data:`BATCH` per transaction), moving
        the anchor to the last one deleted; return how many were deleted."""
        cutoff, table, deleted = format_time(before), self.entries, 0
        while True:
            async with self.db.begin() as conn:
                head = await self._head(conn, for_update=True)
                rows = (await conn.execute(select(table.c.seq, table.c.hash, table.c.time)
                                           .where(table.c.seq > head.anchor.seq)
                                           .order_by(table.c.seq).limit(BATCH))).all()
                # only a prefix of the chain goes: up to the first entry that is still young
                young = next((i for i, row in enumerate(rows) if row.time >= cutoff), len(rows))
                if young == 0:
                    return deleted
                last = rows[young - 1]
                await conn.execute(delete(table).where(table.c.seq <= last.seq))
                await conn.execute(update(self.head_table).where(self.head_table.c.id == _HEAD_ID)
                                   .values(anchor_seq=last.seq, anchor_hash=last.hash))
            deleted += young
            if young < BATCH:
                return deleted


__all__ = ["BATCH", "GENESIS", "INITIAL_HEAD", "Anchor", "AuditFieldError", "AuditKey", "AuditSchema", "AuditTrail",
           "Entry", "FieldKind", "FieldValue", "Head", "Kind", "Problem", "Verdict", "canonical", "entry_columns",
           "entry_hash", "format_time", "head_columns", "make_entry", "read_lines", "verify"]
