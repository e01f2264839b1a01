"""Signing keys rotate under a running provider (two workers) while relying parties redeem codes and verify
every ID token (ES256, PS256, RS256) and access token against the JWKS they cached for the max-age the server
sent, refetching only when it lapsed, never on an unknown kid: not one token may fail."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import jwt
import pytest

from idp.clients import AuthMethod, register_client
from keys.service import KeyEncryptionKeys
from tests.idp.protocol.tokenkit import (
    ISSUER,
    REDIRECT_URI,
    database,
    serving,
    store_code,
    verify_access_jwt,
    verify_id_token,
)

pytestmark = [pytest.mark.slow, pytest.mark.anyio]
#: Compressed time, as in tests/idp/test_serve.py: keys sign for 3 s, published 1.5 s ahead (>= JWKS max-age
#: 1 s + worker cache 0.3 s), kept 2.5 s after (tokens live 2 s, tolerance 0.5 s).
FAST = {"MYNACARD_KEYS_JWKS_MAX_AGE": "1", "MYNACARD_KEYS_CACHE_TTL": "0.3", "MYNACARD_KEYS_PUBLISH_LEAD": "1.5",
        "MYNACARD_KEYS_ROTATION_INTERVAL": "3", "MYNACARD_KEYS_ROTATION_CHECK_INTERVAL": "0.2",
        "MYNACARD_TOKENS_ID_TOKEN_TTL": "2", "MYNACARD_TOKENS_ACCESS_TOKEN_TTL": "2",
        "MYNACARD_TOKENS_CLOCK_TOLERANCE": "0.5", "MYNACARD_CLEANUP_INTERVAL": "0.5"}
SECONDS = 7.0
ALGORITHMS = ("ES256", "PS256", "RS256")


@dataclass(frozen=True)
class Server:
    url: str
    database_url: str


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("rotation")
    database_url = f"sqlite:///{base / 'idp.sqlite3'}"
    env = {"MYNACARD_DATA_DIR": str(base / "var"), "MYNACARD_DATABASE_URL": database_url, "MYNACARD_ISSUER": ISSUER,
           "MYNACARD_KEYS_KEKS": KeyEncryptionKeys.generate(), "MYNACARD_LOGGING_REQUESTS": "false", **FAST}
    with serving(env, base, workers=2) as urls:
        yield Server(urls[0], database_url)


async def test_relying_parties_verify_every_token_while_keys_rotate(server: Server) -> None:
    cache: dict[str, list[dict[str, str]]] = {"keys": []}
    fetched_at, max_age = 0.0, 0.0
    failures: list[str] = []
    kids: dict[str, set[str]] = {alg: set() for alg in ALGORITHMS}
    verified = 0
    async with database(server.database_url) as (objects, clients), httpx.AsyncClient(timeout=10) as http:
        for alg in ALGORITHMS:
            client, _ = register_client(f"rp-{alg.lower()}", auth_method=AuthMethod.NONE, redirect_uris=[REDIRECT_URI],
                                        id_token_signed_response_alg=alg)
            await clients.add(client)
        end = time.monotonic() + SECONDS
        while time.monotonic() < end:
            for alg in ALGORITHMS:
                client_id = f"rp-{alg.lower()}"
                issued = await store_code(objects, client_id)
                response = await http.post(f"{server.url}/token", data={
                    "grant_type": "authorization_code", "code": issued.code, "redirect_uri": REDIRECT_URI,
                    "code_verifier": issued.verifier, "client_id": client_id})
                if response.status_code != 200:
                    failures.append(f"{alg}: token endpoint {response.status_code} {response.text[:200]}")
                    continue
                body = response.json()
                if time.monotonic() - fetched_at >= max_age:
                    jwks = await http.get(f"{server.url}/jwks")
                    fetched_at = time.monotonic()
                    max_age = float(jwks.headers["cache-control"].rpartition("max-age=")[2])
                    cache = jwks.json()
                kid = jwt.get_unverified_header(body["id_token"])["kid"]
                kids[alg].add(kid)
                try:
                    verify_id_token(body["id_token"], cache, client_id=client_id, alg=alg, nonce="n-0S6_WzA2Mj")
                    verify_access_jwt(body["access_token"], cache)
                    verified += 1
                except Exception as exc:
                    failures.append(f"{alg} {kid}: {type(exc).__name__}: {exc}")
    assert failures == []
    assert verified > 60
    assert all(len(used) >= 3 for used in kids.values()), kids  # at least two rotations per algorithm
