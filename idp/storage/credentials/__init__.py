"""Storage of the credential issuer (tables in :mod:`idp.storage.tables`, migration ``0005``), SQLAlchemy Core on
SQLite and PostgreSQL alike; one module per aggregate:

* :mod:`~idp.storage.credentials.datasets`: Credential Datasets and the one-transaction Credential Request;
* :mod:`~idp.storage.credentials.status_lists`: Token Status Lists and the issued credentials' status entries;
* :mod:`~idp.storage.credentials.key_certificates`: the credential signing keys' certificates;
* :mod:`~idp.storage.credentials.pre_authorized_codes`: pre-authorized codes and their single use;
* :mod:`~idp.storage.credentials.nonces`: the single use of ``c_nonce`` values;
* :mod:`~idp.storage.credentials.watches`: the certificates behind live credentials, for the online re-check.

:class:`CredentialStore` holds one store of each and the jobs that span them: revoking what a certificate reached
and deleting what expired::

    store = CredentialStore(db)
    rows = await store.datasets.of_issuance(issuance_id, now)
    redemption = await store.pre_authorized_codes.redeem(code_digest, tx_code_digest, now)
    await store.status_lists.set_status(StatusType.INVALID, dataset=rows[0].identifier)
    revoked, denied = await store.revoke_references(await store.active_references(now) & revoked_references)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Final

from sqlalchemy import delete, select

from idp.storage.credentials.datasets import Conflict, DatasetRow, DatasetState, DatasetStore, NewDataset
from idp.storage.credentials.key_certificates import KeyCertificateStore
from idp.storage.credentials.nonces import NONCE_KIND, NonceRejected
from idp.storage.credentials.pre_authorized_codes import PreAuthorizedCodeStore, Redemption, RedemptionOutcome
from idp.storage.credentials.status_lists import StatusEntry, StatusListParameters, StatusListStore, StatusListView
from idp.storage.credentials.watches import NewWatch, WatchRow, WatchStore
from idp.storage.tables import certificate_watches, credential_datasets, pre_authorized_codes
from servicekit.database import Database

_CHUNK: Final = 500
_EXPIRING: Final = ((credential_datasets, credential_datasets.c.identifier),
                    (pre_authorized_codes, pre_authorized_codes.c.code_digest),
                    (certificate_watches, certificate_watches.c.cert_ref))


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    for value in values:
        batch.append(value)
        if len(batch) == _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


class CredentialStore:
    """The issuer's rows, shared by every worker: one store per aggregate."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.status_lists = StatusListStore(db)
        self.datasets = DatasetStore(db, self.status_lists)
        self.pre_authorized_codes = PreAuthorizedCodeStore(db)
        self.key_certificates = KeyCertificateStore(db)
        self.watches = WatchStore(db)

    async def active_references(self, now: dt.datetime) -> set[str]:
        """The certificate references of credentials still valid or suspended, and of datasets still pending."""
        # Pending datasets first: one issued between the two reads is then found by both, never by neither.
        pending = await self.datasets.pending_references()
        return pending | await self.status_lists.live_references(now)

    async def revoke_references(self, references: Iterable[str]) -> tuple[int, int]:
        """INVALID for every credential of these certificate references; their pending datasets denied (facts
        deleted); one transaction per chunk of references. Returns (credentials revoked, datasets denied)."""
        revoked = denied = 0
        for chunk in _chunks(references):
            async with self._db.begin() as conn:
                revoked += await self.status_lists.invalidate_references(conn, chunk)
                denied += await self.datasets.deny_references(conn, chunk)
        return revoked, denied

    async def delete_expired(self, now: dt.datetime, batch_size: int) -> int:
        """Delete expired datasets (facts and kept responses with them), pre-authorized codes and certificate
        watches, in batches."""
        deleted = 0
        for table, key in _EXPIRING:
            while True:
                victims = select(key).where(table.c.expires_at <= now).limit(batch_size)
                async with self._db.connection() as conn:
                    count = int((await conn.execute(delete(table).where(key.in_(victims)))).rowcount)
                deleted += count
                if count < batch_size:
                    break
        return deleted


__all__ = ["NONCE_KIND", "Conflict", "CredentialStore", "DatasetRow", "DatasetState", "DatasetStore",
           "KeyCertificateStore", "NewDataset", "NewWatch", "NonceRejected", "PreAuthorizedCodeStore", "Redemption",
           "RedemptionOutcome", "StatusEntry", "StatusListParameters", "StatusListStore", "StatusListView",
           "WatchRow", "WatchStore"]
