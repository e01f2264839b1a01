"""The authorization side over real HTTP: two ``idp serve`` processes sharing one database, the browser switching
between them at every step (request, login page, login, consent, resume, token, prompt=none), so that no step
can rely on state kept in a process."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import anyio
import httpx
import pytest

from idp.clients import AuthMethod, register_client
from idp.oauth.pkce import s256_challenge
from keys.service import KeyEncryptionKeys
from tests.idp.protocol.tokenkit import REDIRECT_URI, database, serving
from tests.support.postgres import Cluster

pytestmark = pytest.mark.slow
CLIENT_ID = "rp-serve"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def servers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    base = tmp_path_factory.mktemp("authorize-serve")
    database_url = f"sqlite:///{base / 'idp.sqlite3'}"
    if request.param == "postgresql":
        cluster: Cluster = request.getfixturevalue("postgres")
        database_url = cluster.create_database()

    async def register() -> None:
        async with database(database_url) as (_, clients):
            await clients.add(register_client(CLIENT_ID, auth_method=AuthMethod.NONE, redirect_uris=[REDIRECT_URI])[0])
    anyio.run(register)
    env = {"MYNACARD_DATA_DIR": str(base / "var"), "MYNACARD_DATABASE_URL": database_url,
           "MYNACARD_KEYS_KEKS": KeyEncryptionKeys.generate(), "MYNACARD_TEST_MODE": "1",
           "MYNACARD_LOGIN_AUTHENTICATOR": "test", "MYNACARD_KEYS_ALGORITHMS": "ES256",
           "MYNACARD_AUTHORIZATION_PAIRWISE_SALT": secrets.token_urlsafe(32), "MYNACARD_LOGGING_REQUESTS": "false",
           # one issuer for both processes (without it each names its own port: idp serve --port)
           "MYNACARD_ISSUER": "http://127.0.0.1:8000"}
    with serving(env, base, processes=2) as urls:
        yield urls


def _params(location: str) -> dict[str, str]:
    assert location.startswith(REDIRECT_URI), location
    return dict(parse_qsl(urlsplit(location).query))


def test_a_code_flow_across_processes(servers: list[str]) -> None:
    a, b = servers
    verifier = secrets.token_urlsafe(48)
    request = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "response_type": "code", "scope": "openid",
               "state": "s-serve", "nonce": "n-serve", "code_challenge": s256_challenge(verifier),
               "code_challenge_method": "S256"}
    with httpx.Client(follow_redirects=False, timeout=30) as http:
        interaction = http.get(f"{a}/authorize", params=request).headers["location"]
        assert "test-login" in http.get(b + interaction).text
        consent = http.post(f"{a}{interaction}/test-login", data={"account_id": "alice"}).headers["location"]
        assert consent == f"{interaction}/consent"
        assert http.get(b + consent).status_code == 200
        resume = http.post(a + consent, data={"decision": "allow"}).headers["location"]
        answer = _params(http.get(b + resume).headers["location"])
        assert answer["state"] == "s-serve"
        assert answer["iss"] == "http://127.0.0.1:8000"
        tokens = http.post(f"{a}/token", data={"grant_type": "authorization_code", "code": answer["code"],
                                               "redirect_uri": REDIRECT_URI, "code_verifier": verifier,
                                               "client_id": CLIENT_ID})
        assert tokens.status_code == 200, tokens.text
        assert "id_token" in tokens.json()
        again = _params(http.get(f"{b}/authorize", params={**request, "prompt": "none"}).headers["location"])
        assert "code" in again
    with httpx.Client(follow_redirects=False, timeout=30) as stranger:
        refused = _params(stranger.get(f"{a}/authorize", params={**request, "prompt": "none"}).headers["location"])
        assert refused["error"] == "login_required"
        assert stranger.get(b + interaction).status_code == 400
