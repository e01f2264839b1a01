"""The short-lived object adapter's statements stay lookups by key as the table grows, on PostgreSQL's generic plans.

asyncpg prepares every statement, and PostgreSQL may plan a prepared statement once for any values (a generic
plan), from the statistics of the moment: a fresh deployment plans while the table is small. A plan that reads
rows by ``kind`` alone and filters the rest is as fast as a lookup then, and reads every object of the kind once
thousands exist (seen: the code redemption's check of its grant read ~1,000 grants per call after 8 s of load).

The test makes that moment happen: the database forces generic plans and logs every plan with its buffers
(``auto_explain`` for this database's sessions), each adapter operation runs once on an almost empty table, then
again on the same connection after thousands of objects of every kind involved were added, and each statement's
second run may read only a handful of buffers.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from idp.storage import Database, NewObject, ObjectStore
from idp.storage.credentials.nonces import NONCE_KIND, consume_nonces
from idp.storage.migrate import migrate
from tests.idp.conftest import NOW
from tests.support.postgres import Cluster

pytestmark = pytest.mark.anyio
LATER = NOW + dt.timedelta(hours=1)
#: Objects of each kind added between the two runs; a statement that scans a kind reads hundreds of buffers.
CROWD = 3000
#: Buffers a lookup by key may touch: index descent, heap page, the grant's lookup, the index entries written.
MOST_BUFFERS = 40


@pytest.fixture
async def planned(postgres: Cluster) -> AsyncIterator[tuple[Database, Cluster]]:
    """A migrated PostgreSQL database whose sessions use generic plans and log each plan with its buffers; one
    connection, so that a statement's second run meets the plan of its first."""
    url = postgres.create_database()
    name = url.rsplit("/", 1)[-1]
    for setting in ("session_preload_libraries = 'auto_explain'", "plan_cache_mode = force_generic_plan",
                    "auto_explain.log_min_duration = 0", "auto_explain.log_analyze = on",
                    "auto_explain.log_buffers = on", "auto_explain.log_format = json"):
        postgres.sql(url, f"ALTER DATABASE {name} SET {setting}")
    database = Database.connect(url, pool_size=1)
    await migrate(database)
    yield database, postgres
    await database.dispose()


def _plans_since(cluster: Cluster, offset: int) -> list[dict[str, Any]]:
    """The plans auto_explain logged after ``offset`` of the cluster's log (each: its query text and plan)."""
    with (cluster.base / "log").open("rb") as log:
        log.seek(offset)
        text = log.read().decode("utf-8", "replace")
    plans = []
    for match in re.finditer(r"plan:\n((?:\t.*\n)+)", text):  # the JSON document, each line indented by a tab
        plans.append(json.loads(match.group(1).replace("\n\t", "\n")[1:]))
    return plans


def _buffers(plan: dict[str, Any]) -> int:
    node = plan["Plan"]
    return int(node.get("Shared Hit Blocks", 0)) + int(node.get("Shared Read Blocks", 0))


async def _crowd(store: ObjectStore) -> None:
    """``CROWD`` objects of every kind the operations use, grants with codes and request objects."""
    for start in range(0, CROWD, 100):
        batch = []
        for n in range(start, start + 100):
            batch += [NewObject("Grant", f"crowd-g{n}", {"scope": "openid"}, LATER, grant_id=f"crowd-g{n}"),
                      NewObject("AuthorizationCode", f"crowd-c{n}", {"client_id": "rp"}, LATER,
                                grant_id=f"crowd-g{n}"),
                      NewObject("PushedAuthorizationRequest", f"crowd-p{n}", {"client_id": "rp"}, LATER),
                      NewObject("Jti", f"crowd-j{n}", {}, LATER),
                      NewObject(NONCE_KIND, f"crowd-n{n}", {}, LATER)]
        await store.upsert_many(batch)


Operation = Callable[[ObjectStore, str], Awaitable[object]]

#: Every operation of the adapter on a request's path, on keys that round ``r`` (1 or 2) makes its own.
OPERATIONS: dict[str, Operation] = {
    "upsert": lambda s, r: s.upsert("Session", f"s{r}", {"n": 1}, LATER),
    "upsert_many": lambda s, r: s.upsert_many([NewObject("Grant", f"g{r}", {}, LATER, grant_id=f"g{r}"),
                                               NewObject("AuthorizationCode", f"c{r}", {"client_id": "rp"}, LATER,
                                                         grant_id=f"g{r}")]),
    "remember_once": lambda s, r: s.remember_once("Jti", f"j{r}", expires_at=LATER, now=NOW),
    "find": lambda s, r: s.find("Session", f"s{r}", now=NOW),
    "find_many": lambda s, r: s.find_many([("Session", f"s{r}"), ("Grant", f"g{r}")], now=NOW),
    "consume_matching": lambda s, r: s.consume_matching("PushedAuthorizationRequest", f"p{r}", {"client_id": "rp"},
                                                        now=NOW),
    "consume_in_grant": lambda s, r: s.consume_in_grant("AuthorizationCode", f"c{r}", "Grant", now=NOW,
                                                        members={"client_id": "rp", "dpop_jkt": None}),
    "consume": lambda s, r: s.consume("Session", f"s{r}", now=NOW),
    "destroy": lambda s, r: s.destroy("Session", f"s{r}"),
    "revoke_by_grant": lambda s, r: s.revoke_by_grant(f"g{r}"),
}


async def test_request_path_statements_read_a_handful_of_buffers_in_a_crowded_table(
        planned: tuple[Database, Cluster]) -> None:
    db, cluster = planned
    store = ObjectStore(db)


    async def nonces(r: str) -> None:  # a Credential Request's c_nonces, in its transaction (one, then two)
        await store.upsert_many([NewObject(NONCE_KIND, f"n{r}-{i}", {}, LATER) for i in range(3)])
        for used in ([f"n{r}-0"], [f"n{r}-1", f"n{r}-2"]):
            async with db.begin() as conn:
                await consume_nonces(conn, used, NOW)

    await store.upsert("PushedAuthorizationRequest", "p1", {"client_id": "rp"}, LATER)
    for operation in OPERATIONS.values():  # planned while the table is almost empty
        await operation(store, "1")
    await nonces("1")
    await _crowd(store)
    await store.upsert("PushedAuthorizationRequest", "p2", {"client_id": "rp"}, LATER)
    offset = (cluster.base / "log").stat().st_size
    outcomes: dict[str, object] = {}
    for name, operation in OPERATIONS.items():
        outcomes[name] = await operation(store, "2")
    await nonces("2")
    assert outcomes["remember_once"] is True
    assert outcomes["consume_matching"] is not None
    assert outcomes["consume_in_grant"] is not None
    assert outcomes["revoke_by_grant"] == 2  # the grant and its (consumed) code
    plans = [plan for plan in _plans_since(cluster, offset) if "oidc_objects" in plan["Query Text"]]
    assert len(plans) >= len(OPERATIONS) + 3
    heavy = {plan["Query Text"][:120]: _buffers(plan) for plan in plans if _buffers(plan) > MOST_BUFFERS}
    assert heavy == {}, f"statements reading more than {MOST_BUFFERS} buffers among {CROWD} objects: {heavy}"
