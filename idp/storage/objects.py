"""Short-lived protocol objects behind one adapter, after node-oidc-provider's (``example/my_adapter.js``).

Authorization codes, PAR requests, sessions, grants and the like are JSON payloads of a ``kind``
under an ``id``, with an expiry and optionally the grant they belong to. :meth:`ObjectStore.consume`
is atomic across processes and machines: one ``UPDATE … WHERE consumed_at IS NULL … RETURNING``
decides which of any number of concurrent callers wins (oidc-anchors.md §4, "auth code redeemed
twice"). Expired objects are never returned and are deleted by :mod:`idp.storage.cleanup`. Each method is one
statement and one round trip (:class:`servicekit.database.Prepared`: on PostgreSQL straight on asyncpg).

Each statement on a request's path finds its rows by the unique (kind, id) index whatever PostgreSQL knows of the
table: asyncpg prepares statements, and PostgreSQL may plan a prepared statement once for all values (a generic
plan) while the table is still small, when a scan costs as little as a lookup. A lookup by the whole key is
planned as one in any case; an ``OR`` of keys or an ``EXISTS`` (made a join) need not be, so several keys are a
``UNION ALL`` of lookups and a grant's liveness a correlated scalar subquery (tests/idp/test_object_plans.py).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import bindparam, delete, select, union_all, update

from idp.storage.tables import objects
from servicekit.database import Database, Prepared

#: Upper bound of a payload as JSON, so that no caller can grow a row without limit.
MAX_PAYLOAD_OCTETS: Final = 64 * 1024
_MAX_KIND: Final = 32
_MAX_ID: Final = 255

_COLUMNS = (objects.c.kind, objects.c.id, objects.c.payload, objects.c.grant_id, objects.c.expires_at,
            objects.c.consumed_at)
_KEY = (objects.c.kind == bindparam("b_kind"), objects.c.id == bindparam("b_id"))  # not column names (UPDATE)

# The statements are built once, with bound parameters, so that each call only binds values: SQLAlchemy
# memoises a statement object's cache key and compiled form, which are most of a statement's cost.
_FIND: Final = Prepared(select(*_COLUMNS).where(*_KEY, objects.c.expires_at > bindparam("now")))
_CONSUME: Final = Prepared(update(objects)
                           .where(*_KEY, objects.c.consumed_at.is_(None), objects.c.expires_at > bindparam("now"))
                           .values(consumed_at=bindparam("now")).returning(*_COLUMNS))
_GRANT = objects.alias("grant_row")
_LIVE_GRANT = (_GRANT.c.kind == bindparam("b_grant_kind"), _GRANT.c.id == objects.c.grant_id,
               _GRANT.c.expires_at > bindparam("now"))
#: The grant's expiry as a correlated scalar subquery, compared in the WHERE clause. Not ``EXISTS``: PostgreSQL
#: turns an ``EXISTS`` into a semi-join, whose generic plan read grants by ``kind`` alone and filtered them by id
#: (~1,000 grants read per code redemption after 8 s of bench load); a scalar subquery stays a lookup.
_GRANT_EXPIRES = select(_GRANT.c.expires_at).where(_GRANT.c.kind == bindparam("b_grant_kind"),
                                                   _GRANT.c.id == objects.c.grant_id).scalar_subquery()
_CONSUME_IN_GRANT: dict[tuple[tuple[str, ...], tuple[str, ...]], Prepared] = {}  # by member names, absent names


def _members(names: Sequence[str], absent: Sequence[str]) -> list[Any]:
    """Conditions: each of ``names`` a string member of the payload equal to the value bound as ``m_<n>``, each of
    ``absent`` missing or null."""
    return [*(objects.c.payload[name].as_string() == bindparam(f"m_{n}") for n, name in enumerate(names)),
            *(objects.c.payload[name].as_string().is_(None) for name in absent)]


def _member_values(names: Sequence[str], members: Mapping[str, str | None]) -> dict[str, Any]:
    return {f"m_{n}": members[name] for n, name in enumerate(names)}


_MATCHING: dict[tuple[str, ...], Prepared] = {}
_FIND_MANY: dict[int, Prepared] = {}  # by number of keys
_DESTROY: Final = Prepared(delete(objects).where(*_KEY))
_REVOKE: Final = Prepared(delete(objects).where(objects.c.grant_id == bindparam("grant")))


_VALUE_COLUMNS: Final = ("kind", "id", "payload", "grant_id", "expires_at", "consumed_at")


@dataclass(slots=True)
class _Upserts:
    """The dialect's INSERT … ON CONFLICT statements: ``replace`` of n objects (built per n, values named
    ``column_i``) and ``remember`` (values named by column)."""

    db: Database
    remember: Prepared
    _replace: dict[int, Prepared]

    @classmethod
    def build(cls, db: Database) -> _Upserts:
        insert = db.insert(objects)
        remember = insert.on_conflict_do_update(
            index_elements=[objects.c.kind, objects.c.id],
            set_={"payload": insert.excluded.payload, "grant_id": None,
                  "expires_at": insert.excluded.expires_at, "consumed_at": None},
            where=objects.c.expires_at <= bindparam("now"),
        ).returning(objects.c.id)
        return cls(db, Prepared(remember), {})

    def replace(self, count: int) -> Prepared:
        """INSERT of ``count`` objects, each replacing any object under its key (and its consumption)."""
        statement = self._replace.get(count)
        if statement is None:
            insert = self.db.insert(objects).values([
                {name: bindparam(f"{name}_{n}", type_=objects.c[name].type) for name in _VALUE_COLUMNS}
                for n in range(count)])
            statement = self._replace[count] = Prepared(insert.on_conflict_do_update(
                index_elements=[objects.c.kind, objects.c.id],
                set_={"payload": insert.excluded.payload, "grant_id": insert.excluded.grant_id,
                      "expires_at": insert.excluded.expires_at, "consumed_at": None}))
        return statement


@dataclass(frozen=True, slots=True)
class NewObject:
    """An object to store with :meth:`ObjectStore.upsert_many`."""

    kind: str
    id: str
    payload: Mapping[str, Any]
    expires_at: dt.datetime
    grant_id: str | None = None


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One stored object; ``consumed_at`` is set once it has been consumed."""

    kind: str
    id: str
    payload: dict[str, Any]
    grant_id: str | None
    expires_at: dt.datetime
    consumed_at: dt.datetime | None


