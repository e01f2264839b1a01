"""The credential issuer's stores on SQLite and PostgreSQL: typed outcomes through the database, the one-transaction
Credential Request, and single use (a second consume of a nonce, code or dataset fails)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from credentials.status.bits import StatusType
from idp.storage import Database, ObjectStore
from idp.storage.credentials import (
    NONCE_KIND,
    Conflict,
    CredentialStore,
    DatasetState,
    NewDataset,
    NonceRejected,
    RedemptionOutcome,
    StatusListParameters,
)
from idp.storage.credentials.nonces import consume_nonces
from idp.storage.tables import credential_datasets, credential_signing_keys, issued_credentials
from tests.idp.conftest import NOW

pytestmark = pytest.mark.anyio
LATER = NOW + dt.timedelta(minutes=5)
LISTS = StatusListParameters(size=1024, bits=2, capacity=512)


def _dataset(identifier: str, *, cert_ref: str = "ref-1", issuance_id: str = "issuance-1") -> NewDataset:
    return NewDataset(identifier, issuance_id, "age", "kek-1", b"sealed facts", cert_ref, "issuer-1", LATER)


def _sign(entries: Sequence[tuple[int, int]]) -> dict[str, Any]:
    return {"credentials": [{"list": list_id, "idx": idx} for list_id, idx in entries]}


async def _no_pause(point: str) -> None:
    return None


async def _issue(store: CredentialStore, identifier: str, *, nonces: Sequence[str] = (), count: int = 1,
                 from_state: DatasetState = DatasetState.GRANTED, sign: Any = _sign) -> dict[str, Any]:
    result: dict[str, Any] = await store.datasets.issue(
        identifier, from_state=from_state, request_key="key-" + identifier, nonces=nonces, count=count,
        cert_ref="ref-1", configuration_id="age", expires_at=LATER, lists=LISTS, sign=sign,
        seal=lambda body: ("kek-1", repr(body).encode()), notification_id="note-" + identifier,
        response_expires_at=LATER, now=NOW, pause=_no_pause)
    return result


async def _count(db: Database, column: Any) -> int:
    async with db.connection() as conn:
        return int((await conn.execute(select(func.count(column)))).scalar_one())


async def test_dataset_state_round_trips_as_the_same_strings(db: Database) -> None:
    store = CredentialStore(db)
    await store.datasets.add([_dataset("d1"), _dataset("d2")], NOW)
    await store.datasets.deny("d2")
    found = await store.datasets.find("d1", NOW)
    assert found is not None
    assert found.state is DatasetState.GRANTED
    assert [r.state for r in await store.datasets.of_issuance("issuance-1", NOW)] == [DatasetState.GRANTED,
                                                                                      DatasetState.DENIED]
    async with db.connection() as conn:
        raw = (await conn.execute(select(credential_datasets.c.identifier, credential_datasets.c.state)
                                  .order_by(credential_datasets.c.identifier))).all()
    assert [(r.identifier, r.state, type(r.state)) for r in raw] == [("d1", "granted", str), ("d2", "denied", str)]


async def test_issue_is_one_transaction_and_single_use(db: Database) -> None:
    store, objects = CredentialStore(db), ObjectStore(db)
    await store.datasets.add([_dataset("d1")], NOW)
    await objects.upsert(NONCE_KIND, "n1", {}, LATER)
    body = await _issue(store, "d1", nonces=["n1"], count=2)
    assert len(body["credentials"]) == 2
    row = await store.datasets.find("d1", NOW)
    assert row is not None
    assert (row.state, row.sealed, row.request_key, row.response_status) == (DatasetState.ISSUED, None, "key-d1", 200)
    entries = await store.status_lists.entries(dataset="d1")
    assert [(e.status_list_id, e.status_idx) for e in entries] == [(c["list"], c["idx"]) for c in body["credentials"]]
    assert all(e.status is StatusType.VALID for e in entries)
    consumed = await objects.find(NONCE_KIND, "n1", now=NOW)
    assert consumed is not None
    assert consumed.consumed_at == NOW
    with pytest.raises(Conflict):  # the dataset is claimed once
        await _issue(store, "d1")
    assert await _count(db, issued_credentials.c.id) == 2


async def test_a_used_nonce_or_a_failed_signature_writes_nothing(db: Database) -> None:
    store, objects = CredentialStore(db), ObjectStore(db)
    await store.datasets.add([_dataset("d1")], NOW)
    await objects.upsert(NONCE_KIND, "fresh", {}, LATER)
    await objects.upsert(NONCE_KIND, "used", {}, LATER)
    await objects.consume(NONCE_KIND, "used", now=NOW)
    with pytest.raises(NonceRejected):
        await _issue(store, "d1", nonces=["fresh", "used"])

    def broken(entries: Sequence[tuple[int, int]]) -> dict[str, Any]:
        raise RuntimeError("the signer is gone")

    with pytest.raises(RuntimeError):
        await _issue(store, "d1", nonces=["fresh"], sign=broken)
    row = await store.datasets.find("d1", NOW)
    assert row is not None
    assert row.state is DatasetState.GRANTED
    assert row.sealed == b"sealed facts"
    fresh = await objects.find(NONCE_KIND, "fresh", now=NOW)
    assert fresh is not None
    assert fresh.consumed_at is None
    assert await _count(db, issued_credentials.c.id) == 0
    assert await store.status_lists.summaries() == []


async def test_deferred_then_issued_once(db: Database) -> None:
    store = CredentialStore(db)
    await store.datasets.add([_dataset("d1")], NOW)
    await store.datasets.defer("d1", request_key="k", nonces=(), kek_id="kek-1", sealed=b"keys", body={"t": 1},
                               seal=lambda body: ("kek-1", b"202"), transaction_id="t1", expires_at=LATER, now=NOW)
    deferred = await store.datasets.by_transaction("t1", NOW)
    assert deferred is not None
    assert deferred.state is DatasetState.DEFERRED
    with pytest.raises(Conflict):  # deferred, not granted
        await _issue(store, "d1")
    await _issue(store, "d1", from_state=DatasetState.DEFERRED)
    with pytest.raises(Conflict):
        await _issue(store, "d1", from_state=DatasetState.DEFERRED)
    issued = await store.datasets.by_notification("note-d1")
    assert issued is not None
    assert issued.state is DatasetState.ISSUED


async def test_concurrent_issues_of_one_dataset_one_wins(db: Database) -> None:
    store = CredentialStore(db)
    await store.datasets.add([_dataset("d1")], NOW)
    results = await asyncio.gather(*(_issue(store, "d1") for _ in range(5)), return_exceptions=True)
    assert sum(isinstance(r, dict) for r in results) == 1
    assert sum(isinstance(r, Conflict) for r in results) == 4
    assert await _count(db, issued_credentials.c.id) == 1


async def test_a_nonce_is_consumed_once(db: Database) -> None:
    objects = ObjectStore(db)
    await objects.upsert(NONCE_KIND, "n1", {}, LATER)
    await objects.upsert(NONCE_KIND, "old", {}, NOW)
    async with db.begin() as conn:
        await consume_nonces(conn, ["n1", "n1"], NOW)  # the same value twice in one request is one use
    for nonces in (["n1"], ["old"], ["unknown"], ["x" * 256]):
        with pytest.raises(NonceRejected):
            async with db.begin() as conn:
                await consume_nonces(conn, nonces, NOW)


async def test_pre_authorized_code_outcomes(db: Database) -> None:
    codes = CredentialStore(db).pre_authorized_codes
    await codes.add("plain", issuance_id="i1", tx_code_digest=None, max_attempts=3, expires_at=LATER, now=NOW)
    await codes.add("guarded", issuance_id="i2", tx_code_digest="tx", max_attempts=3, expires_at=LATER, now=NOW)
    await codes.add("stale", issuance_id="i3", tx_code_digest=None, max_attempts=3, expires_at=NOW, now=NOW)
    assert (await codes.redeem("plain", "tx", NOW)).outcome is RedemptionOutcome.TX_CODE_UNEXPECTED
    assert (await codes.redeem("guarded", None, NOW)).outcome is RedemptionOutcome.TX_CODE_REQUIRED
    assert (await codes.redeem("stale", None, NOW)).outcome is RedemptionOutcome.INVALID
    assert (await codes.redeem("missing", None, NOW)).outcome is RedemptionOutcome.INVALID
    redeemed = await codes.redeem("plain", None, NOW)
    assert (redeemed.outcome, redeemed.issuance_id) == (RedemptionOutcome.REDEEMED, "i1")
    second = await codes.redeem("plain", None, NOW)
    assert (second.outcome, second.issuance_id) == (RedemptionOutcome.INVALID, None)
    assert (await codes.redeem("guarded", "wrong", NOW)).outcome is RedemptionOutcome.WRONG_TX_CODE
    assert (await codes.redeem("guarded", "tx", NOW)).issuance_id == "i2"


async def test_the_last_wrong_tx_code_kills_the_code(db: Database) -> None:
    codes = CredentialStore(db).pre_authorized_codes
    await codes.add("c", issuance_id="i1", tx_code_digest="tx", max_attempts=3, expires_at=LATER, now=NOW)
    for _ in range(3):
        assert (await codes.redeem("c", "wrong", NOW)).outcome is RedemptionOutcome.WRONG_TX_CODE
    assert (await codes.redeem("c", "tx", NOW)).outcome is RedemptionOutcome.INVALID


async def test_concurrent_redemptions_one_wins(db: Database) -> None:
    codes = CredentialStore(db).pre_authorized_codes
    await codes.add("c", issuance_id="i1", tx_code_digest=None, max_attempts=3, expires_at=LATER, now=NOW)
    results = await asyncio.gather(*(codes.redeem("c", None, NOW) for _ in range(5)))
    assert sorted(r.outcome for r in results) == [RedemptionOutcome.INVALID] * 4 + [RedemptionOutcome.REDEEMED]


async def test_status_changes_follow_the_rules_and_bump_the_version(db: Database) -> None:
    store = CredentialStore(db)
    await store.datasets.add([_dataset("d1")], NOW)
    body = await _issue(store, "d1")
    list_id, idx = body["credentials"][0]["list"], body["credentials"][0]["idx"]
    lists = store.status_lists
    assert await lists.version(list_id) == 0
    assert await lists.set_status(StatusType.VALID, dataset="d1") == 0  # VALID only comes back from SUSPENDED
    assert await lists.set_status(StatusType.SUSPENDED, status_list_id=list_id, status_idx=idx) == 1
    view = await lists.view(list_id)
    assert view is not None
    assert (view.version, dict(view.entries)) == (1, {idx: StatusType.SUSPENDED})
    assert type(view.entries[idx]) is StatusType
    assert await lists.set_status(StatusType.VALID, dataset="d1") == 1
    assert await lists.set_status(StatusType.INVALID, dataset="d1") == 1
    for status in StatusType:  # INVALID is final
        assert await lists.set_status(status, dataset="d1") == 0
    [entry] = await lists.entries(dataset="d1")
    assert entry.status is StatusType.INVALID
    assert await lists.version(list_id) == 3
    assert await lists.view(list_id + 1) is None
    assert await lists.version(list_id + 1) is None
    with pytest.raises(ValueError, match="select by"):
        await lists.set_status(StatusType.INVALID)


async def test_a_revoked_certificate_reaches_its_credentials_and_pending_datasets(db: Database) -> None:
    store = CredentialStore(db)
    await store.datasets.add([_dataset("d1"), _dataset("d2"), _dataset("d3", cert_ref="ref-2")], NOW)
    await _issue(store, "d1")
    assert await store.active_references(NOW) == {"ref-1", "ref-2"}
    assert await store.revoke_references(["ref-1"]) == (1, 1)
    assert await store.active_references(NOW) == {"ref-2"}
    denied = await store.datasets.find("d2", NOW)
    assert denied is not None
    assert (denied.state, denied.sealed, denied.kek_id) == (DatasetState.DENIED, None, None)
    assert await store.revoke_references(["ref-1"]) == (0, 0)


async def test_expired_datasets_and_codes_are_deleted(db: Database) -> None:
    store = CredentialStore(db)
    await store.datasets.add([_dataset(f"d{i}") for i in range(3)], NOW)
    await store.pre_authorized_codes.add("c", issuance_id="i1", tx_code_digest=None, max_attempts=3,
                                         expires_at=LATER, now=NOW)
    assert await store.delete_expired(NOW, batch_size=2) == 0
    assert await store.delete_expired(LATER, batch_size=2) == 4
    assert await _count(db, credential_datasets.c.identifier) == 0


async def test_the_first_key_certificate_offered_is_kept(db: Database) -> None:
    async with db.connection() as conn:
        await conn.execute(insert(credential_signing_keys).values(
            kid="k1", alg="ES256", generation=1, backend="software", public_jwk={}, created_at=NOW, activate_at=NOW))
    certificates = CredentialStore(db).key_certificates
    assert await certificates.key_certificate("k1") is None
    assert await certificates.offer_key_certificate("k1", b"first") == b"first"
    assert await certificates.offer_key_certificate("k1", b"second") == b"first"
    assert await certificates.offer_key_certificate("missing", b"der") is None
