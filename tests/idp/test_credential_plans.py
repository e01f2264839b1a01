"""The credential issuer's request-path statements stay lookups by key as its tables grow, on PostgreSQL's generic
plans (tests/idp/plans.py: why, and how the test makes a fresh deployment's plans).

Each operation a Credential Request, a deferred one, a notification, a status change, a pre-authorized code or a
login's certificate watch makes runs once on almost empty tables, then again on the same connection after
thousands of datasets, credentials, codes and watches were added; each statement's second run may read only a
handful of buffers. The batch jobs (revocation sweeps, expiry) select by state or expiry on purpose and are not
request-path statements.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import insert

from credentials.status.bits import StatusType
from idp.storage import Database
from idp.storage.credentials import (
    CredentialStore,
    DatasetState,
    NewDataset,
    NewWatch,
    RedemptionOutcome,
    StatusListParameters,
)
from idp.storage.tables import certificate_watches, credential_datasets, issued_credentials, pre_authorized_codes
from tests.idp.conftest import NOW
from tests.idp.plans import CROWD, MOST_BUFFERS, heavy_plans, log_offset
from tests.support.postgres import Cluster

pytestmark = pytest.mark.anyio
LATER = NOW + dt.timedelta(hours=1)
LISTS = StatusListParameters(size=1 << 16, bits=2, capacity=1 << 15)
#: Rows added to each table: these rows are narrow, so a scan of ``CROWD`` of them would stay under the limit.
ROWS = 4 * CROWD
TABLES = ("credential_datasets", "issued_credentials", "status_lists", "pre_authorized_codes", "certificate_watches")


async def _no_pause(point: str) -> None:
    return None


def _sign(entries: Sequence[tuple[int, int]]) -> dict[str, Any]:
    return {"credentials": [{"list": list_id, "idx": idx} for list_id, idx in entries]}


def _seal(body: dict[str, Any]) -> tuple[str, bytes]:
    return "kek-1", repr(body).encode()


async def _round(store: CredentialStore, r: str) -> dict[str, object]:
    """Every request-path operation once, on keys of round ``r``; what the checks below read."""
    datasets, lists, codes = store.datasets, store.status_lists, store.pre_authorized_codes
    await datasets.add([NewDataset(f"d{r}{x}", f"i{r}", "age", "kek-1", b"facts", f"ref-{r}", "issuer-1", LATER)
                        for x in "abc"], NOW)
    outcomes: dict[str, object] = {"found": await datasets.find(f"d{r}a", NOW),
                                   "of_issuance": len(await datasets.of_issuance(f"i{r}", NOW))}
    body = await datasets.issue(f"d{r}a", from_state=DatasetState.GRANTED, request_key=f"k{r}", nonces=(), count=2,
                                cert_ref=f"ref-{r}", configuration_id="age", expires_at=LATER, lists=LISTS,
                                sign=_sign, seal=_seal, notification_id=f"note-{r}", response_expires_at=LATER,
                                now=NOW, pause=_no_pause)
    await datasets.defer(f"d{r}b", request_key=f"kb{r}", nonces=(), kek_id="kek-1", sealed=b"keys", body={"t": 1},
                         seal=_seal, transaction_id=f"t{r}", expires_at=LATER, now=NOW)
    outcomes["by_transaction"] = await datasets.by_transaction(f"t{r}", NOW)
    outcomes["by_notification"] = await datasets.by_notification(f"note-{r}")
    await datasets.note(f"note-{r}", "credential_accepted", drop_response=True)
    await datasets.deny(f"d{r}c")
    first = body["credentials"][0]
    by_dataset = await lists.entries(dataset=f"d{r}a")
    outcomes["entries"] = (len(by_dataset), len(await lists.entries(credential_id=by_dataset[0].credential_id)),
                           len(await lists.entries(status_list_id=first["list"], status_idx=first["idx"])))
    outcomes["suspended"] = await lists.set_status(StatusType.SUSPENDED, dataset=f"d{r}a")
    outcomes["version"] = await lists.version(first["list"])
    await codes.add(f"code{r}", issuance_id=f"i{r}", tx_code_digest="tx", max_attempts=3, expires_at=LATER, now=NOW)
    outcomes["wrong"] = (await codes.redeem(f"code{r}", "nope", NOW)).outcome
    outcomes["redeemed"] = (await codes.redeem(f"code{r}", "tx", NOW)).outcome
    for expires in (LATER, LATER + dt.timedelta(hours=1)):  # a new watch, then a later expiry extends it
        await store.watches.add(NewWatch(f"ref-{r}", "auth", "kek-1", b"sealed", expires), NOW)
    return outcomes


async def _crowd(db: Database) -> None:
    """``ROWS`` rows in each table, in batches of 500."""
    for start in range(0, ROWS, 500):
        numbers = range(start, start + 500)
        async with db.begin() as conn:
            await conn.execute(insert(credential_datasets), [
                {"identifier": f"crowd-d{n}", "issuance_id": f"crowd-i{n}", "configuration_id": "age",
                 "state": DatasetState.ISSUED.value, "cert_ref": f"crowd-ref{n}", "cert_issuer": "issuer-1",
                 "transaction_id": f"crowd-t{n}", "notification_id": f"crowd-note{n}", "created_at": NOW,
                 "expires_at": LATER} for n in numbers])
            await conn.execute(insert(issued_credentials), [
                {"status_list_id": 1000, "status_idx": n, "status": int(StatusType.VALID),
                 "configuration_id": "age", "dataset": f"crowd-d{n}", "cert_ref": f"crowd-ref{n}", "issued_at": NOW,
                 "expires_at": LATER} for n in numbers])
            await conn.execute(insert(pre_authorized_codes), [
                {"code_digest": f"crowd-code{n}", "issuance_id": f"crowd-i{n}", "tx_code_digest": None, "attempts": 0,
                 "max_attempts": 3, "created_at": NOW, "expires_at": LATER} for n in numbers])
            await conn.execute(insert(certificate_watches), [
                {"cert_ref": f"crowd-ref{n}", "purpose": "auth", "kek_id": "kek-1", "sealed": b"sealed",
                 "checked_at": NOW, "expires_at": LATER} for n in numbers])


async def test_request_path_statements_read_a_handful_of_buffers_in_crowded_tables(
        planned: tuple[Database, Cluster]) -> None:
    db, cluster = planned
    store = CredentialStore(db)
    await _round(store, "1")  # planned while the tables are almost empty
    await _crowd(db)
    offset = log_offset(cluster)
    outcomes = await _round(store, "2")
    assert outcomes["found"] is not None
    assert outcomes["of_issuance"] == 3
    assert outcomes["by_transaction"] is not None
    assert outcomes["by_notification"] is not None
    assert outcomes["entries"] == (2, 1, 1)
    assert outcomes["suspended"] == 2
    assert outcomes["version"] == 2
    assert (outcomes["wrong"], outcomes["redeemed"]) == (RedemptionOutcome.WRONG_TX_CODE, RedemptionOutcome.REDEEMED)
    count, heavy = heavy_plans(cluster, offset, TABLES)
    assert count >= 20
    assert heavy == {}, f"statements reading more than {MOST_BUFFERS} buffers among {ROWS} rows: {heavy}"
