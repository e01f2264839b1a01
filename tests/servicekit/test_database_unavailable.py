"""A PostgreSQL that cannot be reached: both database paths (SQLAlchemy's engine and the prepared statements on
asyncpg) raise DatabaseUnavailable at once, and the shared error mapping answers 503 with Retry-After. The restart
of a real server under load is ``python -m conformance faults`` (tests/conformance/test_faults.py)."""

from __future__ import annotations

import logging
import time

import pytest
from litestar import Litestar, get
from litestar.testing import TestClient
from sqlalchemy import column, literal_column, select, table, text

from servicekit.database import RETRY_AFTER_SECONDS, Database, DatabaseUnavailable, Prepared
from servicekit.http.errors import exception_handlers
from tests.support.processes import free_port

_ONE = Prepared(select(literal_column("1")).select_from(table("t", column("x"))))


@pytest.fixture
def unreachable() -> Database:
    return Database.connect(f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/none")  # nothing listens there


@pytest.mark.anyio
async def test_both_paths_fail_fast_with_database_unavailable(unreachable: Database) -> None:
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable):
        await unreachable.first(_ONE, {})
    with pytest.raises(DatabaseUnavailable):
        await unreachable.run(_ONE, {})
    with pytest.raises(DatabaseUnavailable):
        async with unreachable.connection() as conn:
            await conn.execute(text("SELECT 1"))
    with pytest.raises(DatabaseUnavailable):
        async with unreachable.begin() as conn:
            await conn.execute(text("SELECT 1"))
    assert time.monotonic() - started < 2.0
    await unreachable.dispose()


def test_the_answer_is_503_with_retry_after(unreachable: Database) -> None:
    @get("/thing")
    async def thing() -> dict[str, int]:
        async with unreachable.connection() as conn:
            return {"n": (await conn.execute(text("SELECT 1"))).scalar_one()}

    app = Litestar([thing], exception_handlers=exception_handlers(logging.getLogger("test.db")))
    with TestClient(app) as client:
        answer = client.get("/thing")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["status"] == 503
