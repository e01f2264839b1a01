"""The watched certificates (idp.storage.credentials.watches) on SQLite and PostgreSQL: a later expiry extends a
row, a due row goes to exactly one of many concurrent claimers, and expired rows are deleted."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from idp.storage import Database
from idp.storage.credentials import CredentialStore, NewWatch
from tests.idp.conftest import NOW

pytestmark = pytest.mark.anyio
MINUTE = dt.timedelta(minutes=1)


def _watch(ref: str, expires_at: dt.datetime) -> NewWatch:
    return NewWatch(ref, "sign", "kek-1", b"sealed identity", expires_at)


async def test_a_due_watch_is_claimed_once(db: Database) -> None:
    store = CredentialStore(db)
    for n in range(30):
        await store.watches.add(_watch(f"ref-{n:02}", NOW + 60 * MINUTE), NOW)
    assert await store.watches.claim_due(NOW + MINUTE, stale_before=NOW - MINUTE, limit=100) == []  # just checked
    claims = await asyncio.gather(*(store.watches.claim_due(NOW + 2 * MINUTE, stale_before=NOW, limit=7)
                                     for _ in range(8)))
    claimed = [row.cert_ref for rows in claims for row in rows]
    assert sorted(claimed) == sorted({*claimed})  # nobody got a row another got
    while rows := await store.watches.claim_due(NOW + 2 * MINUTE, stale_before=NOW, limit=7):
        claimed += [row.cert_ref for row in rows]
    assert sorted(claimed) == [f"ref-{n:02}" for n in range(30)]
    assert await store.watches.claim_due(NOW + 2 * MINUTE, stale_before=NOW, limit=100) == []
    row = (await store.watches.claim_due(NOW + 4 * MINUTE, stale_before=NOW + 3 * MINUTE, limit=1))[0]
    assert (row.purpose, row.kek_id, row.sealed) == ("sign", "kek-1", b"sealed identity")


async def test_expiry_extends_and_ends_a_watch(db: Database) -> None:
    store = CredentialStore(db)
    await store.watches.add(_watch("ref-1", NOW + 10 * MINUTE), NOW)
    await store.watches.add(_watch("ref-1", NOW + 30 * MINUTE), NOW)  # a second grant from the same certificate
    await store.watches.add(_watch("ref-1", NOW + 20 * MINUTE), NOW)  # never shortened
    assert await store.delete_expired(NOW + 25 * MINUTE, 100) == 0
    due = await store.watches.claim_due(NOW + 25 * MINUTE, stale_before=NOW, limit=5)
    assert [r.cert_ref for r in due] == ["ref-1"]
    assert await store.delete_expired(NOW + 31 * MINUTE, 100) == 1
    assert await store.watches.remove(["ref-1"]) == 0
