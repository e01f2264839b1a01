"""Credential Datasets (OpenID4VCI 1.0 §3.3.4; table ``credential_datasets``): one per configuration a login
granted, with its sealed facts, its :class:`DatasetState` and, once answered, the sealed answer.

The one rule that matters: **a Credential Request is one transaction** (:meth:`DatasetStore.issue`). It claims
the dataset (``state`` from ``granted``, or ``deferred``, to ``issued``: of concurrent requests exactly one
matches), consumes the request's ``c_nonce`` values, reserves a random status index per credential (a unique
``(list, index)`` row, so no index is ever handed out twice), signs, and stores the sealed response under the
request's idempotency key, then commits. A process killed at any point before the commit leaves nothing: no
status entry, no consumed nonce, the dataset still ``granted``; killed after it, the credentials exist exactly
once and the same request gets the same answer back (:attr:`DatasetRow.request_key`)::

    datasets = DatasetStore(db, StatusListStore(db))
    await datasets.add([NewDataset(...)], now)                     # state GRANTED
    body = await datasets.issue(identifier, from_state=DatasetState.GRANTED, ..., sign=sign, seal=seal, now=now)
    # Conflict: another request claimed it first; NonceRejected: a c_nonce was not live (nothing written)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import bindparam, insert, select, update

from idp.storage.credentials.nonces import consume_nonces
from idp.storage.credentials.status_lists import StatusListParameters, StatusListStore
from idp.storage.tables import credential_datasets
from servicekit.database import Connection, Database

_DATASETS = credential_datasets.c


class DatasetState(StrEnum):
    """A dataset's ``state`` column (stored as these strings)."""

    #: Granted by a login, not yet asked for.
    GRANTED = "granted"
    #: Asked for while the signing certificate's revocation was unknown: answered 202, the holder keys kept.
    DEFERRED = "deferred"
    #: Credentials issued (final).
    ISSUED = "issued"
    #: Ended without credentials, its facts deleted (final).
    DENIED = "denied"


#: The states that may still become credentials.
PENDING: Final = (DatasetState.GRANTED, DatasetState.DEFERRED)

# One conditional statement: of concurrent requests for a dataset, in any process, exactly one claims it.
_CLAIM: Final = (update(credential_datasets)
                 .where(_DATASETS.identifier == bindparam("b_identifier"), _DATASETS.state == bindparam("b_from"),
                        _DATASETS.expires_at > bindparam("now"))
                 .values(state=bindparam("b_to")).returning(_DATASETS.identifier))


class Conflict(Exception):
    """The dataset is not in the state the request needs (another request used it, or it is gone)."""


@dataclass(frozen=True, slots=True)
class DatasetRow:
    """One Credential Dataset row (see :data:`idp.storage.tables.credential_datasets`)."""

    identifier: str
    issuance_id: str
    configuration_id: str
    state: DatasetState
    kek_id: str | None
    sealed: bytes | None
    cert_ref: str
    cert_issuer: str
    request_key: str | None
    response_status: int | None
    response_kek_id: str | None
    response: bytes | None
    transaction_id: str | None
    notification_id: str | None
    notification_event: str | None
    created_at: dt.datetime
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class NewDataset:
    """A dataset to store (sealed facts, certificate reference)."""

    identifier: str
    issuance_id: str
    configuration_id: str
    kek_id: str
    sealed: bytes
    cert_ref: str
    cert_issuer: str
    expires_at: dt.datetime


#: The signing callback of :meth:`DatasetStore.issue`: status entries (list, index) in, response body out.
Signer = Callable[[Sequence[tuple[int, int]]], dict[str, Any]]
#: Seals a response body for storage: (KEK id, ciphertext).
Sealer = Callable[[dict[str, Any]], tuple[str, bytes]]
Pause = Callable[[str], Awaitable[None]]

_COLUMNS = tuple(credential_datasets.c)


def _dataset(row: Any) -> DatasetRow:
    values = {c.name: getattr(row, c.name) for c in _COLUMNS}
    return DatasetRow(**{**values, "state": DatasetState(values["state"])})


