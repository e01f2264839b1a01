"""Transaction state of the verifier service: SQLAlchemy 2 Core on SQLite or PostgreSQL.

Why a database and not signed stateless state: a ``nonce`` must be usable once (OpenID4VP 1.0 §14.1: a replayed
presentation is refused) and the verified result must wait for the relying party (§13.3 steps 6 to 9); both need
state that every worker sees. Every step is one statement whose ``WHERE`` clause states the transition, so two
workers (or two machines on PostgreSQL) behave as one: of two responses racing for one transaction exactly one
moves it out of ``pending`` (:meth:`TransactionStore.claim`), and a result is handed out once
(:meth:`TransactionStore.take_result` deletes it in the same statement that checks it).

A transaction row, keyed by ``request_id`` (the ``state`` and the last segment of the ``request_uri`` and
``response_uri``; public, it travels through the Wallet):

* ``transaction_hash`` — SHA-256 of the relying party's ``transaction_id`` (the secret it fetches the result
  with; never stored itself);
* the request: ``nonce``, ``client_id``, ``response_mode``, ``dcql_query`` (JSON), the same-device ``return_uri``,
  the response key (PKCS#8 wrapped under the KEK, bound to the row);
* ``status``: ``pending`` → ``processing`` (a response arrived) → ``verified`` / ``rejected``;
* ``response_code_hash`` (same-device: SHA-256 of the code sent back through the Wallet's redirect), ``result``
  (the disclosed claims, wrapped under the KEK, bound to the row) or ``reason``/``detail`` (a rejection);
* ``expires_at``: until a response is accepted, then until the result must have been fetched.

The rows live in a :class:`servicekit.database.Database` (SQLite inline, or PostgreSQL). The schema is made by the
Alembic scripts in ``migrations/`` (:meth:`TransactionStore.migrate`, once before the workers start); a schema
change is a new migration there. Their revision is kept in ``verifier_alembic_version``, so the verifier can share
a PostgreSQL database with the provider.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import MetaData, Table, delete, or_, select, update
from sqlalchemy.engine import RowMapping

from credentials.oid4vp.request import ResponseMode
from credentials.verifier.migrations.columns import transaction_columns
from keys.service.encryption import KeyEncryptionKeys, WrappedKey
from servicekit.database import Database
from servicekit.migrations import Baseline, Migrations

#: The verifier's Alembic scripts, with their own version table and lock ("veri") beside the provider's. A
#: database made by ``metadata.create_all`` before migrations existed is adopted at revision 0001.
MIGRATIONS: Final = Migrations("credentials.verifier:migrations", lock_key=0x76657269,
                               version_table="verifier_alembic_version",
                               baseline=Baseline("verifier_transactions", "0001"))

metadata = MetaData()
transactions = Table("verifier_transactions", metadata, *transaction_columns())


def secret_hash(value: str) -> str:
    """Hex SHA-256 of a high-entropy secret (transaction ids, response codes): what the database keeps. The secrets
    we issue are ASCII; a presented value may be any string (UTF-8 here, so it simply matches nothing)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Transaction:
    """One transaction row, with its response key unwrapped."""

    request_id: str
    nonce: str
    client_id: str
    response_mode: ResponseMode
    dcql_query: Mapping[str, Any]
    return_uri: str | None
    response_kid: str | None
    response_key: bytes | None
    status: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the relying party may learn of a transaction: its status and, when final, the result or the reason."""

    status: str
    result: Mapping[str, Any] | None = None
    reason: str | None = None
    detail: str | None = None
    response_code_hash: str | None = None
    same_device: bool = False


class TransactionStore:
    """The transitions of a transaction (module docstring); times are Unix seconds given by the caller."""

    def __init__(self, db: Database, keks: KeyEncryptionKeys) -> None:
        self.db = db
        self._keks = keks

    async def migrate(self) -> str | None:
        """Bring the schema to the newest revision (:data:`MIGRATIONS`); return the revision reached."""
        return await MIGRATIONS.migrate(self.db)

    async def insert(
        self, *, request_id: str, transaction_id: str, nonce: str, client_id: str, response_mode: ResponseMode,
        dcql_query: Mapping[str, Any], return_uri: str | None, response_kid: str | None, response_key: bytes | None,
        now: int, expires_at: int,
    ) -> None:
        """A new ``pending`` transaction; expired rows are purged in the same transaction (bounded)."""
        wrapped = self._keks.wrap(response_key, _aad(request_id, "response-key")) if response_key else None
        async with self.db.begin() as conn:
            stale = select(transactions.c.request_id).where(transactions.c.expires_at < now).limit(100)
            await conn.execute(delete(transactions).where(transactions.c.request_id.in_(stale)))
            await conn.execute(transactions.insert().values(
                request_id=request_id, transaction_hash=secret_hash(transaction_id), nonce=nonce, client_id=client_id,
                response_mode=response_mode.value, dcql_query=json.dumps(dict(dcql_query), ensure_ascii=False),
                return_uri=return_uri, response_kid=response_kid,
                response_key_kek=wrapped.kek_id if wrapped else None, response_key=wrapped.blob if wrapped else None,
                status="pending", created_at=now, expires_at=expires_at,
            ))

    async def pending(self, request_id: str, now: int) -> Transaction | None:
        """The transaction while it can still be answered (``pending`` and not expired), else ``None``."""
        async with self.db.connection() as conn:
            row = (await conn.execute(select(transactions).where(
                transactions.c.request_id == request_id, transactions.c.status == "pending",
                transactions.c.expires_at > now))).mappings().first()
        return self._transaction(row) if row is not None else None

    async def claim(self, request_id: str, now: int) -> Transaction | str:
        """Move the transaction from ``pending`` to ``processing`` (once, across workers) and return it; else why
        not: ``unknown_transaction``, ``transaction_expired`` or ``already_responded``."""
        async with self.db.begin() as conn:
            claimed = (await conn.execute(update(transactions).where(
                transactions.c.request_id == request_id, transactions.c.status == "pending",
                transactions.c.expires_at > now).values(status="processing"))).rowcount
            row = (await conn.execute(select(transactions).where(transactions.c.request_id == request_id))
                   ).mappings().first()
        if claimed == 1 and row is not None:
            return self._transaction(row)
        if row is None:
            return "unknown_transaction"
        return "transaction_expired" if row["status"] == "pending" else "already_responded"

    async def finish(
        self, request_id: str, *, now: int, keep_for: int, result: Mapping[str, Any] | None = None,
        reason: str | None = None, detail: str | None = None, response_code: str | None = None,
    ) -> None:
        """Record the outcome of a claimed transaction: the verified ``result`` or the rejection ``reason``. The
        response key is erased; the row lives ``keep_for`` more seconds for the relying party."""
        values: dict[str, Any] = {"status": "verified" if result is not None else "rejected", "reason": reason,
                                  "detail": detail, "response_key": None, "response_key_kek": None,
                                  "expires_at": now + keep_for}
        if result is not None:
            wrapped = self._keks.wrap(json.dumps(dict(result), ensure_ascii=False).encode(), _aad(request_id, "result"))
            values.update(result=wrapped.blob, result_kek=wrapped.kek_id)
        if response_code is not None:
            values["response_code_hash"] = secret_hash(response_code)
        async with self.db.connection() as conn:  # one statement: atomic by itself
            await conn.execute(update(transactions).where(
                transactions.c.request_id == request_id, transactions.c.status == "processing").values(**values))

    async def outcome(self, transaction_id: str, now: int) -> Outcome | None:
        """The transaction of ``transaction_id`` as its relying party sees it (``None``: unknown or purged)."""
        async with self.db.connection() as conn:
            row = (await conn.execute(select(
                transactions.c.status, transactions.c.expires_at, transactions.c.reason, transactions.c.detail,
                transactions.c.response_code_hash, transactions.c.return_uri,
            ).where(transactions.c.transaction_hash == secret_hash(transaction_id)))).mappings().first()
        if row is None:
            return None
        status = row["status"]
        if row["expires_at"] <= now:
            status = "expired"
        return Outcome(status, reason=row["reason"], detail=row["detail"],
                       response_code_hash=row["response_code_hash"], same_device=row["return_uri"] is not None)

    async def take_result(self, transaction_id: str, now: int) -> Outcome | None:
        """Delete a final (``verified``, ``rejected`` or expired) transaction and return its outcome, once: a
        second call, or a racing one, gets ``None``."""
        key = secret_hash(transaction_id)
        final = or_(transactions.c.status.in_(("verified", "rejected")), transactions.c.expires_at <= now)
        async with self.db.connection() as conn:  # one statement: atomic by itself
            row = (await conn.execute(delete(transactions).where(transactions.c.transaction_hash == key, final
            ).returning(transactions.c.request_id, transactions.c.status, transactions.c.result,
                        transactions.c.result_kek, transactions.c.reason, transactions.c.detail))).mappings().first()
        if row is None:
            return None
        result = None
        if row["result"] is not None:
            plain = self._keks.unwrap(WrappedKey(row["result_kek"], row["result"]), _aad(row["request_id"], "result"))
            result = json.loads(plain)
        return Outcome(row["status"], result=result, reason=row["reason"], detail=row["detail"])

    def _transaction(self, row: RowMapping) -> Transaction:
        key = None
        if row["response_key"] is not None:
            key = self._keks.unwrap(WrappedKey(row["response_key_kek"], row["response_key"]),
                                    _aad(row["request_id"], "response-key"))
        return Transaction(
            request_id=row["request_id"], nonce=row["nonce"], client_id=row["client_id"],
            response_mode=ResponseMode(row["response_mode"]), dcql_query=json.loads(row["dcql_query"]),
            return_uri=row["return_uri"], response_kid=row["response_kid"], response_key=key, status=row["status"],
            expires_at=row["expires_at"],
        )


def _aad(request_id: str, purpose: str) -> bytes:
    return f"mynacard-id verifier {purpose}\x00{request_id}".encode()
