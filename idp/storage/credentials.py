"""Storage of the credential issuer (tables in :mod:`idp.storage.tables`, migration ``0005``), SQLAlchemy Core on
SQLite and PostgreSQL alike.

The one rule that matters: **a Credential Request is one transaction** (:meth:`CredentialStore.issue`). It claims
the dataset (``state`` from ``granted``, or ``deferred``, to ``issued``: of concurrent requests exactly one
matches), consumes the request's ``c_nonce`` values, reserves a random status index per credential (a unique
``(list, index)`` row, so no index is ever handed out twice), signs, and stores the sealed response under the
request's idempotency key, then commits. A process killed at any point before the commit leaves nothing: no
status entry, no consumed nonce, the dataset still ``granted``; killed after it, the credentials exist exactly
once and the same request gets the same answer back (:attr:`DatasetRow.request_key`).

Status changes bump the list's ``version`` in the same statement's transaction, which is how every worker knows
its signed Status List Token is stale.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import delete, func, insert, select, union, update

from idp.storage.tables import (
    credential_datasets,
    credential_signing_keys,
    issued_credentials,
    objects,
    pre_authorized_codes,
    status_lists,
)
from servicekit.database import Connection, Database

NONCE_KIND: Final = "CredentialNonce"
VALID, INVALID, SUSPENDED = 0, 1, 2
_CHUNK: Final = 500
_INDEX_TRIES: Final = 64

State = Literal["granted", "deferred", "issued", "denied"]


class Conflict(Exception):
    """The dataset is not in the state the request needs (another request used it, or it is gone)."""


class NonceRejected(Exception):
    """A ``c_nonce`` of the request is unknown, expired or already used; nothing was written."""


@dataclass(frozen=True, slots=True)
class DatasetRow:
    """One Credential Dataset row (see :data:`idp.storage.tables.credential_datasets`)."""

    identifier: str
    issuance_id: str
    configuration_id: str
    state: str
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
    entries: Mapping[int, int]


@dataclass(frozen=True, slots=True)
class StatusEntry:
    """One issued credential's status entry."""

    credential_id: int
    status_list_id: int
    status_idx: int
    status: int
    configuration_id: str
    issued_at: dt.datetime
    expires_at: dt.datetime


#: The signing callback of :meth:`CredentialStore.issue`: status entries (list, index) in, response body out.
Signer = Callable[[Sequence[tuple[int, int]]], dict[str, Any]]
#: Seals a response body for storage: (KEK id, ciphertext).
Sealer = Callable[[dict[str, Any]], tuple[str, bytes]]
Pause = Callable[[str], Awaitable[None]]

_DATASET_COLUMNS = tuple(credential_datasets.c)


def _dataset(row: Any) -> DatasetRow:
    return DatasetRow(*(getattr(row, c.name) for c in _DATASET_COLUMNS))


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    batch: list[str] = []
    for value in values:
        batch.append(value)
        if len(batch) == _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


