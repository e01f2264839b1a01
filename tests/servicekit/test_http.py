"""``servicekit.http``: bounded form and JSON readers, error shapes and the one exception mapping; then both services
end to end, answering 400 (never 500) to bodies nested 10,000 deep."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.testing import TestClient

from servicekit.http.bodies import (
    BodyError,
    BodyReason,
    check_json_depth,
    parse_form,
    parse_form_pairs,
    parse_json,
    parse_json_array,
    read_form,
    read_json,
)
from servicekit.http.errors import (
    PROBLEM_JSON,
    challenge,
    exception_handlers,
    oauth_error_response,
    problem_response,
    safe_description,
)
from tests.support.http import assert_generic_problems

DEEP = 10_000
DEEP_ARRAYS = b"[" * DEEP + b"]" * DEEP
DEEP_OBJECTS = b'{"a":' * DEEP + b"1" + b"}" * DEEP
DEEP_MEMBER = b'{"token":' + DEEP_ARRAYS + b"}"


def _reason(call: Any, *args: Any, **kwargs: Any) -> BodyReason:
    with pytest.raises(BodyError) as refused:
        call(*args, **kwargs)
    return refused.value.reason


# -- forms ---------------------------------------------------------------------------------------------------------


def test_form_pairs_keep_order_repeats_and_empty_values() -> None:
    pairs = parse_form_pairs(b"claim=name&claim=birthdate&decision=allow&empty=&a+b=c%20d", max_bytes=100,
                             max_fields=8)
    assert pairs == [("claim", "name"), ("claim", "birthdate"), ("decision", "allow"), ("empty", ""), ("a b", "c d")]
    assert parse_form(b"grant_type=x&scope=", max_bytes=100, max_fields=8) == {"grant_type": "x", "scope": ""}


@pytest.mark.parametrize(("body", "reason"), [
    (b"a=1&b=2&a=3", BodyReason.REPEATED_PARAMETER),  # RFC 6749 §3.1
    (b"a=&a=3", BodyReason.REPEATED_PARAMETER),
    (b"a=\xff", BodyReason.NOT_UTF8),
    (b"a=%ff%fe", BodyReason.NOT_UTF8),  # percent-encoded octets are UTF-8 too
    (b"%c3=1", BodyReason.NOT_UTF8),
    (b"&".join(b"f%d=1" % i for i in range(9)), BodyReason.TOO_MANY_FIELDS),
    (b"a=" + b"x" * 200, BodyReason.TOO_LARGE),
])
def test_bad_forms_are_typed_errors(body: bytes, reason: BodyReason) -> None:
    assert _reason(parse_form, body, max_bytes=128, max_fields=8) is reason


# -- JSON ----------------------------------------------------------------------------------------------------------


def test_json_objects_within_the_limits() -> None:
    assert parse_json(b' {"a": [1, {"b": "[[[[{{{{"}], "c": "\\"[["}\n', max_bytes=100, max_depth=3) == {
        "a": [1, {"b": "[[[[{{{{"}], "c": '"[['}
    assert parse_json(b'{"a":[[[]]]}', max_bytes=100, max_depth=4) == {"a": [[[]]]}
    assert _reason(parse_json, b'{"a":[[[]]]}', max_bytes=100, max_depth=3) is BodyReason.TOO_DEEP


@pytest.mark.parametrize("body", [DEEP_ARRAYS, DEEP_OBJECTS, DEEP_MEMBER, b"[" * DEEP, b'{"a":"x"' + b"[" * DEEP])
def test_deep_nesting_is_refused_before_parsing(body: bytes) -> None:
    assert _reason(parse_json, body, max_bytes=len(body)) is BodyReason.TOO_DEEP
    assert _reason(check_json_depth, body, max_depth=32) is BodyReason.TOO_DEEP


@pytest.mark.parametrize(("body", "reason"), [
    (b"[1]", BodyReason.NOT_AN_OBJECT),
    (b'"text"', BodyReason.NOT_AN_OBJECT),
    (b"1", BodyReason.NOT_AN_OBJECT),
    (b"", BodyReason.NOT_AN_OBJECT),
    (b'{"a": 1, "a": 2}', BodyReason.DUPLICATE_MEMBER),  # RFC 7493 §2.3
    (b'{"a": {"b": 1, "b": 1}}', BodyReason.DUPLICATE_MEMBER),
    (b'{"a": }', BodyReason.MALFORMED),
    (b'{"a": NaN}', BodyReason.MALFORMED),
    (b'{"a": 1e400}', BodyReason.MALFORMED),
    (b'{"a": "\xff"}', BodyReason.MALFORMED),
    (b'{"a": "' + b"x" * 100 + b'"}', BodyReason.TOO_LARGE),
])
def test_bad_json_is_a_typed_error(body: bytes, reason: BodyReason) -> None:
    assert _reason(parse_json, body, max_bytes=64) is reason


@pytest.mark.parametrize(("body", "reason"), [
    (b'{"a": 1}', BodyReason.NOT_AN_ARRAY),
    (b'"[1]"', BodyReason.NOT_AN_ARRAY),
    (b"[1] [2]", BodyReason.MALFORMED),
    (b'[{"a": 1, "a": 2}]', BodyReason.DUPLICATE_MEMBER),
    (b"[1, NaN]", BodyReason.MALFORMED),
    (rb'["\ud800"]', BodyReason.MALFORMED),  # an unpaired surrogate (RFC 7493 §2.1)
    (b"[[[[1]]]]", BodyReason.TOO_DEEP),
    (b"[" * DEEP + b"]" * DEEP, BodyReason.TOO_DEEP),
    (b'["' + b"x" * 100 + b'"]', BodyReason.TOO_LARGE),
])
def test_fetched_json_arrays_follow_the_same_rules(body: bytes, reason: BodyReason) -> None:
    """A fetched document that is a list (a sector_identifier_uri's) is read by the one strict reader too."""
    assert parse_json_array(b' ["https://rp.example/cb", {"a": [1]}] ', max_bytes=64, max_depth=3) == [
        "https://rp.example/cb", {"a": [1]}]
    max_bytes = 64 if reason is BodyReason.TOO_LARGE else len(body)
    assert _reason(parse_json_array, body, max_bytes=max_bytes, max_depth=3) is reason


def test_error_descriptions_do_not_echo_the_body() -> None:
    with pytest.raises(BodyError) as refused:
        parse_json(b'{"secret-value": 1, "secret-value": 2}', max_bytes=100, what="client metadata")
    assert "secret-value" not in refused.value.description
    assert refused.value.description.startswith("client metadata")


# -- error shapes --------------------------------------------------------------------------------------------------


def test_oauth_error_shape() -> None:
    response = oauth_error_response("invalid_request", "parameter scope is repeated", 400,
                                    {"WWW-Authenticate": challenge("Bearer", error="invalid_request")})
    assert (response.status_code, response.content) == (400, {"error": "invalid_request",
                                                              "error_description": "parameter scope is repeated"})
    assert response.media_type == "application/json"
    assert response.headers == {"Cache-Control": "no-store", "WWW-Authenticate": 'Bearer error="invalid_request"'}
    assert safe_description('a "quoted"\\ name\n') == "a ?quoted?? name?"


def test_challenges() -> None:
    assert challenge("Bearer", realm="verifier") == 'Bearer realm="verifier"'
    assert challenge("Bearer", error="invalid_token", error_description="expired") == (
        'Bearer error="invalid_token", error_description="expired"')
    assert challenge("DPoP", realm="https://op.example", algs=("ES256", "PS256"), error="invalid_token") == (
        'DPoP realm="https://op.example", algs="ES256 PS256", error="invalid_token"')
    assert challenge("DPoP") == "DPoP"


def test_problem_details_shape() -> None:
    response = problem_response(401, headers={"WWW-Authenticate": 'Bearer realm="x"'},
                                extensions={"reason": "unauthorised", "detail": "an API key is required"})
    assert response.content == {"type": "about:blank", "title": "Unauthorized", "status": 401,
                                "reason": "unauthorised", "detail": "an API key is required"}
    assert response.media_type == PROBLEM_JSON
    assert response.headers["Cache-Control"] == "no-store"
    assert problem_response(503, "database unavailable").content == {
        "type": "about:blank", "title": "Service Unavailable", "status": 503, "detail": "database unavailable"}


class _Teapot(Exception):
    pass


@post("/form")
async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    return await read_form(request, max_bytes=64, max_fields=4)


@post("/json")
async def _json(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return await read_json(request, max_bytes=64 * 1024)


@get("/crash/{kind:str}", sync_to_thread=False)
def _crash(kind: FromPath[str]) -> None:
    if kind == "teapot":
        raise _Teapot("private detail")
    if kind == "missing":
        raise NotFoundException()
    raise KeyError("private detail")


@pytest.fixture
def plain_app() -> Iterator[TestClient[Litestar]]:
    def on_teapot(request: Request[Any, Any, Any], exc: _Teapot) -> Any:
        return problem_response(418)

    app = Litestar([_form, _json, _crash], exception_handlers=exception_handlers(
        logging.getLogger("tests.servicekit"), {_Teapot: on_teapot}), logging_config=None, openapi_config=None)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_one_mapping(plain_app: TestClient[Litestar], caplog: pytest.LogCaptureFixture) -> None:
    assert plain_app.post("/form", data={"a": "1"}).json() == {"a": "1"}
    assert plain_app.post("/json", json={"a": [1]}).json() == {"a": [1]}
    for answer in (plain_app.post("/form", content=b"a=1&a=2", headers={"Content-Type": "application/"
                                                                                         "x-www-form-urlencoded"}),
                   plain_app.post("/form", json={"a": "1"}),
                   plain_app.post("/json", content=DEEP_ARRAYS, headers={"Content-Type": "application/json"}),
                   plain_app.post("/json", content=b"[]", headers={"Content-Type": "application/json"}),
                   plain_app.post("/json", data={"a": "1"})):
        assert (answer.status_code, answer.headers["content-type"]) == (400, PROBLEM_JSON), answer.text
        assert answer.json()["title"] == "Bad Request"
        assert answer.headers["cache-control"] == "no-store"
    assert plain_app.get("/crash/teapot").status_code == 418
    with caplog.at_level(logging.ERROR, logger="tests.servicekit"):
        crashed = plain_app.get("/crash/key")
    assert_generic_problems(plain_app.get("/crash/missing"), plain_app.get("/form"), "POST", crashed, "private")
    logged = [r for r in caplog.records if r.getMessage() == "unhandled_exception"]
    assert [getattr(r, "exception_type", None) for r in logged] == ["KeyError"]


# -- both services end to end --------------------------------------------------------------------------------------

ADMIN_TOKEN = "admin-" + "t" * 40
JSON_HEADERS = {"Content-Type": "application/json"}


@pytest.fixture
def provider_client(tmp_path: Path) -> Iterator[TestClient[Litestar]]:
    from tests.idp.protocol.tokenkit import provider

    with provider(tmp_path, MYNACARD_REGISTRATION_MODE="open", MYNACARD_CREDENTIALS_ADMIN_TOKEN=ADMIN_TOKEN) as op:
        yield op.http


def _nested(depth: int) -> list[bytes]:
    """Arrays, objects and a member nested ``depth`` deep (CPython's json recursed past its limit at ~1,000)."""
    return [b"[" * depth + b"]" * depth, b'{"":' * depth + b"1" + b"}" * depth,
            b'{"token":' + b"[" * depth + b"]" * depth + b"}"]


def test_provider_answers_deep_json_with_400(provider_client: TestClient[Litestar]) -> None:
    for body in _nested(DEEP // 2):  # within the card login's and registration's size limits
        for path in ("/card-login/challenge", "/card-login/response"):
            answer = provider_client.post(path, content=body, headers=JSON_HEADERS)
            assert (answer.status_code, answer.json()["error"]) == (400, "bad_request"), answer.text
            assert "nests deeper" in answer.json()["message"]
        registered = provider_client.post("/register", content=body, headers=JSON_HEADERS)
        assert (registered.status_code, registered.json()["error"]) == (400, "invalid_client_metadata")
    for body in [b"[" * 2000 + b"]" * 2000, *_nested(800)]:  # the admin API takes 4 KiB
        admin = provider_client.post("/admin/credentials/status", content=body,
                                     headers={**JSON_HEADERS, "Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert (admin.status_code, admin.headers["content-type"]) == (400, PROBLEM_JSON), admin.text
        assert "nests deeper" in admin.json()["detail"]


def test_provider_form_endpoints_refuse_repeats_and_bad_utf8(provider_client: TestClient[Litestar]) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for body in (b"grant_type=client_credentials&grant_type=client_credentials", b"grant_type=%ff"):
        answer = provider_client.post("/token", content=body, headers=form)
        assert (answer.status_code, answer.json()["error"]) == (400, "invalid_request")
        assert answer.headers["cache-control"] == "no-store"
    wrong_type = provider_client.post("/token", json={"grant_type": "client_credentials"})
    assert (wrong_type.status_code, wrong_type.json()["error"]) == (400, "invalid_request")


@pytest.fixture
def verifier_client(tmp_path: Path) -> Iterator[TestClient[Litestar]]:
    from conformance.vp_modules import Holder
    from credentials.verifier.app import create_app
    from credentials.verifier.runtime import prepare
    from credentials.verifier.settings import load_settings

    holder = Holder(status_uri="http://127.0.0.1:9/status/1")
    roots = tmp_path / "roots"
    roots.mkdir()
    (roots / "vc-test-root.pem").write_bytes(holder.pki.root_pem())
    config = tmp_path / "verifier.toml"
    config.write_text(f"""
test_mode = true
data_dir = "{tmp_path / 'data'}"
base_url = "http://localhost:8000"
[trust]
issuer_roots_dir = "{roots}"
issuer_root_pins = ["{holder.pki.root_fingerprint}"]
[rp]
api_keys = "rp-test-key-{'k' * 32}"
[client]
id_prefix = "redirect_uri"
[presentation]
response_mode = "direct_post"
""", encoding="utf-8")
    settings = load_settings(config, environ={})
    asyncio.run(prepare(settings))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer rp-test-key-{'k' * 32}"
        yield client


def test_verifier_answers_deep_json_and_bad_forms_with_400(verifier_client: TestClient[Litestar]) -> None:
    for body in (DEEP_ARRAYS, DEEP_OBJECTS, DEEP_MEMBER, b'{"dcql_query": {}, "dcql_query": {}}', b"[]"):
        for path in ("/rp/requests", "/rp/results"):
            answer = verifier_client.post(path, content=body, headers=JSON_HEADERS)
            assert (answer.status_code, answer.headers["content-type"]) == (400, PROBLEM_JSON), answer.text
            assert answer.json()["reason"] == "invalid_request"
    for body in (b"response=a&response=b", b"response=%ff", b"x"):
        answer = verifier_client.post("/wallet/responses/unknown", content=body,
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert answer.status_code in (400, 404), answer.text
        assert answer.json()["error"] == "invalid_request"
    repeated = verifier_client.post("/wallet/requests/unknown", content=b"wallet_nonce=a&wallet_nonce=b",
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (repeated.status_code, repeated.json()) == (400, {"error": "invalid_request",
                                                             "error_description": "invalid_request"})
    missing = verifier_client.get("/no/such/thing")
    assert (missing.status_code, missing.headers["content-type"]) == (404, PROBLEM_JSON)
    assert missing.headers["cache-control"] == "no-store"
