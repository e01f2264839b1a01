"""The short-lived object adapter on SQLite and PostgreSQL: upsert, find, consume, destroy, revoke, cleanup."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest

from idp.storage import Database, NewObject, ObjectStore, delete_expired
from idp.storage.objects import MAX_PAYLOAD_OCTETS
from tests.idp.conftest import NOW
from tests.idp.workers import consume_concurrently

pytestmark = pytest.mark.anyio
LATER = NOW + dt.timedelta(minutes=1)


async def test_upsert_find_and_replace(db: Database) -> None:
    store = ObjectStore(db)
    await store.upsert("AuthorizationCode", "c1", {"scope": "openid", "nested": {"n": [1, 2]}}, LATER, grant_id="g")
    found = await store.find("AuthorizationCode", "c1", now=NOW)
    assert found is not None
    assert (found.payload, found.grant_id, found.expires_at, found.consumed_at) == (
        {"scope": "openid", "nested": {"n": [1, 2]}}, "g", LATER, None)
    assert await store.find("AuthorizationCode", "c2", now=NOW) is None
    assert await store.find("Session", "c1", now=NOW) is None  # kinds are separate namespaces
    await store.consume("AuthorizationCode", "c1", now=NOW)
    await store.upsert("AuthorizationCode", "c1", {"scope": "email"}, LATER + dt.timedelta(minutes=1))
    replaced = await store.find("AuthorizationCode", "c1", now=NOW)
    assert replaced is not None
    assert (replaced.payload, replaced.grant_id, replaced.consumed_at) == ({"scope": "email"}, None, None)


async def test_upsert_many_stores_all_in_one_statement(db: Database) -> None:
    store = ObjectStore(db)
    await store.upsert("AuthorizationCode", "c", {"old": True}, LATER)
    await store.consume("AuthorizationCode", "c", now=NOW)
    await store.upsert_many([NewObject("Grant", "g", {"n": [1]}, LATER, grant_id="g"),
                             NewObject("AuthorizationCode", "c", {"new": True}, LATER, grant_id="g")])
    found = await store.find_many([("Grant", "g"), ("AuthorizationCode", "c")], now=NOW)
    assert {key: (o.payload, o.grant_id, o.consumed_at) for key, o in found.items()} == {
        ("Grant", "g"): ({"n": [1]}, "g", None), ("AuthorizationCode", "c"): ({"new": True}, "g", None)}
    with pytest.raises(ValueError, match="twice"):
        await store.upsert_many([NewObject("Grant", "x", {}, LATER), NewObject("Grant", "x", {}, LATER)])
    with pytest.raises(ValueError, match="octets"):  # checked before anything is written
        await store.upsert_many([NewObject("Grant", "y", {}, LATER),
                                 NewObject("Grant", "z", {"big": "x" * MAX_PAYLOAD_OCTETS}, LATER)])
    assert await store.find_many([("Grant", "x"), ("Grant", "y")], now=NOW) == {}


async def test_expired_objects_are_invisible(db: Database) -> None:
    store = ObjectStore(db)
    await store.upsert("AuthorizationCode", "c", {}, LATER)
    assert await store.find("AuthorizationCode", "c", now=LATER - dt.timedelta(microseconds=1)) is not None
    assert await store.find("AuthorizationCode", "c", now=LATER) is None
    assert await store.consume("AuthorizationCode", "c", now=LATER) is None


async def test_find_many_reads_each_unexpired_object_once(db: Database) -> None:
    store = ObjectStore(db)
    await store.upsert("Session", "s", {"n": 1}, LATER)
    await store.upsert("KioskClient", "s", {"n": 2}, LATER)
    await store.upsert("Grant", "g", {"n": 3}, NOW)  # expired at NOW
    await store.consume("KioskClient", "s", now=NOW)
    found = await store.find_many([("Session", "s"), ("KioskClient", "s"), ("Grant", "g"), ("Session", "none")],
                                  now=NOW)
    assert {key: (o.payload, o.consumed_at is None) for key, o in found.items()} == {
        ("Session", "s"): ({"n": 1}, True), ("KioskClient", "s"): ({"n": 2}, False)}
    assert await store.find_many([("Session", "s")], now=NOW) == {("Session", "s"): await store.find("Session", "s",
                                                                                                     now=NOW)}
    assert await store.find_many([], now=NOW) == {}
    with pytest.raises(ValueError, match="characters"):
        await store.find_many([("Session", "x" * 256)], now=NOW)


async def test_consume_is_single_use_and_replay_is_visible(db: Database) -> None:
    store = ObjectStore(db)
    await store.upsert("AuthorizationCode", "c", {"sub": "x"}, LATER, grant_id="g")
    first = await store.consume("AuthorizationCode", "c", now=NOW)
    assert first is not None
    assert first.consumed_at == NOW
    assert first.payload == {"sub": "x"}
    assert await store.consume("AuthorizationCode", "c", now=NOW + dt.timedelta(seconds=1)) is None
    replayed = await store.find("AuthorizationCode", "c", now=NOW + dt.timedelta(seconds=1))
    assert replayed is not None
    assert replayed.consumed_at == NOW  # the caller sees the replay and can revoke the grant
    assert await store.consume("AuthorizationCode", "missing", now=NOW) is None


async def test_consume_matching_leaves_the_object_to_its_owner(db: Database) -> None:
    store = ObjectStore(db)
    await store.upsert("PushedAuthorizationRequest", "p", {"client_id": "rp-a", "request": {"n": 1}}, LATER)
    assert await store.consume_matching("PushedAuthorizationRequest", "p", {"client_id": "rp-b"}, now=NOW) is None
    assert await store.consume_matching("PushedAuthorizationRequest", "p", {"client_id": "rp-a", "request": "x"},
                                        now=NOW) is None  # a member that is not that string never matches
    taken = await store.consume_matching("PushedAuthorizationRequest", "p", {"client_id": "rp-a"}, now=NOW)
    assert taken is not None
    assert (taken.payload, taken.consumed_at) == ({"client_id": "rp-a", "request": {"n": 1}}, NOW)
    assert await store.consume_matching("PushedAuthorizationRequest", "p", {"client_id": "rp-a"}, now=NOW) is None
    await store.upsert("PushedAuthorizationRequest", "q", {"client_id": "rp-a"}, LATER)
    assert await store.consume_matching("PushedAuthorizationRequest", "q", {"client_id": "rp-a"}, now=LATER) is None


async def test_consume_in_grant_needs_a_live_grant_and_returns_it(db: Database) -> None:
    store = ObjectStore(db)
    grant_until = LATER + dt.timedelta(hours=1)
    await store.upsert("Grant", "g1", {"scope": "openid", "claims": {"id_token": {}}}, grant_until, grant_id="g1")
    await store.upsert("AuthorizationCode", "c1", {"sub": "x"}, LATER, grant_id="g1")
    await store.upsert("AuthorizationCode", "c2", {"sub": "y"}, LATER, grant_id="gone")
    await store.upsert("Grant", "g3", {}, NOW, grant_id="g3")  # expired
    await store.upsert("AuthorizationCode", "c3", {}, LATER, grant_id="g3")
    consumed = await store.consume_in_grant("AuthorizationCode", "c1", "Grant", now=NOW)
    assert consumed is not None
    code, grant = consumed
    assert (code.id, code.payload, code.grant_id, code.consumed_at) == ("c1", {"sub": "x"}, "g1", NOW)
    assert (grant.kind, grant.id, grant.payload, grant.expires_at) == (
        "Grant", "g1", {"scope": "openid", "claims": {"id_token": {}}}, grant_until)
    assert await store.consume_in_grant("AuthorizationCode", "c1", "Grant", now=NOW) is None  # single use
    assert await store.consume_in_grant("AuthorizationCode", "c2", "Grant", now=NOW) is None  # revoked grant
    assert await store.consume_in_grant("AuthorizationCode", "c3", "Grant", now=NOW) is None  # expired grant
    assert await store.consume_in_grant("AuthorizationCode", "c1", "Session", now=NOW) is None  # other kind
    for unconsumed in ("c2", "c3"):
        found = await store.find("AuthorizationCode", unconsumed, now=NOW)
        assert found is not None
        assert found.consumed_at is None


async def test_destroy_and_revoke_by_grant(db: Database) -> None:
    store = ObjectStore(db)
    for kind, id_, grant in [("AuthorizationCode", "c", "g1"), ("RefreshToken", "r", "g1"), ("RefreshToken", "s", "g2"),
                             ("Session", "x", None)]:
        await store.upsert(kind, id_, {}, LATER, grant_id=grant)
    assert await store.revoke_by_grant("g1") == 2
    assert await store.find("AuthorizationCode", "c", now=NOW) is None
    assert await store.find("RefreshToken", "r", now=NOW) is None
    assert await store.find("RefreshToken", "s", now=NOW) is not None
    await store.destroy("Session", "x")
    await store.destroy("Session", "x")
    assert await store.find("Session", "x", now=NOW) is None
    assert await store.revoke_by_grant("g1") == 0


async def test_limits(db: Database) -> None:
    store = ObjectStore(db)
    with pytest.raises(ValueError, match="payload"):
        await store.upsert("Session", "big", {"x": "a" * MAX_PAYLOAD_OCTETS}, LATER)
    with pytest.raises(ValueError, match="characters"):
        await store.upsert("Session", "i" * 256, {}, LATER)
    with pytest.raises(ValueError, match="characters"):
        await store.find("", "x", now=NOW)
    with pytest.raises(ValueError, match="aware"):
        await store.upsert("Session", "n", {}, LATER.replace(tzinfo=None))


async def test_two_workers_share_every_object(db_url: str, db: Database) -> None:
    other = Database.connect(db_url)  # a second engine, as in a second worker process
    try:
        one, two = ObjectStore(db), ObjectStore(other)
        await one.upsert("AuthorizationCode", "c", {"n": 1}, LATER)
        assert await two.consume("AuthorizationCode", "c", now=NOW) is not None
        assert await one.consume("AuthorizationCode", "c", now=NOW) is None
    finally:
        await other.dispose()


async def test_cleanup_deletes_expired_rows_in_batches(db: Database) -> None:
    store = ObjectStore(db)
    for n in range(250):
        await store.upsert("AuthorizationCode", f"old{n}", {}, NOW - dt.timedelta(seconds=n % 7))
    for n in range(5):
        await store.upsert("AuthorizationCode", f"live{n}", {}, LATER)
    result = await delete_expired(db, NOW, batch_size=100)
    assert (result.deleted, result.batches) == (250, 3)
    assert all([await store.find("AuthorizationCode", f"live{n}", now=NOW) for n in range(5)])
    again = await delete_expired(db, NOW, batch_size=100)
    assert (again.deleted, again.batches) == (0, 0)
    with pytest.raises(ValueError, match="batch_size"):
        await delete_expired(db, NOW, batch_size=0)


@pytest.mark.slow
async def test_fifty_concurrent_consumes_in_two_processes_one_wins(db_url: str, db: Database) -> None:
    expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    await ObjectStore(db).upsert("AuthorizationCode", "raced", {"n": 1}, expires_at)
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        start = manager.Barrier(2)  # both processes connected before either consumes: they race from one line
        futures = [pool.submit(consume_concurrently, db_url, "AuthorizationCode", "raced", 25, start)
                   for _ in range(2)]
        results = [f.result(timeout=90) for f in futures]
    assert sum(results) == 1, results
