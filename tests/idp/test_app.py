"""The application in process (litestar TestClient): discovery, JWKS, health, metrics, OpenAPI, errors, logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from litestar import Litestar, get
from litestar.params import FromPath
from litestar.testing import TestClient
from sqlalchemy import delete

from idp.app import create_app
from idp.endpoints.discovery import PENDING
from idp.errors import InvalidGrant, InvalidToken
from idp.runtime import Services, utcnow
from idp.storage.tables import signing_keys
from keys.service import KeyEncryptionKeys, encode_jwt
from servicekit.logs import JsonFormatter
from tests.idp.conftest import settings_for
from tests.support.http import assert_generic_problems

KEK = KeyEncryptionKeys.generate()


@get("/test/crash", sync_to_thread=False, include_in_schema=False)
def crash() -> None:
    raise RuntimeError("internal detail that must not leak")


@get("/test/oauth/{kind:str}", sync_to_thread=False, include_in_schema=False)
def oauth_failure(kind: FromPath[str]) -> None:
    if kind == "grant":
        raise InvalidGrant('the code was already used "twice"', detail="grant g-123 revoked")
    raise InvalidToken("the access token expired")


@pytest.fixture
def app(tmp_path: Path, db_url: str) -> Litestar:
    application = create_app(settings_for(tmp_path, db_url, MYNACARD_KEYS_ALGORITHMS="ES256,PS256",
                                          MYNACARD_KEYS_KEKS=KEK))
    application.register(crash)
    application.register(oauth_failure)
    return application


@pytest.fixture
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_discovery_documents(client: TestClient[Litestar]) -> None:
    oidc = client.get("/.well-known/openid-configuration")
    oauth = client.get("/.well-known/oauth-authorization-server")
    assert oidc.status_code == oauth.status_code == 200
    assert oidc.json() == oauth.json()
    assert (oidc.json()["issuer"], oidc.json()["jwks_uri"]) == ("http://127.0.0.1:8000", "http://127.0.0.1:8000/jwks")
    assert oidc.headers["cache-control"] == "public, max-age=300"
    assert not set(PENDING) & set(oidc.json())


def test_jwks_serves_the_keys_that_sign(app: Litestar, client: TestClient[Litestar]) -> None:
    response = client.get("/jwks")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jwk-set+json")
    assert response.headers["cache-control"] == "public, max-age=3600"
    document = response.json()
    assert sorted(k["alg"] for k in document["keys"]) == ["ES256", "PS256"]
    assert all({"kid", "alg", "use"} <= k.keys() and "d" not in k for k in document["keys"])
    services: Services = app.state.services
    for alg in ("ES256", "PS256"):
        with client.portal() as portal:
            signer = portal.call(services.keyset.signer, alg, utcnow())
        token = encode_jwt({"iss": "http://127.0.0.1:8000", "aud": "rp"}, signer)
        key = jwt.PyJWKSet.from_dict(document)[signer.kid]
        assert jwt.decode(token, key, algorithms=[alg], audience="rp")["iss"] == "http://127.0.0.1:8000"


def test_health(app: Litestar, client: TestClient[Litestar]) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    services: Services = app.state.services

    async def lose_keys() -> None:
        async with services.db.begin() as conn:
            await conn.execute(delete(signing_keys))
        await services.keyset.keys(utcnow(), reload=True)

    with client.portal() as portal:
        portal.call(lose_keys)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["detail"] == "signing keys unavailable"


def test_problem_details_without_internals(client: TestClient[Litestar], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="idp.errors"):
        crashed = client.get("/test/crash")
    assert_generic_problems(client.get("/no/such/thing"), client.post("/jwks"), "GET", crashed, "internal detail")
    assert any(r.exc_info and "internal detail" in str(r.exc_info[1]) for r in caplog.records)


def test_oauth_errors_have_rfc6749_shape(client: TestClient[Litestar]) -> None:
    grant = client.get("/test/oauth/grant")
    assert grant.status_code == 400
    assert grant.json() == {"error": "invalid_grant", "error_description": "the code was already used ?twice?"}
    assert grant.headers["cache-control"] == "no-store"
    assert "g-123" not in grant.text
    token = client.get("/test/oauth/token")
    assert token.status_code == 401
    assert token.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="the access token expired"')
    assert 'idp_oauth_errors_total{error="invalid_grant"} 1.0' in client.get("/metrics").text


def test_metrics_use_route_templates_only(client: TestClient[Litestar]) -> None:
    for _ in range(3):
        client.get("/jwks", params={"login_hint": "taro@example.jp"})
    client.get("/users/taro/secret-path")
    text = client.get("/metrics").text
    assert 'idp_http_requests_total{method="GET",route="/jwks",status="200"} 3.0' in text
    assert 'idp_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert 'idp_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/jwks"}' in text
    assert "taro" not in text
    assert "secret-path" not in text


def test_openapi_schema(client: TestClient[Litestar]) -> None:
    schema = client.get("/schema/openapi.json").json()
    assert {"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/jwks",
            "/healthz"} <= set(schema["paths"])
    assert "/metrics" not in schema["paths"]


def test_logs_are_json_without_query_strings(app: Litestar, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO), TestClient(app) as client:
        client.get("/jwks", params={"login_hint": "taro@example.jp"})
    lines = [JsonFormatter().format(r) for r in caplog.records if r.name != "httpx"]  # httpx: the test's client
    documents = [json.loads(line) for line in lines]
    request = next(d for d in documents if d["message"] == "request")
    assert (request["route"], request["status"], request["logger"]) == ("/jwks", 200, "idp.request")
    assert "duration_ms" in request
    assert any(d["message"].startswith("UNSAFE: issuer") for d in documents)
    assert not any("taro" in line or KEK in line for line in lines)


def test_json_formatter_includes_exceptions() -> None:
    try:
        raise ValueError("boom")
    except ValueError as exc:
        record = logging.LogRecord("idp.x", logging.ERROR, __file__, 1, "failed %s", ("job",), (type(exc), exc, None))
    record.kid = "k1"
    document = json.loads(JsonFormatter().format(record))
    assert (document["message"], document["level"], document["kid"]) == ("failed job", "error", "k1")
    assert "ValueError: boom" in document["exception"]


def test_no_request_resolves_its_dependencies_in_a_task_group(tmp_path: Path) -> None:
    """litestar resolves the dependencies of one level together in an anyio task group (tasks on every request);
    the provider's are chained so that each level holds one (idp.endpoints.dependencies)."""
    application = create_app(settings_for(tmp_path))
    checked = 0
    for route in application.routes:
        for handler, kwargs_model in getattr(route, "route_handler_map", {}).values():
            batches = kwargs_model.dependency_batches
            assert all(len(batch) == 1 for batch in batches), (handler, batches)
            checked += bool(batches)
    assert checked > 20
