"""Token Status Lists and the status entries of issued credentials (draft-ietf-oauth-status-list; tables
``status_lists`` and ``issued_credentials``).

Each issued credential has one entry: a random index, unique per list (HAIP 1.0), reserved inside the issuing
transaction (:meth:`StatusListStore.reserve`). Statuses are :class:`~credentials.status.bits.StatusType` values
(§7.1): INVALID is final, VALID comes back only from SUSPENDED. Every change bumps its list's ``version`` in the
same transaction, which is how every worker knows its signed Status List Token is stale::

    lists = StatusListStore(db)
    changed = await lists.set_status(StatusType.SUSPENDED, status_list_id=1, status_idx=42)
    view = await lists.view(1)            # bits, size, version and the non-VALID entries {42: SUSPENDED}
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import func, select, update

from credentials.status.bits import StatusType
from idp.storage.tables import issued_credentials, status_lists
from servicekit.database import Connection, Database


@dataclass(frozen=True, slots=True)
class StatusListParameters:
    """How new lists are made: entries, bits per entry, and how many entries are handed out before a new list."""

    size: int
    bits: int
    capacity: int


@dataclass(frozen=True, slots=True)
class StatusListView:
    """A list and its non-VALID entries (index → status)."""

    id: int
    bits: int
    size: int
    version: int
    entries: Mapping[int, StatusType]


@dataclass(frozen=True, slots=True)
class StatusEntry:
    """One issued credential's status entry."""

    credential_id: int
    status_list_id: int
    status_idx: int
    status: StatusType
    configuration_id: str
    issued_at: dt.datetime
    expires_at: dt.datetime


_INDEX_TRIES: Final = 64
_LIST_TRIES: Final = 4


def _selection(credential_id: int | None, status_list_id: int | None, status_idx: int | None,
               dataset: str | None) -> list[Any]:
    if credential_id is not None:
        return [issued_credentials.c.id == credential_id]
    if status_list_id is not None and status_idx is not None:
        return [issued_credentials.c.status_list_id == status_list_id, issued_credentials.c.status_idx == status_idx]
    if dataset is not None:
        return [issued_credentials.c.dataset == dataset]
    raise ValueError("select by credential id, by list and index, or by dataset")


