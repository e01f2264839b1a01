"""``credentials.verifier.store`` on SQLite and PostgreSQL: a transaction is claimed once and its result handed
out once even when many connections race, expiry and purging work, and secrets and claims are never stored in
the clear."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from credentials.oid4vp import ResponseKey, ResponseMode
from credentials.verifier.store import TransactionStore, connect, secret_hash, transactions
from keys.service.encryption import KeyEncryptionKeys

NOW = 1_800_000_000


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TransactionStore]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'verifier.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres").create_database()
    engine = connect(url)
    result = TransactionStore(engine, KeyEncryptionKeys.parse(KeyEncryptionKeys.generate()))
    await result.create_schema()
    yield result
    await engine.dispose()


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
    async with store.engine.connect() as conn:
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
