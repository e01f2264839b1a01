"""The SQLite execution model (servicekit.database): one connection per process taken in turn, transactions
that hold the write lock from their start, and nested use refused rather than deadlocked."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from idp.storage import Database, ObjectStore, migrate
from idp.storage.tables import objects

pytestmark = pytest.mark.anyio
LATER = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)


@pytest.fixture
async def sqlite(tmp_path: Path) -> Database:
    db = Database.connect(f"sqlite:///{tmp_path / 'idp.sqlite3'}")
    await migrate(db)
    return db


async def test_nested_use_is_refused(sqlite: Database) -> None:
    async with sqlite.begin():
        with pytest.raises(RuntimeError, match="nested database use"):
            async with sqlite.connection():
                pass
    async with sqlite.connection() as conn:  # the connection is usable again
        assert (await conn.exec_driver_sql("SELECT 1")).scalar() == 1
    await sqlite.dispose()


async def test_a_transaction_that_yields_keeps_other_tasks_out(sqlite: Database) -> None:
    store, seen = ObjectStore(sqlite), []

    async def writer() -> None:
        async with sqlite.begin() as conn:
            await conn.execute(objects.insert(), {"kind": "K", "id": "a", "payload": {}, "grant_id": None,
                                                  "expires_at": LATER, "consumed_at": None})
            await asyncio.sleep(0.05)  # another task runs meanwhile, but not on this connection
            await conn.execute(objects.insert(), {"kind": "K", "id": "b", "payload": {}, "grant_id": None,
                                                  "expires_at": LATER, "consumed_at": None})

    async def reader() -> None:
        await asyncio.sleep(0.01)
        seen.append(await store.find("K", "a", now=dt.datetime.now(dt.UTC)) is not None)
        seen.append(await store.find("K", "b", now=dt.datetime.now(dt.UTC)) is not None)

    await asyncio.gather(writer(), reader())
    assert seen == [True, True]  # the reader waited for the whole transaction


async def _insert_then_fail(db: Database) -> None:
    async with db.begin() as conn:
        await conn.execute(objects.insert(), {"kind": "K", "id": "x", "payload": {}, "grant_id": None,
                                              "expires_at": LATER, "consumed_at": None})
        raise ValueError("boom")


async def test_a_failed_transaction_rolls_back(sqlite: Database) -> None:
    with pytest.raises(ValueError, match="boom"):
        await _insert_then_fail(sqlite)
    async with sqlite.connection() as conn:
        assert (await conn.execute(select(objects.c.id))).all() == []
    await sqlite.dispose()
