"""``idp serve`` as a real process with two workers, over real HTTP (httpx): discovery, JWKS, metrics,
and a relying party verifying ID-token-like JWTs continuously while the server rotates its keys."""

from __future__ import annotations

import multiprocessing
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest

from keys.service import KeyEncryptionKeys
from tests.idp.workers import sign_tokens
from tests.support.postgres import Cluster
from tests.support.processes import free_port, logged_errors, serving

pytestmark = pytest.mark.slow
KEK = KeyEncryptionKeys.generate()
#: Compressed time: keys sign for 3 s, are published 1.5 s ahead (>= JWKS max-age 1 s + worker cache
#: 0.3 s) and stay 2.5 s after (tokens live 2 s, tolerance 0.5 s).
FAST = {"MYNACARD_KEYS_JWKS_MAX_AGE": "1", "MYNACARD_KEYS_CACHE_TTL": "0.3", "MYNACARD_KEYS_PUBLISH_LEAD": "1.5",
        "MYNACARD_KEYS_ROTATION_INTERVAL": "3", "MYNACARD_KEYS_ROTATION_CHECK_INTERVAL": "0.2",
        "MYNACARD_TOKENS_ID_TOKEN_TTL": "2", "MYNACARD_TOKENS_ACCESS_TOKEN_TTL": "2",
        "MYNACARD_TOKENS_CLOCK_TOLERANCE": "0.5", "MYNACARD_CLEANUP_INTERVAL": "0.5"}


@dataclass
class Server:
    url: str
    env: dict[str, str]
    log: Path


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("serve")
    port = free_port()
    env = {"MYNACARD_DATA_DIR": str(base / "var"), "MYNACARD_ISSUER": f"http://127.0.0.1:{port}",
           "MYNACARD_KEYS_KEKS": KEK, **FAST}
    if request.param == "postgresql":
        cluster: Cluster = request.getfixturevalue("postgres")
        env["MYNACARD_DATABASE_URL"] = cluster.create_database()
    log = base / "serve.log"
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "idp", "serve", "--workers", "2", "--port", str(port)]
    with serving(command, env={**os.environ, **env}, log=log, url=url):
        yield Server(url, env, log)
    errors = logged_errors(log)
    assert not errors, errors[:3]


def test_discovery_and_jwks(server: Server) -> None:
    metadata = httpx.get(f"{server.url}/.well-known/openid-configuration").json()
    assert metadata["issuer"] == server.url
    assert httpx.get(f"{server.url}/.well-known/oauth-authorization-server").json() == metadata
    response = httpx.get(metadata["jwks_uri"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jwk-set+json")
    assert response.headers["cache-control"] == "public, max-age=1"
    keys = response.json()["keys"]
    assert {k["alg"] for k in keys} == {"ES256", "PS256", "RS256"}
    assert all(k["use"] == "sig" and k["kid"] for k in keys)


def test_metrics_cover_every_worker(server: Server) -> None:
    for _ in range(20):
        with httpx.Client() as client:  # a new connection each time, so both workers answer
            assert client.get(f"{server.url}/healthz").status_code == 200
    text = httpx.get(f"{server.url}/metrics").text
    match = re.search(r'idp_http_requests_total\{method="GET",route="/healthz",status="200"\} (\d+)', text)
    assert match is not None
    assert int(match[1]) >= 20


def test_relying_party_verifies_continuously_while_keys_rotate(server: Server) -> None:
    """The relying party fetches the JWKS only when its cached copy is older than the max-age the server
    sent, never on an unknown kid: publish-before-use must make that enough."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    signer = context.Process(target=sign_tokens, args=(server.env, 7.0, queue))
    signer.start()
    jwks_url = f"{server.url}/jwks"
    cache: dict[str, jwt.PyJWK] = {}
    fetched_at, max_age = 0.0, 0.0
    failures: list[str] = []
    kids_used: dict[str, set[str]] = {"ES256": set(), "PS256": set(), "RS256": set()}
    ever_published: set[str] = set()
    largest = 0
    verified = 0
    try:
        while (item := queue.get(timeout=60)) is not None:
            alg, token = item
            if time.monotonic() - fetched_at >= max_age:
                response = httpx.get(jwks_url)
                fetched_at = time.monotonic()
                max_age = float(response.headers["cache-control"].rpartition("max-age=")[2])
                cache = {k["kid"]: jwt.PyJWK(k) for k in response.json()["keys"]}
                ever_published |= cache.keys()
                largest = max(largest, len(cache))
            kid = jwt.get_unverified_header(token)["kid"]
            kids_used[alg].add(kid)
            if kid not in cache:
                failures.append(f"{alg} {kid}: not in the cached JWKS")
                continue
            try:
                jwt.decode(token, cache[kid], algorithms=[alg], audience="rp", issuer=server.url, leeway=0.5)
                verified += 1
            except jwt.PyJWTError as exc:
                failures.append(f"{alg} {kid}: {exc}")
    finally:
        signer.join(timeout=30)
    assert signer.exitcode == 0
    assert failures == []
    assert verified > 150
    assert all(len(kids) >= 3 for kids in kids_used.values()), kids_used  # at least two rotations per algorithm
    assert largest <= 9  # per algorithm at most: retired, current, next
    assert ever_published - set(cache)  # keys past their retention have left the JWKS
