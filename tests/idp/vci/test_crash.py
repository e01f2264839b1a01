"""kill -9 of the provider in the middle of a Credential Request leaves no credential half-issued or issued twice,
on SQLite and on PostgreSQL.

The provider runs with ``credentials.test_pause`` (test mode only), which makes the credential endpoint stop
inside the issuance transaction (``before_commit``: status entries reserved, nonce consumed, credentials signed,
not committed) or just after it (``after_commit``: committed, the answer not yet sent). The test waits for that
point in the provider's log, kills the process with SIGKILL, starts it again on the same database and repeats
the very same request, as a wallet that lost its connection does."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from credentials.sdjwt import HeldSdJwt
from idp.storage import Database
from idp.storage.tables import credential_datasets, issued_credentials, status_lists

from .conftest import Provider, grant, make_provider
from .test_issuance import proofs, request_body

pytestmark = pytest.mark.slow


async def _state(url: str, identifier: str) -> dict[str, Any]:
    db = Database.connect(url)
    try:
        async with db.connection() as conn:
            count = (await conn.execute(select(func.count()).select_from(issued_credentials)
                                        .where(issued_credentials.c.dataset == identifier))).scalar_one()
            entries = {(r.status_list_id, r.status_idx) for r in (await conn.execute(
                select(issued_credentials.c.status_list_id, issued_credentials.c.status_idx)
                .where(issued_credentials.c.dataset == identifier))).all()}
            allocated = (await conn.execute(select(func.coalesce(func.sum(status_lists.c.allocated), 0)))).scalar_one()
            state = (await conn.execute(select(credential_datasets.c.state).where(
                credential_datasets.c.identifier == identifier))).scalar_one()
        return {"count": count, "entries": entries, "allocated": allocated, "state": state}
    finally:
        await db.dispose()


def _paused(provider: Provider, point: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(line.get("message") == "test_pause" and line.get("point") == point for line in provider.log_lines()):
            return
        time.sleep(0.05)
    raise AssertionError("the provider never reached " + point)


@pytest.mark.parametrize("point", ["before_commit", "after_commit"])
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_kill_during_issuance(database: str, point: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = None if database == "sqlite" else request.getfixturevalue("postgres").create_database()
    provider = make_provider(tmp_path, database_url=url)
    db_url = url or f"sqlite+aiosqlite:///{provider.data / 'idp.sqlite3'}"
    provider.start(MYNACARD_CREDENTIALS_TEST_PAUSE=point)
    try:
        granted = grant(provider, ["jp_age"])
        identifier = granted.identifiers["jp_age"]
        _, jwts = proofs(granted, 3)
        body = request_body(granted, "jp_age", jwts)
        outcome: list[object] = []

        def send() -> None:
            try:
                outcome.append(granted.post("credential_endpoint", body))
            except httpx.TransportError as exc:
                outcome.append(exc)

        sender = threading.Thread(target=send)
        sender.start()
        _paused(provider, point)
        provider.stop(kill=True)
        sender.join(30)
        assert outcome
        assert isinstance(outcome[0], httpx.TransportError)  # the wallet never got an answer
        after_kill = asyncio.run(_state(db_url, identifier))
        if point == "before_commit":
            assert after_kill == {"count": 0, "entries": set(), "allocated": 0, "state": "granted"}
        else:
            assert after_kill["count"] == 3
            assert after_kill["state"] == "issued"
        provider.start()
        retry = granted.post("credential_endpoint", body)  # the same request, a fresh DPoP proof
        assert retry.status_code == 200, retry.text
        credentials = [c["credential"] for c in retry.json()["credentials"]]
        assert len(credentials) == 3
        final = asyncio.run(_state(db_url, identifier))
        assert final["count"] == 3  # exactly once
        assert final["allocated"] == 3
        if point == "after_commit":
            assert final["entries"] == after_kill["entries"]
        issued = set()
        for credential in credentials:
            reference = HeldSdJwt.parse(credential).claims["status"]["status_list"]
            issued.add((int(reference["uri"].rsplit("/", 1)[1]), reference["idx"]))
        assert issued == final["entries"]
        assert granted.post("credential_endpoint", body).json() == retry.json()
        _, fresh = proofs(granted, 1)
        denied = granted.post("credential_endpoint", request_body(granted, "jp_age", fresh))
        assert denied.json()["error"] == "credential_request_denied"
        assert asyncio.run(_state(db_url, identifier))["count"] == 3
    finally:
        provider.stop()
