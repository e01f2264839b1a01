"""Races across processes (oidc-anchors.md §4): 50 concurrent redemptions of one authorization code, and 50
concurrent uses of one refresh token, split between two ``idp serve`` processes that share one database
(SQLite file, then PostgreSQL). Exactly one redemption wins and the rest revoke the grant; exactly one refresh
of a public client's unbound refresh token wins and the replays revoke the grant (no grace: RFC 9700 §4.14.2)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest

from idp.clients import AuthMethod, register_client
from keys.service import KeyEncryptionKeys
from tests.idp.protocol.tokenkit import REDIRECT_URI, IssuedCode, database, serving, store_code, utcnow
from tests.support.postgres import Cluster

pytestmark = [pytest.mark.slow, pytest.mark.anyio]
ATTEMPTS = 50
CLIENT_ID = "rp-race"


@dataclass(frozen=True)
class Servers:
    urls: list[str]
    database_url: str


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def servers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    base = tmp_path_factory.mktemp("races")
    database_url = f"sqlite:///{base / 'idp.sqlite3'}"
    if request.param == "postgresql":
        cluster: Cluster = request.getfixturevalue("postgres")
        database_url = cluster.create_database()
    (base / "metrics").mkdir()
    env = {"MYNACARD_DATA_DIR": str(base / "var"), "MYNACARD_DATABASE_URL": database_url,
           "MYNACARD_KEYS_KEKS": KeyEncryptionKeys.generate(), "MYNACARD_TEST_MODE": "1",
           "MYNACARD_KEYS_ALGORITHMS": "ES256", "PROMETHEUS_MULTIPROC_DIR": str(base / "metrics"),
           "MYNACARD_LOGGING_REQUESTS": "false"}
    with serving(env, base, processes=2) as urls:
        yield Servers(urls, database_url)


@pytest.fixture
async def code(servers: Servers) -> AsyncIterator[tuple[IssuedCode, Servers]]:
    async with database(servers.database_url) as (objects, clients):
        if await clients.get(CLIENT_ID) is None:
            await clients.add(register_client(CLIENT_ID, auth_method=AuthMethod.NONE, redirect_uris=[REDIRECT_URI])[0])
        yield await store_code(objects, CLIENT_ID, scope="openid offline_access"), servers


async def _all_at_once(servers: Servers, form: dict[str, str]) -> list[httpx.Response]:
    """ATTEMPTS token requests in flight together, alternating between the two processes."""
    limits = httpx.Limits(max_connections=ATTEMPTS, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        return await asyncio.gather(*(http.post(f"{servers.urls[n % 2]}/token", data=form)
                                      for n in range(ATTEMPTS)))


def _metric(text: str, name: str, label: str) -> float:
    match = re.search(rf'{name}\{{[a-z_]+="{label}"\}} ([0-9.]+)', text)
    return float(match[1]) if match else 0.0


async def test_one_code_redeemed_fifty_times_at_once(code: tuple[IssuedCode, Servers]) -> None:
    issued, servers = code
    metrics_before = httpx.get(f"{servers.urls[0]}/metrics").text
    responses = await _all_at_once(servers, {"grant_type": "authorization_code", "code": issued.code,
                                             "redirect_uri": REDIRECT_URI, "code_verifier": issued.verifier,
                                             "client_id": CLIENT_ID})
    winners = [r for r in responses if r.status_code == 200]
    assert len(winners) == 1
    assert all(r.status_code == 400 and r.json()["error"] == "invalid_grant" for r in responses if r not in winners)
    async with database(servers.database_url) as (objects, _):
        assert await objects.find("Grant", issued.grant_id, now=utcnow()) is None  # reuse revoked the grant
    for url in servers.urls:
        bearer = {"Authorization": f"Bearer {winners[0].json()['access_token']}"}
        userinfo = httpx.get(f"{url}/userinfo", headers=bearer)
        assert userinfo.status_code == 401
    metrics = httpx.get(f"{servers.urls[1]}/metrics").text  # both processes, aggregated
    reuse = _metric(metrics, "idp_token_reuse_total", "authorization_code")
    reuse -= _metric(metrics_before, "idp_token_reuse_total", "authorization_code")
    assert 1 <= reuse <= ATTEMPTS - 1  # later losers find the code already gone with its grant
    assert _metric(metrics, "idp_tokens_issued_total", "authorization_code") >= 1


async def test_one_refresh_token_used_fifty_times_at_once(code: tuple[IssuedCode, Servers]) -> None:
    """A public client without DPoP has no grace (RFC 9700 §4.14.2): one rotation wins, every replay revokes the
    family, the winner's successor included."""
    issued, servers = code
    metrics_before = httpx.get(f"{servers.urls[0]}/metrics").text
    first = httpx.post(f"{servers.urls[0]}/token", data={
        "grant_type": "authorization_code", "code": issued.code, "redirect_uri": REDIRECT_URI,
        "code_verifier": issued.verifier, "client_id": CLIENT_ID}).json()
    responses = await _all_at_once(servers, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                                             "client_id": CLIENT_ID})
    winners = [r for r in responses if r.status_code == 200]
    assert len(winners) == 1, [r.text for r in responses[:3]]
    assert all(r.status_code == 400 and r.json()["error"] == "invalid_grant" for r in responses if r not in winners)
    async with database(servers.database_url) as (objects, _):
        assert await objects.find("Grant", issued.grant_id, now=utcnow()) is None
    successor = winners[0].json()["refresh_token"]
    again = httpx.post(f"{servers.urls[1]}/token", data={"grant_type": "refresh_token", "refresh_token": successor,
                                                         "client_id": CLIENT_ID})
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")
    metrics = httpx.get(f"{servers.urls[1]}/metrics").text
    replays = _metric(metrics, "idp_refresh_replays_total", "revoked")
    assert 1 <= replays - _metric(metrics_before, "idp_refresh_replays_total", "revoked") <= ATTEMPTS - 1
    assert _metric(metrics, "idp_refresh_replays_total", "answered") == 0