def _check_key(kind: str, id_: str) -> None:
    if not 0 < len(kind) <= _MAX_KIND or not 0 < len(id_) <= _MAX_ID:
        raise ValueError(f"kind must be 1-{_MAX_KIND} and id 1-{_MAX_ID} characters")


def _row(row: Any) -> StoredObject:
    kind, id_, payload, grant_id, expires_at, consumed_at = row  # the order of _COLUMNS
    return StoredObject(kind, id_, payload, grant_id, expires_at, consumed_at)


class ObjectStore:
    """The adapter: ``upsert`` (``upsert_many``), ``remember_once``, ``find`` (``find_many``), ``find_matching``,
    ``consume`` (``consume_matching``, ``consume_in_grant``), ``destroy``, ``revoke_by_grant``."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._upserts = _Upserts.build(db)

    async def upsert(
        self, kind: str, id: str, payload: Mapping[str, Any], expires_at: dt.datetime, grant_id: str | None = None
    ) -> None:
        """Store ``payload`` under (``kind``, ``id``), replacing any previous object (and its consumption)."""
        await self.upsert_many([NewObject(kind, id, payload, expires_at, grant_id)])

    async def upsert_many(self, new: Sequence[NewObject]) -> None:
        """:meth:`upsert` of each of ``new`` (distinct keys), in one statement: all are stored or none."""
        values: dict[str, Any] = {}
        for n, item in enumerate(new):
            _check_key(item.kind, item.id)
            if item.expires_at.tzinfo is None:
                raise ValueError("expires_at must be an aware datetime")
            document = dict(item.payload)
            if len(json.dumps(document, separators=(",", ":")).encode("utf-8")) > MAX_PAYLOAD_OCTETS:
                raise ValueError(f"payload larger than {MAX_PAYLOAD_OCTETS} octets")
            values.update({f"kind_{n}": item.kind, f"id_{n}": item.id, f"payload_{n}": document,
                           f"grant_id_{n}": item.grant_id, f"expires_at_{n}": item.expires_at,
                           f"consumed_at_{n}": None})
        if len({(item.kind, item.id) for item in new}) != len(new):
            raise ValueError("the same key twice in one upsert_many")
        if new:
            await self._db.run(self._upserts.replace(len(new)), values)

    async def remember_once(
        self, kind: str, id: str, *, expires_at: dt.datetime, now: dt.datetime, payload: Mapping[str, Any] | None = None
    ) -> bool:
        """Record (``kind``, ``id``) until ``expires_at`` and return True, unless an unexpired record exists
        (then False): one atomic statement, so of concurrent callers in any process exactly one wins. For
        single-use identifiers (``jti`` of client assertions and DPoP proofs, RFC 7523 §3, RFC 9449 §11.1) and
        values the first writer decides for every worker (DPoP server nonces)."""
        _check_key(kind, id)
        if expires_at.tzinfo is None or now.tzinfo is None:
            raise ValueError("times must be aware datetimes")
        row = await self._db.first(self._upserts.remember, {
            "kind": kind, "id": id, "payload": dict(payload or {}), "grant_id": None, "expires_at": expires_at,
            "consumed_at": None, "now": now})
        return row is not None

    async def find(self, kind: str, id: str, *, now: dt.datetime) -> StoredObject | None:
        """The unexpired object, consumed or not (a consumed one tells the caller of a replay)."""
        _check_key(kind, id)
        row = await self._db.first(_FIND, {"b_kind": kind, "b_id": id, "now": now})
        return None if row is None else _row(row)

    async def find_many(self, keys: Sequence[tuple[str, str]], *,
                        now: dt.datetime) -> dict[tuple[str, str], StoredObject]:
        """:meth:`find` for each (``kind``, ``id``) of ``keys`` in one statement: the unexpired ones, by key (the
        others are missing). For a request that needs several objects it can name at once."""
        for kind, id_ in keys:
            _check_key(kind, id_)
        statement = _FIND_MANY.get(len(keys))
        if statement is None:  # one lookup by key per branch: an OR of keys may be planned as a scan (module doc)
            branches = [select(*_COLUMNS).where(objects.c.kind == bindparam(f"k_{n}"),
                                                objects.c.id == bindparam(f"i_{n}"),
                                                objects.c.expires_at > bindparam("now")) for n in range(len(keys))]
            statement = _FIND_MANY[len(keys)] = Prepared(branches[0] if len(branches) == 1 else union_all(*branches),
                                                         reads_only=True)
        values: dict[str, Any] = {"now": now}
        for n, (kind, id_) in enumerate(keys):
            values[f"k_{n}"], values[f"i_{n}"] = kind, id_
        found = [_row(row) for row in await self._db.all(statement, values)] if keys else []
        return {(stored.kind, stored.id): stored for stored in found}

    async def find_matching(self, kind: str, members: Mapping[str, str], *, now: dt.datetime,
                            limit: int = 100) -> list[StoredObject]:
        """The unexpired objects of ``kind`` whose payload has each of ``members`` as a string member with that
        value (at most ``limit``, by id): for administration, not for a request's path (it scans the kind)."""
        statement = select(*_COLUMNS).where(
            objects.c.kind == kind, objects.c.expires_at > now,
            *(objects.c.payload[name].as_string() == value for name, value in members.items()),
        ).order_by(objects.c.id).limit(limit)
        async with self._db.connection() as conn:
            return [_row(row) for row in (await conn.execute(statement)).all()]

    async def consume(self, kind: str, id: str, *, now: dt.datetime) -> StoredObject | None:
        """Mark the object consumed at ``now`` and return it, if and only if this call did so.

        None means: absent, expired, or already consumed (by this or any other process).
        """
        _check_key(kind, id)
        row = await self._db.first(_CONSUME, {"b_kind": kind, "b_id": id, "now": now})
        return None if row is None else _row(row)

    async def consume_matching(self, kind: str, id: str, members: Mapping[str, str], *,
                               now: dt.datetime) -> StoredObject | None:
        """:meth:`consume`, but only when each of ``members`` is a string member of the payload with that value (for
        instance the client it was issued to): whoever else presents the object leaves it unconsumed."""
        _check_key(kind, id)
        names = tuple(sorted(members))
        statement = _MATCHING.get(names)
        if statement is None:
            statement = _MATCHING[names] = Prepared(
                update(objects)
                .where(*_KEY, objects.c.consumed_at.is_(None), objects.c.expires_at > bindparam("now"),
                       *_members(names, ()))
                .values(consumed_at=bindparam("now")).returning(*_COLUMNS))
        row = await self._db.first(statement, {"b_kind": kind, "b_id": id, "now": now,
                                               **_member_values(names, members)})
        return None if row is None else _row(row)

    async def consume_in_grant(self, kind: str, id: str, grant_kind: str, *, now: dt.datetime,
                               members: Mapping[str, str | None] | None = None,
                               ) -> tuple[StoredObject, StoredObject] | None:
        """:meth:`consume`, but only while the object's grant (the object of ``grant_kind`` whose id is the
        object's ``grant_id``) is unexpired, and (as :meth:`consume_matching`) each of ``members`` is a string
        member of the payload with that value (with None: missing or null): the object and its grant, from one
        statement. None: absent, expired, consumed already, its grant revoked or expired, or a member differs."""
        _check_key(kind, id)
        given = members or {}
        names = tuple(sorted(name for name, value in given.items() if value is not None))
        absent = tuple(sorted(name for name, value in given.items() if value is None))
        statement = _CONSUME_IN_GRANT.get((names, absent))
        if statement is None:
            statement = _CONSUME_IN_GRANT[names, absent] = Prepared(
                update(objects)
                .where(*_KEY, objects.c.consumed_at.is_(None), objects.c.expires_at > bindparam("now"),
                       bindparam("now") < _GRANT_EXPIRES, *_members(names, absent))
                .values(consumed_at=bindparam("now"))
                .returning(*_COLUMNS, select(_GRANT.c.payload).where(*_LIVE_GRANT).scalar_subquery(),
                           _GRANT_EXPIRES))
        row = await self._db.first(statement, {"b_kind": kind, "b_id": id, "b_grant_kind": grant_kind, "now": now,
                                               **_member_values(names, given)})
        if row is None:
            return None
        consumed = _row(row[:6])
        assert consumed.grant_id is not None
        return consumed, StoredObject(grant_kind, consumed.grant_id, row[6], consumed.grant_id, row[7], None)

    async def destroy(self, kind: str, id: str) -> bool:
        """Delete the object (idempotent); True when this call deleted it."""
        _check_key(kind, id)
        return await self._db.run(_DESTROY, {"b_kind": kind, "b_id": id}) > 0

    async def revoke_by_grant(self, grant_id: str) -> int:
        """Delete every object of the grant (RFC 6749 §4.1.2: on code reuse, revoke what it issued)."""
        return await self._db.run(_REVOKE, {"grant": grant_id})