class DatasetStore:
    """The datasets, shared by every worker; issuing reserves status entries in ``status_lists``."""

    def __init__(self, db: Database, status_lists: StatusListStore) -> None:
        self._db = db
        self._status_lists = status_lists

    async def add(self, rows: Sequence[NewDataset], now: dt.datetime) -> None:
        """Store new datasets (state :attr:`~DatasetState.GRANTED`) in one transaction."""
        if not rows:
            return
        async with self._db.begin() as conn:
            await conn.execute(insert(credential_datasets), [
                {"identifier": r.identifier, "issuance_id": r.issuance_id, "configuration_id": r.configuration_id,
                 "state": DatasetState.GRANTED.value, "kek_id": r.kek_id, "sealed": r.sealed, "cert_ref": r.cert_ref,
                 "cert_issuer": r.cert_issuer, "created_at": now, "expires_at": r.expires_at} for r in rows])

    async def _one(self, *conditions: Any) -> DatasetRow | None:
        async with self._db.connection() as conn:
            row = (await conn.execute(select(credential_datasets).where(*conditions))).first()
        return None if row is None else _dataset(row)

    async def find(self, identifier: str, now: dt.datetime) -> DatasetRow | None:
        """The unexpired dataset ``identifier``."""
        return await self._one(_DATASETS.identifier == identifier, _DATASETS.expires_at > now)

    async def by_transaction(self, transaction_id: str, now: dt.datetime) -> DatasetRow | None:
        """The unexpired dataset of a deferred issuance."""
        return await self._one(_DATASETS.transaction_id == transaction_id, _DATASETS.expires_at > now)

    async def by_notification(self, notification_id: str) -> DatasetRow | None:
        """The dataset a notification id was issued for (expired or not: notifications are idempotent)."""
        return await self._one(_DATASETS.notification_id == notification_id)

    async def of_issuance(self, issuance_id: str, now: dt.datetime) -> list[DatasetRow]:
        """The unexpired datasets of an issuance."""
        async with self._db.connection() as conn:
            rows = (await conn.execute(select(credential_datasets).where(
                _DATASETS.issuance_id == issuance_id, _DATASETS.expires_at > now)
                .order_by(_DATASETS.configuration_id))).all()
        return [_dataset(r) for r in rows]

    async def deny(self, identifier: str) -> None:
        """End a dataset without credentials (its facts deleted), unless it was issued meanwhile."""
        async with self._db.connection() as conn:
            await conn.execute(update(credential_datasets).where(
                _DATASETS.identifier == identifier, _DATASETS.state != DatasetState.ISSUED.value)
                .values(state=DatasetState.DENIED.value, sealed=None, kek_id=None))

    async def issue(
        self,
        identifier: str,
        *,
        from_state: DatasetState,
        request_key: str,
        nonces: Sequence[str],
        count: int,
        cert_ref: str,
        configuration_id: str,
        expires_at: dt.datetime,
        lists: StatusListParameters,
        sign: Signer,
        seal: Sealer,
        notification_id: str,
        response_expires_at: dt.datetime,
        now: dt.datetime,
        pause: Pause,
    ) -> dict[str, Any]:
        """Issue the credentials of one request in one transaction (see the module docstring); the body."""
        async with self._db.begin() as conn:
            await _claim(conn, identifier, from_state, DatasetState.ISSUED, now)
            await consume_nonces(conn, nonces, now)
            entries = await self._status_lists.reserve(conn, count, lists, dataset=identifier, cert_ref=cert_ref,
                                                       configuration_id=configuration_id, expires_at=expires_at,
                                                       now=now)
            body = sign(entries)
            kek_id, sealed = seal(body)
            await conn.execute(update(credential_datasets).where(_DATASETS.identifier == identifier)
                               .values(sealed=None, kek_id=None, request_key=request_key, response_status=200,
                                       response_kek_id=kek_id, response=sealed, notification_id=notification_id,
                                       expires_at=response_expires_at))
            await pause("before_commit")
        await pause("after_commit")
        return body

    async def defer(
        self,
        identifier: str,
        *,
        request_key: str,
        nonces: Sequence[str],
        kek_id: str,
        sealed: bytes,
        body: dict[str, Any],
        seal: Sealer,
        transaction_id: str,
        expires_at: dt.datetime,
        now: dt.datetime,
    ) -> None:
        """Defer a request: consume its nonces, keep the dataset and the holder keys (``sealed``), answer 202."""
        async with self._db.begin() as conn:
            await _claim(conn, identifier, DatasetState.GRANTED, DatasetState.DEFERRED, now)
            await consume_nonces(conn, nonces, now)
            response_kek, response = seal(body)
            await conn.execute(update(credential_datasets).where(_DATASETS.identifier == identifier)
                               .values(kek_id=kek_id, sealed=sealed, request_key=request_key, response_status=202,
                                       response_kek_id=response_kek, response=response, transaction_id=transaction_id,
                                       expires_at=expires_at))

    async def note(self, notification_id: str, event: str, *, drop_response: bool) -> None:
        """Record a notification event (idempotent); ``credential_accepted`` drops the kept response."""
        values: dict[str, Any] = {"notification_event": event}
        if drop_response:
            values.update(response=None, response_kek_id=None)
        async with self._db.connection() as conn:
            await conn.execute(update(credential_datasets)
                               .where(_DATASETS.notification_id == notification_id).values(**values))

    async def pending_references(self) -> set[str]:
        """The certificate references of datasets that may still become credentials."""
        async with self._db.connection() as conn:
            rows = (await conn.execute(select(_DATASETS.cert_ref).distinct().where(
                _DATASETS.state.in_([s.value for s in PENDING])))).all()
        return {r.cert_ref for r in rows}

    @staticmethod
    async def deny_references(conn: Connection, references: Iterable[str]) -> int:
        """Deny the pending datasets of these certificate references (facts deleted), in the caller's transaction;
        how many."""
        result = await conn.execute(
            update(credential_datasets).where(_DATASETS.cert_ref.in_(list(references)),
                                              _DATASETS.state.in_([s.value for s in PENDING]))
            .values(state=DatasetState.DENIED.value, sealed=None, kek_id=None))
        return int(result.rowcount)


async def _claim(conn: Connection, identifier: str, from_state: DatasetState, to_state: DatasetState,
                 now: dt.datetime) -> None:
    """Move the unexpired dataset from ``from_state`` to ``to_state``; :class:`Conflict` if it is not there."""
    claimed = (await conn.execute(_CLAIM, {"b_identifier": identifier, "b_from": from_state.value,
                                           "b_to": to_state.value, "now": now})).first()
    if claimed is None:
        raise Conflict(identifier)


__all__ = ["PENDING", "Conflict", "DatasetRow", "DatasetState", "DatasetStore", "NewDataset", "Pause", "Sealer",
           "Signer"]
