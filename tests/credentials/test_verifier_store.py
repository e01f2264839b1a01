"""``credentials.verifier.store`` on SQLite and PostgreSQL: a transaction is claimed once and its result handed
out once even when many connections race, expiry and purging work, and secrets and claims are never stored in
the clear. Its migrations create the table the store defines, and adopt a database made before they existed."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection

from credentials.oid4vp import ResponseKey, ResponseMode
from credentials.verifier.store import MIGRATIONS, TransactionStore, metadata, secret_hash, transactions
from keys.service.encryption import KeyEncryptionKeys
from servicekit.database import Database

NOW = 1_800_000_000


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """``db_url``'s SQLite database under the settings' default ``sqlite+aiosqlite`` scheme."""
    return f"sqlite+aiosqlite:///{tmp_path / 'verifier.sqlite3'}"


@pytest.fixture
async def empty(db_url: str) -> AsyncIterator[Database]:
    db = Database.connect(db_url)
    yield db
    await db.dispose()


@pytest.fixture
async def store(empty: Database) -> TransactionStore:
    result = TransactionStore(empty, KeyEncryptionKeys.parse(KeyEncryptionKeys.generate()))
    await result.migrate()
    return result


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                          "version_table": MIGRATIONS.version_table})
    return list(compare_metadata(context, metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


@pytest.mark.anyio
async def test_migrations_create_the_table_once_with_their_own_version_table(db_url: str, empty: Database) -> None:
    keks = KeyEncryptionKeys.parse(KeyEncryptionKeys.generate())
    stores = [TransactionStore(Database.connect(db_url), keks) for _ in range(2)]
    try:
        assert await MIGRATIONS.current_revision(empty) is None
        assert await asyncio.gather(*(s.migrate() for s in stores)) == [MIGRATIONS.head_revision()] * 2
    finally:
        for s in stores:
            await s.db.dispose()
    assert await TransactionStore(empty, keks).migrate() == "0001"
    async with empty.connection() as conn:
        assert await conn.run_sync(_tables) == {"verifier_transactions", "verifier_alembic_version"}
        assert await conn.run_sync(_differences) == []


@pytest.mark.anyio
async def test_a_database_made_before_migrations_is_adopted(empty: Database) -> None:
    """``metadata.create_all`` made the schema before migrations existed: the first migration stamps 0001 and
    keeps the rows."""
    async with empty.begin() as conn:
        await conn.run_sync(metadata.create_all)
    store = TransactionStore(empty, KeyEncryptionKeys.parse(KeyEncryptionKeys.generate()))
    await _insert(store, "before")
    assert await store.migrate() == "0001"
    assert await MIGRATIONS.current_revision(empty) == "0001"
    assert await store.pending("before", NOW) is not None
    async with empty.connection() as conn:
        assert await conn.run_sync(_differences) == []


async def _insert(store: TransactionStore, request_id: str, *, expires_at: int = NOW + 300,
                  key: ResponseKey | None = None, return_uri: str | None = None) -> None:
    await store.insert(request_id=request_id, transaction_id=f"tx-{request_id}", nonce="n", client_id="x509_hash:h",
                       response_mode=ResponseMode.DIRECT_POST_JWT, dcql_query={"credentials": []},
                       return_uri=return_uri, response_kid=key.kid if key else None,
                       response_key=key.private_bytes() if key else None, now=NOW, expires_at=expires_at)


@pytest.mark.anyio
async def test_claimed_once_and_handed_out_once(store: TransactionStore) -> None:
    key = ResponseKey.generate()
    await _insert(store, "r1", key=key, return_uri="https://rp.example/done")
    pending = await store.pending("r1", NOW)
    assert pending is not None
    assert pending.response_key == key.private_bytes()
    claims = await asyncio.gather(*(store.claim("r1", NOW) for _ in range(10)))
    winners = [c for c in claims if not isinstance(c, str)]
    assert len(winners) == 1
    assert sorted(c for c in claims if isinstance(c, str)) == ["already_responded"] * 9
    assert await store.pending("r1", NOW) is None
    assert (await store.outcome("tx-r1", NOW)).status == "processing"  # type: ignore[union-attr]
    await store.finish("r1", now=NOW, keep_for=60, result={"credentials": {"age": [{"claims": {"x": "秘密"}}]}},
                       response_code="code-1")
    outcome = await store.outcome("tx-r1", NOW)
    assert outcome is not None
    assert outcome.status == "verified"
    assert outcome.same_device
    assert outcome.response_code_hash == secret_hash("code-1")
    async with store.db.connection() as conn:
        row = (await conn.execute(select(transactions))).mappings().one()
    assert row["response_key"] is None  # erased once answered
    assert "秘密".encode() not in row["result"]
    assert "tx-r1" not in str(dict(row))
    taken = await asyncio.gather(*(store.take_result("tx-r1", NOW) for _ in range(5)))
    results = [t for t in taken if t is not None]
    assert len(results) == 1
    assert results[0].result == {"credentials": {"age": [{"claims": {"x": "秘密"}}]}}
    assert await store.outcome("tx-r1", NOW) is None


@pytest.mark.anyio
async def test_expiry_unknown_rejection_and_purge(store: TransactionStore) -> None:
    await _insert(store, "old", expires_at=NOW - 10)
    assert await store.claim("old", NOW) == "transaction_expired"
    assert await store.claim("nothing", NOW) == "unknown_transaction"
    assert (await store.outcome("tx-old", NOW)).status == "expired"  # type: ignore[union-attr]
    await _insert(store, "r2")  # purges expired rows
    assert await store.outcome("tx-old", NOW) is None
    assert not isinstance(await store.claim("r2", NOW), str)
    await store.finish("r2", now=NOW, keep_for=60, reason="nonce_mismatch", detail="d")
    assert await store.take_result("tx-r2", NOW - 1) is not None
    await _insert(store, "r3")
    assert await store.take_result("tx-r3", NOW) is None  # pending: nothing to hand out


@pytest.mark.anyio
async def test_a_transaction_id_out_of_ascii_is_unknown(store: TransactionStore) -> None:
    """A relying party may send any JSON string as ``transaction_id``: one out of ASCII names no transaction (it was
    a 500, found by schemathesis), and the hash of an ASCII one is unchanged."""
    assert await store.outcome("tx-\U00033aa2", NOW) is None
    assert await store.take_result("トランザクション", NOW) is None
    assert secret_hash("tx-1") == hashlib.sha256(b"tx-1").hexdigest()