class CredentialStore:
    """The issuer's rows, shared by every worker."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # --- datasets ------------------------------------------------------------------------------------------------

    async def add_datasets(self, rows: Sequence[NewDataset], now: dt.datetime) -> None:
        """Store new datasets (state ``granted``) in one transaction."""
        if not rows:
            return
        async with self._db.begin() as conn:
            await conn.execute(insert(credential_datasets), [
                {"identifier": r.identifier, "issuance_id": r.issuance_id, "configuration_id": r.configuration_id,
                 "state": "granted", "kek_id": r.kek_id, "sealed": r.sealed, "cert_ref": r.cert_ref,
                 "cert_issuer": r.cert_issuer, "created_at": now, "expires_at": r.expires_at} for r in rows])

    async def _one(self, *conditions: Any) -> DatasetRow | None:
        async with self._db.connection() as conn:
            row = (await conn.execute(select(credential_datasets).where(*conditions))).first()
        return None if row is None else _dataset(row)

    async def dataset(self, identifier: str, now: dt.datetime) -> DatasetRow | None:
        """The unexpired dataset ``identifier``."""
        return await self._one(credential_datasets.c.identifier == identifier, credential_datasets.c.expires_at > now)

    async def by_transaction(self, transaction_id: str, now: dt.datetime) -> DatasetRow | None:
        """The unexpired dataset of a deferred issuance."""
        return await self._one(credential_datasets.c.transaction_id == transaction_id,
                               credential_datasets.c.expires_at > now)

    async def by_notification(self, notification_id: str) -> DatasetRow | None:
        """The dataset a notification id was issued for (expired or not: notifications are idempotent)."""
        return await self._one(credential_datasets.c.notification_id == notification_id)

    async def datasets(self, issuance_id: str, now: dt.datetime) -> list[DatasetRow]:
        """The unexpired datasets of an issuance."""
        async with self._db.connection() as conn:
            rows = (await conn.execute(select(credential_datasets).where(
                credential_datasets.c.issuance_id == issuance_id, credential_datasets.c.expires_at > now)
                .order_by(credential_datasets.c.configuration_id))).all()
        return [_dataset(r) for r in rows]

    async def deny(self, identifier: str) -> None:
        """End a dataset without credentials (its facts deleted), unless it was issued meanwhile."""
        async with self._db.begin() as conn:
            await conn.execute(update(credential_datasets).where(
                credential_datasets.c.identifier == identifier, credential_datasets.c.state != "issued")
                .values(state="denied", sealed=None, kek_id=None))

    async def issue(
        self,
        identifier: str,
        *,
        from_state: State,
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
            await self._claim(conn, identifier, from_state, "issued", now)
            await self._consume_nonces(conn, nonces, now)
            entries = await self._allocate(conn, count, lists, identifier=identifier, cert_ref=cert_ref,
                                           configuration_id=configuration_id, expires_at=expires_at, now=now)
            body = sign(entries)
            kek_id, sealed = seal(body)
            await conn.execute(update(credential_datasets).where(credential_datasets.c.identifier == identifier)
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
            await self._claim(conn, identifier, "granted", "deferred", now)
            await self._consume_nonces(conn, nonces, now)
            response_kek, response = seal(body)
            await conn.execute(update(credential_datasets).where(credential_datasets.c.identifier == identifier)
                               .values(kek_id=kek_id, sealed=sealed, request_key=request_key, response_status=202,
                                       response_kek_id=response_kek, response=response, transaction_id=transaction_id,
                                       expires_at=expires_at))

    async def note(self, notification_id: str, event: str, *, drop_response: bool) -> None:
        """Record a notification event (idempotent); ``credential_accepted`` drops the kept response."""
        values: dict[str, Any] = {"notification_event": event}
        if drop_response:
            values.update(response=None, response_kek_id=None)
        async with self._db.begin() as conn:
            await conn.execute(update(credential_datasets)
                               .where(credential_datasets.c.notification_id == notification_id).values(**values))

    async def _claim(self, conn: Connection, identifier: str, from_state: str, to_state: str,
                     now: dt.datetime) -> None:
        claimed = (await conn.execute(
            update(credential_datasets).where(credential_datasets.c.identifier == identifier,
                                              credential_datasets.c.state == from_state,
                                              credential_datasets.c.expires_at > now)
            .values(state=to_state).returning(credential_datasets.c.identifier))).first()
        if claimed is None:
            raise Conflict(identifier)

    async def _consume_nonces(self, conn: Connection, nonces: Sequence[str], now: dt.datetime) -> None:
        if not nonces:
            return
        if any(not 0 < len(n) <= 255 for n in nonces):
            raise NonceRejected
        consumed = (await conn.execute(
            update(objects).where(objects.c.kind == NONCE_KIND, objects.c.id.in_(list(nonces)),
                                  objects.c.consumed_at.is_(None), objects.c.expires_at > now)
            .values(consumed_at=now).returning(objects.c.id))).all()
        if len(consumed) != len(set(nonces)):
            raise NonceRejected

    async def _allocate(self, conn: Connection, count: int, lists: StatusListParameters, *, identifier: str,
                        cert_ref: str, configuration_id: str, expires_at: dt.datetime,
                        now: dt.datetime) -> list[tuple[int, int]]:
        """Reserve ``count`` random status entries (HAIP 1.0: a unique random index per credential)."""
        list_id = await self._current_list(conn, count, lists, now)
        entries: list[tuple[int, int]] = []
        for _ in range(count):
            for _ in range(_INDEX_TRIES):
                idx = secrets.randbelow(lists.size)
                stmt = self._db.insert(issued_credentials).values(
                    status_list_id=list_id, status_idx=idx, status=VALID, configuration_id=configuration_id,
                    dataset=identifier, cert_ref=cert_ref, issued_at=now, expires_at=expires_at,
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
        for _ in range(4):
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

    # --- statuses ------------------------------------------------------------------------------------------------

    async def status_list(self, list_id: int) -> StatusListView | None:
        """The list and its non-VALID entries."""
        async with self._db.connection() as conn:
            row = (await conn.execute(select(status_lists).where(status_lists.c.id == list_id))).first()
            if row is None:
                return None
            entries = (await conn.execute(
                select(issued_credentials.c.status_idx, issued_credentials.c.status)
                .where(issued_credentials.c.status_list_id == list_id, issued_credentials.c.status != VALID))).all()
        return StatusListView(row.id, row.bits, row.size, row.version, {e.status_idx: e.status for e in entries})

    async def list_version(self, list_id: int) -> int | None:
        """The version of a list (``None``: no such list)."""
        async with self._db.connection() as conn:
            return (await conn.execute(select(status_lists.c.version).where(status_lists.c.id == list_id))
                    ).scalar_one_or_none()

    async def status_lists(self) -> list[dict[str, Any]]:
        """Every list with its fill."""
        async with self._db.connection() as conn:
            rows = (await conn.execute(select(status_lists).order_by(status_lists.c.id))).all()
        return [{"id": r.id, "bits": r.bits, "size": r.size, "capacity": r.capacity, "allocated": r.allocated,
                 "version": r.version, "created_at": r.created_at.isoformat()} for r in rows]

    async def entries(self, *, credential_id: int | None = None, status_list_id: int | None = None,
                      status_idx: int | None = None, dataset: str | None = None) -> list[StatusEntry]:
        """Status entries selected by credential id, by (list, index) or by dataset."""
        stmt = select(issued_credentials).where(*self._selection(credential_id, status_list_id, status_idx, dataset))
        async with self._db.connection() as conn:
            rows = (await conn.execute(stmt.order_by(issued_credentials.c.id))).all()
        return [StatusEntry(r.id, r.status_list_id, r.status_idx, r.status, r.configuration_id, r.issued_at,
                            r.expires_at) for r in rows]

    @staticmethod
    def _selection(credential_id: int | None, status_list_id: int | None, status_idx: int | None,
                   dataset: str | None) -> list[Any]:
        if credential_id is not None:
            return [issued_credentials.c.id == credential_id]
        if status_list_id is not None and status_idx is not None:
            return [issued_credentials.c.status_list_id == status_list_id,
                    issued_credentials.c.status_idx == status_idx]
        if dataset is not None:
            return [issued_credentials.c.dataset == dataset]
        raise ValueError("select by credential id, by list and index, or by dataset")

    async def set_status(self, status: int, *, credential_id: int | None = None, status_list_id: int | None = None,
                         status_idx: int | None = None, dataset: str | None = None) -> int:
        """Change statuses; INVALID is final, VALID only comes back from SUSPENDED. Rows changed."""
        selection = self._selection(credential_id, status_list_id, status_idx, dataset)
        allowed = issued_credentials.c.status == SUSPENDED if status == VALID else issued_credentials.c.status.notin_(
            [INVALID, status])
        async with self._db.begin() as conn:
            changed = (await conn.execute(update(issued_credentials).where(*selection, allowed).values(status=status)
                                          .returning(issued_credentials.c.status_list_id))).all()
            await self._bump(conn, {r.status_list_id for r in changed})
        return len(changed)

    async def _bump(self, conn: Connection, list_ids: set[int]) -> None:
        if list_ids:
            await conn.execute(update(status_lists).where(status_lists.c.id.in_(sorted(list_ids)))
                               .values(version=status_lists.c.version + 1))

    async def active_references(self, now: dt.datetime) -> set[str]:
        """The certificate references of credentials still valid or suspended, and of datasets still pending."""
        issued = select(issued_credentials.c.cert_ref).where(issued_credentials.c.status != INVALID,
                                                             issued_credentials.c.expires_at > now)
        pending = select(credential_datasets.c.cert_ref).where(credential_datasets.c.state.in_(["granted", "deferred"]))
        async with self._db.connection() as conn:
            return {r[0] for r in (await conn.execute(union(issued, pending))).all()}

    async def revoke_references(self, references: Iterable[str]) -> tuple[int, int]:
        """INVALID for every credential of these certificate references; their pending datasets denied (facts
        deleted). Returns (credentials revoked, datasets denied)."""
        revoked = denied = 0
        for chunk in _chunks(references):
            async with self._db.begin() as conn:
                changed = (await conn.execute(
                    update(issued_credentials).where(issued_credentials.c.cert_ref.in_(chunk),
                                                     issued_credentials.c.status != INVALID)
                    .values(status=INVALID).returning(issued_credentials.c.status_list_id))).all()
                await self._bump(conn, {r.status_list_id for r in changed})
                result = await conn.execute(
                    update(credential_datasets).where(credential_datasets.c.cert_ref.in_(chunk),
                                                      credential_datasets.c.state.in_(["granted", "deferred"]))
                    .values(state="denied", sealed=None, kek_id=None))
            revoked += len(changed)
            denied += int(result.rowcount)
        return revoked, denied

    async def delete_expired(self, now: dt.datetime, batch_size: int) -> int:
        """Delete expired datasets (facts and kept responses with them) and pre-authorized codes, in batches."""
        deleted = 0
        for table, key in ((credential_datasets, credential_datasets.c.identifier),
                           (pre_authorized_codes, pre_authorized_codes.c.code_digest)):
            while True:
                victims = select(key).where(table.c.expires_at <= now).limit(batch_size)
                async with self._db.begin() as conn:
                    count = int((await conn.execute(delete(table).where(key.in_(victims)))).rowcount)
                deleted += count
                if count < batch_size:
                    break
        return deleted

    # --- pre-authorized codes ------------------------------------------------------------------------------------

    async def add_pre_authorized_code(self, code_digest: str, *, issuance_id: str, tx_code_digest: str | None,
                                      max_attempts: int, expires_at: dt.datetime, now: dt.datetime) -> None:
        """Store a pre-authorized code (digests only)."""
        async with self._db.begin() as conn:
            await conn.execute(insert(pre_authorized_codes).values(
                code_digest=code_digest, issuance_id=issuance_id, tx_code_digest=tx_code_digest, attempts=0,
                max_attempts=max_attempts, created_at=now, expires_at=expires_at, consumed_at=None))

    async def redeem_pre_authorized_code(self, code_digest: str, tx_code_digest: str | None,
                                         now: dt.datetime) -> tuple[str, str | None]:
        """Redeem once: ``("ok", issuance)``, or an outcome of ``invalid`` (unknown, expired, used, dead),
        ``tx_code_required``, ``tx_code_unexpected``, ``wrong_tx_code`` (counted; the last allowed one kills it)."""
        code = pre_authorized_codes.c
        live = (code.code_digest == code_digest, code.consumed_at.is_(None), code.expires_at > now,
                code.attempts < code.max_attempts)
        async with self._db.connection() as conn:
            row = (await conn.execute(select(pre_authorized_codes).where(*live))).first()
        if row is None:
            return "invalid", None
        if row.tx_code_digest is None and tx_code_digest is not None:
            return "tx_code_unexpected", None
        if row.tx_code_digest is not None and tx_code_digest is None:
            return "tx_code_required", None
        if row.tx_code_digest is not None and not hmac.compare_digest(row.tx_code_digest, str(tx_code_digest)):
            async with self._db.begin() as conn:
                await conn.execute(update(pre_authorized_codes).where(*live).values(attempts=code.attempts + 1))
                await conn.execute(update(pre_authorized_codes).where(
                    code.code_digest == code_digest, code.attempts >= code.max_attempts, code.consumed_at.is_(None))
                    .values(consumed_at=now))
            return "wrong_tx_code", None
        async with self._db.begin() as conn:
            taken = (await conn.execute(update(pre_authorized_codes).where(*live).values(consumed_at=now)
                                        .returning(code.issuance_id))).first()
        return ("ok", str(taken.issuance_id)) if taken is not None else ("invalid", None)

    # --- credential signing key certificates ---------------------------------------------------------------------

    async def key_certificate(self, kid: str) -> bytes | None:
        """The certificate of a credential signing key, once made."""
        async with self._db.connection() as conn:
            value = (await conn.execute(select(credential_signing_keys.c.certificate)
                                        .where(credential_signing_keys.c.kid == kid))).scalar_one_or_none()
        return None if value is None else bytes(value)

    async def offer_key_certificate(self, kid: str, der: bytes) -> bytes | None:
        """Store ``der`` unless the key has a certificate already; the certificate every worker will use."""
        async with self._db.begin() as conn:
            await conn.execute(update(credential_signing_keys).where(
                credential_signing_keys.c.kid == kid, credential_signing_keys.c.certificate.is_(None))
                .values(certificate=der))
        return await self.key_certificate(kid)




__all__ = ["INVALID", "NONCE_KIND", "SUSPENDED", "VALID", "Conflict", "CredentialStore", "DatasetRow", "NewDataset",
           "NonceRejected", "StatusEntry", "StatusListParameters", "StatusListView"]