class StatusListStore:
    """The lists and their entries, shared by every worker."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def reserve(self, conn: Connection, count: int, lists: StatusListParameters, *, dataset: str,
                      cert_ref: str, configuration_id: str, expires_at: dt.datetime,
                      now: dt.datetime) -> list[tuple[int, int]]:
        """Reserve ``count`` VALID entries (list, index) in the caller's transaction, each at a random index no
        other credential ever had (HAIP 1.0): a unique ``(list, index)`` row."""
        list_id = await self._current_list(conn, count, lists, now)
        entries: list[tuple[int, int]] = []
        for _ in range(count):
            for _ in range(_INDEX_TRIES):
                idx = secrets.randbelow(lists.size)
                stmt = self._db.insert(issued_credentials).values(
                    status_list_id=list_id, status_idx=idx, status=int(StatusType.VALID),
                    configuration_id=configuration_id, dataset=dataset, cert_ref=cert_ref, issued_at=now,
                    expires_at=expires_at,
                ).on_conflict_do_nothing(index_elements=[issued_credentials.c.status_list_id,
                                                         issued_credentials.c.status_idx]).returning(
                    issued_credentials.c.id)
                if (await conn.execute(stmt)).first() is not None:
                    entries.append((list_id, idx))
                    break
            else:  # pragma: no cover - at most half full, 64 misses in a row are ~2^-64
                raise RuntimeError("no free status index found")
        return entries

    async def _current_list(self, conn: Connection, count: int, lists: StatusListParameters,
                            now: dt.datetime) -> int:
        """The first list with room for ``count`` more entries (made if there is none), its fill raised."""
        for _ in range(_LIST_TRIES):
            found = (await conn.execute(
                select(status_lists.c.id).where(status_lists.c.allocated + count <= status_lists.c.capacity)
                .order_by(status_lists.c.id).limit(1))).first()
            if found is None:
                next_id = (await conn.execute(select(func.coalesce(func.max(status_lists.c.id), 0) + 1))).scalar_one()
                await conn.execute(self._db.insert(status_lists).values(
                    id=next_id, bits=lists.bits, size=lists.size, capacity=lists.capacity, allocated=0, version=0,
                    created_at=now).on_conflict_do_nothing(index_elements=[status_lists.c.id]))
                continue
            taken = (await conn.execute(
                update(status_lists).where(status_lists.c.id == found.id,
                                           status_lists.c.allocated + count <= status_lists.c.capacity)
                .values(allocated=status_lists.c.allocated + count).returning(status_lists.c.id))).first()
            if taken is not None:
                return int(taken.id)
        raise RuntimeError("could not reserve status entries")  # pragma: no cover

    async def view(self, list_id: int) -> StatusListView | None:
        """The list and its non-VALID entries (``None``: no such list)."""
        async with self._db.connection() as conn:
            row = (await conn.execute(select(status_lists).where(status_lists.c.id == list_id))).first()
            if row is None:
                return None
            entries = (await conn.execute(
                select(issued_credentials.c.status_idx, issued_credentials.c.status)
                .where(issued_credentials.c.status_list_id == list_id,
                       issued_credentials.c.status != int(StatusType.VALID)))).all()
        return StatusListView(row.id, row.bits, row.size, row.version,
                              {e.status_idx: StatusType(e.status) for e in entries})

    async def version(self, list_id: int) -> int | None:
        """The version of a list (``None``: no such list)."""
        async with self._db.connection() as conn:
            return (await conn.execute(select(status_lists.c.version).where(status_lists.c.id == list_id))
                    ).scalar_one_or_none()

    async def summaries(self) -> list[dict[str, Any]]:
        """Every list with its fill."""
        async with self._db.connection() as conn:
            rows = (await conn.execute(select(status_lists).order_by(status_lists.c.id))).all()
        return [{"id": r.id, "bits": r.bits, "size": r.size, "capacity": r.capacity, "allocated": r.allocated,
                 "version": r.version, "created_at": r.created_at.isoformat()} for r in rows]

    async def entries(self, *, credential_id: int | None = None, status_list_id: int | None = None,
                      status_idx: int | None = None, dataset: str | None = None) -> list[StatusEntry]:
        """Status entries selected by credential id, by (list, index) or by dataset."""
        stmt = select(issued_credentials).where(*_selection(credential_id, status_list_id, status_idx, dataset))
        async with self._db.connection() as conn:
            rows = (await conn.execute(stmt.order_by(issued_credentials.c.id))).all()
        return [StatusEntry(r.id, r.status_list_id, r.status_idx, StatusType(r.status), r.configuration_id,
                            r.issued_at, r.expires_at) for r in rows]

    async def set_status(self, status: StatusType, *, credential_id: int | None = None,
                         status_list_id: int | None = None, status_idx: int | None = None,
                         dataset: str | None = None) -> int:
        """Change the selected entries to ``status``; INVALID is final, VALID only comes back from SUSPENDED (§7.1).
        How many changed."""
        selection = _selection(credential_id, status_list_id, status_idx, dataset)
        column = issued_credentials.c.status
        allowed = (column == int(StatusType.SUSPENDED) if status is StatusType.VALID
                   else column.notin_([int(StatusType.INVALID), int(status)]))
        async with self._db.begin() as conn:
            changed = (await conn.execute(update(issued_credentials).where(*selection, allowed)
                                          .values(status=int(status))
                                          .returning(issued_credentials.c.status_list_id))).all()
            await _bump(conn, {r.status_list_id for r in changed})
        return len(changed)

    async def live_references(self, now: dt.datetime) -> set[str]:
        """The certificate references of unexpired credentials not INVALID."""
        async with self._db.connection() as conn:
            rows = (await conn.execute(select(issued_credentials.c.cert_ref).distinct().where(
                issued_credentials.c.status != int(StatusType.INVALID), issued_credentials.c.expires_at > now))).all()
        return {r.cert_ref for r in rows}

    @staticmethod
    async def invalidate_references(conn: Connection, references: Iterable[str]) -> int:
        """INVALID for every credential of these certificate references, in the caller's transaction; how many."""
        changed = (await conn.execute(
            update(issued_credentials).where(issued_credentials.c.cert_ref.in_(list(references)),
                                             issued_credentials.c.status != int(StatusType.INVALID))
            .values(status=int(StatusType.INVALID)).returning(issued_credentials.c.status_list_id))).all()
        await _bump(conn, {r.status_list_id for r in changed})
        return len(changed)


async def _bump(conn: Connection, list_ids: set[int]) -> None:
    """A new version for each list whose entries changed."""
    if list_ids:
        await conn.execute(update(status_lists).where(status_lists.c.id.in_(sorted(list_ids)))
                           .values(version=status_lists.c.version + 1))


__all__ = ["StatusEntry", "StatusListParameters", "StatusListStore", "StatusListView"]
