"""The short-lived object adapter's statements stay lookups by key as the table grows, on PostgreSQL's generic plans
(tests/idp/plans.py: why, and how the test makes a fresh deployment's plans).

Seen before: the code redemption's check of its grant read ~1,000 grants per call after 8 s of load. Each adapter
operation runs once on an almost empty table, then again on the same connection after thousands of objects of every
kind involved were added, and each statement's second run may read only a handful of buffers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

import pytest

from idp.storage import Database, NewObject, ObjectStore
from idp.storage.credentials.nonces import NONCE_KIND, consume_nonces
from tests.idp.conftest import NOW
from tests.idp.plans import CROWD, MOST_BUFFERS, heavy_plans, log_offset
from tests.support.postgres import Cluster

pytestmark = pytest.mark.anyio
LATER = NOW + dt.timedelta(hours=1)


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
    offset = log_offset(cluster)
    outcomes: dict[str, object] = {}
    for name, operation in OPERATIONS.items():
        outcomes[name] = await operation(store, "2")
    await nonces("2")
    assert outcomes["remember_once"] is True
    assert outcomes["consume_matching"] is not None
    assert outcomes["consume_in_grant"] is not None
    assert outcomes["revoke_by_grant"] == 2  # the grant and its (consumed) code
    count, heavy = heavy_plans(cluster, offset, ("oidc_objects",))
    assert count >= len(OPERATIONS) + 3
    assert heavy == {}, f"statements reading more than {MOST_BUFFERS} buffers among {CROWD} objects: {heavy}"
