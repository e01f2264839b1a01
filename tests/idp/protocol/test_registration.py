"""Dynamic client registration (RFC 7591, OIDC Dynamic Client Registration 1.0) and its management (RFC 7592):
modes off / token / open, metadata checks, the registration access token, registered clients in a real code flow."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from idp.clients import AuthMethod, Client
from idp.endpoints.registration import SECTOR_UNREADABLE, InvalidClientMetadataError, registration_arguments
from idp.oauth.client_auth import JWT_BEARER
from idp.runtime import utcnow
from idp.settings import SettingsError
from idp.storage.tables import clients as clients_table
from idp.vci.preauth import ISSUER_CLIENT_ID
from servicekit.outbound import IPAddress
from tests.idp.conftest import settings_for
from tests.idp.protocol import clientfixtures
from tests.idp.protocol.clientfixtures import ISSUER, Key, LoopbackServer, assertion_claims, jwks
from tests.idp.protocol.conftest import Browser
from tests.idp.protocol.tokenkit import REDIRECT_URI, IssuedCode, Provider, Rp, provider, verify_id_token
from tests.support.drip import drip_server

rp_server = clientfixtures.rp_server  # the fixture
INITIAL_TOKEN = "initial-" + "t" * 40


@pytest.fixture
def dcr(tmp_path: Path) -> Iterator[Provider]:
    """A provider with open registration."""
    with provider(tmp_path, MYNACARD_LOGIN_AUTHENTICATOR="test", MYNACARD_REGISTRATION_MODE="open",
                  MYNACARD_REGISTRATION_FETCH_TIMEOUT="1") as p:
        yield p


def register(op: Provider, metadata: dict[str, Any], **headers: str) -> httpx.Response:
    return op.http.post("/register", content=json.dumps(metadata),
                        headers={"Content-Type": "application/json", **headers})


def registered(op: Provider, **metadata: Any) -> dict[str, Any]:
    response = register(op, {"redirect_uris": [REDIRECT_URI], **metadata})
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    document: dict[str, Any] = response.json()
    return document


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def put(op: Provider, uri: str, token: str, document: dict[str, Any]) -> httpx.Response:
    return op.http.put(uri, content=json.dumps(document), headers={**bearer(token), "Content-Type": "application/json"})


def stored_client(op: Provider, client_id: str) -> Client:
    client = op.call(op.services.clients.get, client_id)
    assert client is not None
    return client


# who may register


def test_registration_is_off_by_default(op: Provider) -> None:
    assert register(op, {"redirect_uris": [REDIRECT_URI]}).status_code == 404
    assert op.http.get("/register/anything", headers=bearer("x")).status_code == 404
    assert "registration_endpoint" not in op.http.get("/.well-known/openid-configuration").json()


def test_token_mode_needs_the_initial_access_token(tmp_path: Path) -> None:
    with provider(tmp_path, MYNACARD_REGISTRATION_MODE="token",
                  MYNACARD_REGISTRATION_INITIAL_ACCESS_TOKEN=INITIAL_TOKEN) as op:
        metadata = {"redirect_uris": [REDIRECT_URI]}
        for headers in ({}, bearer(INITIAL_TOKEN[:-1]), bearer(INITIAL_TOKEN + "x"), {"Authorization": "Basic x"}):
            refused = register(op, metadata, **headers)
            assert refused.status_code == 401
            assert refused.json()["error"] == "invalid_token"
            assert refused.headers["www-authenticate"].startswith("Bearer ")
        assert register(op, metadata, **bearer(INITIAL_TOKEN)).status_code == 201
        metadata_document = op.http.get("/.well-known/openid-configuration").json()
        assert metadata_document["registration_endpoint"] == ISSUER + "/register"


@pytest.mark.parametrize(("env", "problem"), [
    ({"MYNACARD_REGISTRATION_MODE": "token"}, "registration.initial_access_token"),
    ({"MYNACARD_REGISTRATION_MODE": "token", "MYNACARD_REGISTRATION_INITIAL_ACCESS_TOKEN": "short"},
     "registration.initial_access_token"),
    ({"MYNACARD_REGISTRATION_MODE": "anyone"}, "registration.mode"),
    ({"MYNACARD_REGISTRATION_FETCH_TIMEOUT": "0"}, "registration.fetch_timeout"),
    ({"MYNACARD_LOGOUT_BACKCHANNEL_TIMEOUT": "0"}, "logout.backchannel_timeout"),
])
def test_registration_settings_are_checked(tmp_path: Path, env: dict[str, str], problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_for(tmp_path, **env)
    assert any(p.startswith(problem) for p in caught.value.problems)


# registration and use


def test_a_registered_basic_client_completes_a_code_flow(dcr: Provider) -> None:
    document = registered(dcr, software_id="ignored")
    assert document["token_endpoint_auth_method"] == "client_secret_basic"
    assert document["id_token_signed_response_alg"] == "RS256"  # OIDC Registration §2 default (RS256 enabled)
    assert document["client_secret_expires_at"] == 0
    assert document["registration_client_uri"] == f"{ISSUER}/register/{document['client_id']}"
    assert len(document["registration_access_token"]) >= 43
    assert len(document["client_secret"]) >= 43
    assert "software_id" not in document  # metadata we do not know is ignored (RFC 7591 §2)
    rp = Rp(stored_client(dcr, document["client_id"]), document["client_secret"])
    arrival = Browser(dcr).authorize(rp, nonce="n-dcr")
    tokens = dcr.redeem(rp, IssuedCode(arrival.code, arrival.verifier, ""))
    assert tokens.status_code == 200, tokens.text
    verify_id_token(tokens.json()["id_token"], dcr.jwks(), client_id=rp.client_id, alg="RS256", nonce="n-dcr")


def test_a_registered_private_key_jwt_client_authenticates(dcr: Provider) -> None:
    key = Key.generate("ES256")
    document = registered(dcr, token_endpoint_auth_method="private_key_jwt", jwks=jwks(key),
                          token_endpoint_auth_signing_alg="ES256", id_token_signed_response_alg="ES256",
                          grant_types=["authorization_code", "refresh_token"], response_types=["code"],
                          subject_type="pairwise", require_pushed_authorization_requests=True,
                          dpop_bound_access_tokens=True, application_type="web")
    assert "client_secret" not in document
    assert document["jwks"] == jwks(key)
    assert document["require_pushed_authorization_requests"] is True
    assert document["dpop_bound_access_tokens"] is True
    client = stored_client(dcr, document["client_id"])
    assert client.require_par
    assert client.dpop_bound_access_tokens
    assert client.auth_method is AuthMethod.PRIVATE_KEY_JWT
    assertion = key.sign(assertion_claims(client.client_id, at=utcnow()))
    response = dcr.http.post("/token", data={"grant_type": "client_credentials", "client_assertion": assertion,
                                             "client_assertion_type": JWT_BEARER})
    assert response.json().get("error") != "invalid_client", response.text
    again = dcr.http.post("/token", data={"grant_type": "client_credentials", "client_assertion": assertion,
                                          "client_assertion_type": JWT_BEARER})
    assert again.json().get("error") == "invalid_client"  # the same assertion twice


def test_secrets_are_stored_hashed(dcr: Provider) -> None:
    document = registered(dcr)

    async def row() -> dict[str, Any]:
        async with dcr.services.db.connection() as conn:
            found = (await conn.execute(select(clients_table).where(
                clients_table.c.client_id == document["client_id"]))).one()
        return dict(found._mapping)
    stored = dcr.call(row)
    assert stored["registration_token_sha256"] == hashlib.sha256(
        document["registration_access_token"].encode()).hexdigest()
    dump = json.dumps(stored, default=str)
    assert document["registration_access_token"] not in dump
    assert document["client_secret"] not in dump


def _metadata_case(case: str) -> tuple[dict[str, Any], str]:
    key = Key.generate()
    private = {**key.jwk, "d": "AAAA"}
    cases: dict[str, tuple[dict[str, Any], str]] = {
        "no redirect_uris": ({"redirect_uris": None}, "invalid_redirect_uri"),
        "empty redirect_uris": ({"redirect_uris": []}, "invalid_redirect_uri"),
        "http redirect": ({"redirect_uris": ["http://rp.example.jp/cb"]}, "invalid_redirect_uri"),
        "fragment": ({"redirect_uris": [REDIRECT_URI + "#f"]}, "invalid_redirect_uri"),
        "relative": ({"redirect_uris": ["/cb"]}, "invalid_redirect_uri"),
        "private scheme for web": ({"redirect_uris": ["jp.example.app:/cb"]}, "invalid_redirect_uri"),
        "redirect_uris not strings": ({"redirect_uris": [7]}, "invalid_client_metadata"),
        "two hosts without sector": ({"redirect_uris": [REDIRECT_URI, "https://other.example.jp/cb"]},
                                     "invalid_client_metadata"),
        "jwks and jwks_uri": ({"token_endpoint_auth_method": "private_key_jwt", "jwks": jwks(key),
                               "jwks_uri": "https://rp.example.jp/jwks"}, "invalid_client_metadata"),
        "jwks_uri": ({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://rp.example.jp/jwks"},
                     "invalid_client_metadata"),
        "private_key_jwt without keys": ({"token_endpoint_auth_method": "private_key_jwt"},
                                         "invalid_client_metadata"),
        "private jwk": ({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [private]}},
                        "invalid_client_metadata"),
        "jwks not an object": ({"jwks": "keys"}, "invalid_client_metadata"),
        "client_secret_post": ({"token_endpoint_auth_method": "client_secret_post"}, "invalid_client_metadata"),
        "response_types token": ({"response_types": ["code", "token"]}, "invalid_client_metadata"),
        "grant_types implicit": ({"grant_types": ["authorization_code", "implicit"]}, "invalid_client_metadata"),
        "grant_types without code": ({"grant_types": ["client_credentials"]}, "invalid_client_metadata"),
        "id token alg none": ({"id_token_signed_response_alg": "none"}, "invalid_client_metadata"),
        "id token alg HS256": ({"id_token_signed_response_alg": "HS256"}, "invalid_client_metadata"),
        "userinfo alg none": ({"userinfo_signed_response_alg": "none"}, "invalid_client_metadata"),
        "assertion alg RS256": ({"token_endpoint_auth_method": "private_key_jwt", "jwks": jwks(key),
                                 "token_endpoint_auth_signing_alg": "RS256"}, "invalid_client_metadata"),
        "assertion alg for basic": ({"token_endpoint_auth_signing_alg": "ES256"}, "invalid_client_metadata"),
        "request object alg none": ({"request_object_signing_alg": "none"}, "invalid_client_metadata"),
        "encrypted id tokens": ({"id_token_encrypted_response_alg": "RSA-OAEP"}, "invalid_client_metadata"),
        "public subjects": ({"subject_type": "public"}, "invalid_client_metadata"),
        "application_type tv": ({"application_type": "tv"}, "invalid_client_metadata"),
        "http back-channel": ({"backchannel_logout_uri": "http://rp.example.jp/bc"}, "invalid_client_metadata"),
        "post-logout fragment": ({"post_logout_redirect_uris": [REDIRECT_URI + "#x"]}, "invalid_client_metadata"),
        "post-logout http": ({"post_logout_redirect_uris": ["http://rp.example.jp/bye"]}, "invalid_client_metadata"),
        "flag not boolean": ({"dpop_bound_access_tokens": "yes"}, "invalid_client_metadata"),
        "sector_identifier_uri http": ({"sector_identifier_uri": "http://rp.example.jp/s.json"},
                                       "invalid_client_metadata"),
    }
    changes, error = cases[case]
    metadata = {"redirect_uris": [REDIRECT_URI], **changes}
    return {k: v for k, v in metadata.items() if v is not None}, error


@pytest.mark.parametrize("case", [
    "no redirect_uris", "empty redirect_uris", "http redirect", "fragment", "relative", "private scheme for web",
    "redirect_uris not strings", "two hosts without sector", "jwks and jwks_uri", "jwks_uri",
    "private_key_jwt without keys",
    "private jwk", "jwks not an object", "client_secret_post", "response_types token", "grant_types implicit",
    "grant_types without code", "id token alg none", "id token alg HS256", "userinfo alg none", "assertion alg RS256",
    "assertion alg for basic", "request object alg none", "encrypted id tokens", "public subjects",
    "application_type tv", "http back-channel", "post-logout fragment", "post-logout http", "flag not boolean",
    "sector_identifier_uri http"])
def test_bad_metadata_is_refused(dcr: Provider, case: str) -> None:
    metadata, error = _metadata_case(case)
    response = register(dcr, metadata)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error
    registered = [c.client_id for c in dcr.call(dcr.services.clients.all)]
    assert registered == [ISSUER_CLIENT_ID]  # only the provider's own (credential issuer) client


@pytest.mark.parametrize(("body", "content_type"), [
    (b"not json", "application/json"), (b"[1, 2]", "application/json"), (b'{"a": 1, "a": 2}', "application/json"),
    (b'{"redirect_uris": ["https://rp.example.jp/cb"]}', "application/x-www-form-urlencoded"),
])
def test_the_request_is_one_json_object(dcr: Provider, body: bytes, content_type: str) -> None:
    response = dcr.http.post("/register", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_client_metadata", "invalid_request")


def test_native_clients_may_use_loopback_and_private_use_schemes(dcr: Provider, rp_server: LoopbackServer) -> None:
    sector = rp_server.route("/sector.json", body=json.dumps(["jp.example.app:/cb"]))  # a hostless URI needs one
    document = registered(dcr, application_type="native", token_endpoint_auth_method="none",
                          redirect_uris=["jp.example.app:/cb"], sector_identifier_uri=sector)
    assert document["redirect_uris"] == ["jp.example.app:/cb"]
    assert "client_secret" not in document
    loopback = registered(dcr, redirect_uris=["http://127.0.0.1:49152/cb"], token_endpoint_auth_method="none")
    assert loopback["redirect_uris"] == ["http://127.0.0.1:49152/cb"]


def test_logout_metadata_is_kept(dcr: Provider) -> None:
    document = registered(dcr, post_logout_redirect_uris=["https://rp.example.jp/bye"],
                          backchannel_logout_uri="https://rp.example.jp/bc",
                          backchannel_logout_session_required=True)
    client = stored_client(dcr, document["client_id"])
    assert client.post_logout_redirect_uris == ("https://rp.example.jp/bye",)
    assert (client.backchannel_logout_uri, client.backchannel_logout_session_required) == (
        "https://rp.example.jp/bc", True)
    assert document["post_logout_redirect_uris"] == ["https://rp.example.jp/bye"]


@pytest.mark.parametrize("name", ["sector_identifier_uri", "backchannel_logout_uri"])
def test_outside_test_mode_the_provider_calls_https_urls_only(tmp_path: Path, name: str) -> None:
    metadata = {"redirect_uris": [REDIRECT_URI], name: "http://127.0.0.1:8080/x"}
    assert registration_arguments(metadata, settings_for(tmp_path, MYNACARD_TEST_MODE="1"))
    with pytest.raises(InvalidClientMetadataError):
        registration_arguments(metadata, settings_for(tmp_path))


# sector_identifier_uri (fetched from a real loopback server)


def test_sector_identifier_uri_lists_the_redirect_uris(dcr: Provider, rp_server: LoopbackServer) -> None:
    uris = [REDIRECT_URI, "https://other.example.jp/cb"]
    sector = rp_server.route("/sector.json", body=json.dumps([*uris, "https://third.example.jp/cb"]))
    document = registered(dcr, redirect_uris=uris, sector_identifier_uri=sector)
    client = stored_client(dcr, document["client_id"])
    assert (client.sector_identifier, client.sector_identifier_uri) == ("127.0.0.1", sector)
    assert rp_server.received[-1].method == "GET"


@pytest.mark.parametrize("case", ["missing uri", "404", "not an array", "too large", "unreachable", "slow"])
def test_a_bad_sector_identifier_document_is_refused(dcr: Provider, rp_server: LoopbackServer, case: str) -> None:
    if case == "unreachable":
        sector = "http://127.0.0.1:9/sector.json"
    else:
        status, body, delay = {"missing uri": (200, json.dumps(["https://other.example.jp/cb"]), 0.0),
                               "404": (404, "[]", 0.0), "not an array": (200, json.dumps({"uris": []}), 0.0),
                               "too large": (200, json.dumps([REDIRECT_URI] + ["x" * 1000] * 100), 0.0),
                               "slow": (200, json.dumps([REDIRECT_URI]), 3.0)}[case]
        sector = rp_server.route("/sector.json", status, body, delay)
    response = register(dcr, {"redirect_uris": [REDIRECT_URI], "sector_identifier_uri": sector})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


# outbound requests (issue 15): the address policy on every resolved address, a whole-request deadline, and one
# error text whatever went wrong


def resolving_to(*answers: str) -> tuple[Any, list[str]]:
    """A resolver stub answering ``answers`` for every name, and the list of names it was asked."""
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[IPAddress]:
        asked.append(host)
        return [ipaddress.ip_address(a) for a in answers]

    return resolve, asked


def sector_failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.__dict__["reason"] for r in caplog.records if r.msg == "sector_identifier_uri_failed"]


@pytest.mark.parametrize("address", ["10.0.0.7", "172.16.9.9", "192.168.1.20", "169.254.169.254", "169.254.7.7",
                                     "100.64.0.1", "fe80::1", "fd00:ec2::254", "::ffff:10.0.0.7"])
def test_a_sector_identifier_uri_resolving_to_a_non_public_address_is_refused(
        dcr: Provider, address: str, caplog: pytest.LogCaptureFixture) -> None:
    resolve, asked = resolving_to("203.0.114.7", address)  # one bad answer taints the name
    dcr.services.outbound.resolver = resolve
    caplog.set_level(logging.INFO)
    response = register(dcr, {"redirect_uris": [REDIRECT_URI],
                              "sector_identifier_uri": "https://sector.rp.example.jp/sector.json"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"
    assert asked == ["sector.rp.example.jp"]
    assert sector_failures(caplog) == ["refused_address"]


@pytest.mark.parametrize("uri", ["https://10.1.2.3/bc", "https://192.168.0.1:8443/bc", "https://169.254.169.254/bc",
                                 "https://[fd00::1]/bc", "https://[::ffff:172.16.0.1]/bc", "https://0.0.0.0/bc"])
@pytest.mark.parametrize("name", ["backchannel_logout_uri", "sector_identifier_uri"])
def test_urls_the_provider_calls_may_not_name_a_non_public_address(dcr: Provider, tmp_path: Path, name: str,
                                                                    uri: str) -> None:
    response = register(dcr, {"redirect_uris": [REDIRECT_URI], name: uri})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"
    assert name in response.json()["error_description"]
    metadata = {"redirect_uris": [REDIRECT_URI], name: uri}
    with pytest.raises(InvalidClientMetadataError):
        registration_arguments(metadata, settings_for(tmp_path))
    # an operator may admit a network explicitly
    admitted = settings_for(tmp_path, MYNACARD_HTTP_OUTBOUND_ALLOW="10.1.0.0/16, 192.168.0.0/24, fd00::/8, "
                                                                    "172.16.0.0/12, 169.254.169.254/32, 0.0.0.0/32")
    assert registration_arguments(metadata, admitted)[name] == uri


@pytest.mark.parametrize("name", ["backchannel_logout_uri", "sector_identifier_uri"])
def test_a_url_that_does_not_parse_is_refused(dcr: Provider, name: str) -> None:
    response = register(dcr, {"redirect_uris": [REDIRECT_URI], name: "https://[::1/bc"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


def test_loopback_literals_are_refused_outside_test_mode(tmp_path: Path) -> None:
    metadata = {"redirect_uris": [REDIRECT_URI], "backchannel_logout_uri": "https://127.0.0.1/bc"}
    assert registration_arguments(metadata, settings_for(tmp_path, MYNACARD_TEST_MODE="1"))
    with pytest.raises(InvalidClientMetadataError):
        registration_arguments(metadata, settings_for(tmp_path))


@pytest.fixture
def drip() -> Iterator[str]:
    """A sector document sent one octet every 0.2 s: each read is quick, the whole answer takes 10 s."""
    with drip_server(json.dumps([REDIRECT_URI]).encode().ljust(50)) as base:
        yield base + "/sector.json"


def test_a_slow_drip_is_cut_at_the_deadline(dcr: Provider, drip: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    started = time.monotonic()
    response = register(dcr, {"redirect_uris": [REDIRECT_URI], "sector_identifier_uri": drip})
    assert response.status_code == 400  # registration.fetch_timeout is 1 s for the whole request
    assert time.monotonic() - started < 4
    assert sector_failures(caplog) == ["timeout"]


def test_every_failed_sector_fetch_says_the_same(dcr: Provider, rp_server: LoopbackServer, drip: str,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """A refused address, a closed port, a timeout, a bad status, a document too large or not JSON: the answer
    cannot tell them apart (so registration cannot scan a network); the log can."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/sector.json"
    resolve, _ = resolving_to("10.9.9.9")
    dcr.services.outbound.resolver = resolve
    cases = {
        "refused": "https://intranet.rp.example.jp/sector.json",
        "closed port": closed,
        "timeout": drip,
        "404": rp_server.route("/404.json", 404, "[]"),
        "too large": rp_server.route("/large.json", body=json.dumps([REDIRECT_URI] + ["x" * 1000] * 100)),
        "not json": rp_server.route("/text.json", body=f'["{REDIRECT_URI}'),
        "deep": rp_server.route("/deep.json", body="[" * 5000 + "]" * 5000),
        "not an array": rp_server.route("/object.json", body=json.dumps({"uri": REDIRECT_URI})),
        "not strings": rp_server.route("/numbers.json", body="[1, 2]"),
    }
    caplog.set_level(logging.INFO)
    answers = {}
    for case, uri in cases.items():
        response = register(dcr, {"redirect_uris": [REDIRECT_URI], "sector_identifier_uri": uri})
        assert response.status_code == 400, (case, response.text)
        answers[case] = response.json()
    assert {json.dumps(a, sort_keys=True) for a in answers.values()} == {json.dumps(
        {"error": "invalid_client_metadata", "error_description": SECTOR_UNREADABLE}, sort_keys=True)}
    assert sector_failures(caplog) == ["refused_address", "unreachable", "timeout", "status", "too_large",
                                       "malformed", "too_deep", "not_an_array", "not_strings"]


# management (RFC 7592)


def test_read_answers_the_registration(dcr: Provider) -> None:
    document = registered(dcr)
    token, uri = document["registration_access_token"], document["registration_client_uri"]
    read = dcr.http.get(uri, headers=bearer(token))
    assert read.status_code == 200
    assert read.headers["cache-control"] == "no-store"
    expected = {k: v for k, v in document.items() if k not in ("client_secret", "client_secret_expires_at")}
    assert read.json() == expected


def test_the_configuration_endpoint_needs_the_clients_own_token(dcr: Provider) -> None:
    one, two = registered(dcr), registered(dcr)
    dcr.register("rp-admin", AuthMethod.NONE)  # registered by the admin CLI path: no registration token
    uri = one["registration_client_uri"]
    for path, headers in ((uri, {}), (uri, bearer(two["registration_access_token"])),
                          (uri, bearer(one["registration_access_token"] + "x")),
                          (uri, {"Authorization": "Basic " + one["registration_access_token"]}),
                          (f"{ISSUER}/register/rp-admin", bearer(one["registration_access_token"])),
                          (f"{ISSUER}/register/unknown", bearer(one["registration_access_token"]))):
        for method in ("GET", "DELETE"):
            response = dcr.http.request(method, path, headers=headers)
            assert response.status_code == 401, (method, path)
            assert response.headers["www-authenticate"].startswith("Bearer ")
    assert dcr.call(dcr.services.clients.get, one["client_id"]) is not None


def test_update_replaces_the_metadata_and_keeps_the_secret(dcr: Provider) -> None:
    document = registered(dcr, post_logout_redirect_uris=["https://rp.example.jp/bye"],
                          require_pushed_authorization_requests=True)
    token, uri, secret = document["registration_access_token"], document["registration_client_uri"], \
        document["client_secret"]
    sent = {k: v for k, v in document.items() if k not in (
        "registration_access_token", "registration_client_uri", "client_id_issued_at", "client_secret_expires_at",
        "require_pushed_authorization_requests")}
    sent["redirect_uris"] = [REDIRECT_URI, "https://rp.example.jp/cb2"]
    updated = put(dcr, uri, token, sent)
    assert updated.status_code == 200, updated.text
    assert updated.json()["redirect_uris"] == [REDIRECT_URI, "https://rp.example.jp/cb2"]
    assert "client_secret" not in updated.json()
    client = stored_client(dcr, document["client_id"])
    assert client.require_par is False  # left out: reset (RFC 7592 §2.2)
    assert client.secret_matches(secret)
    assert client.client_id_issued_at == document["client_id_issued_at"]
    assert dcr.http.get(uri, headers=bearer(token)).status_code == 200


@pytest.mark.parametrize("case", ["no client_id", "other client_id", "registration_access_token",
                                  "client_id_issued_at", "wrong client_secret", "bad metadata"])
def test_bad_updates_are_refused(dcr: Provider, case: str) -> None:
    document = registered(dcr)
    token, uri = document["registration_access_token"], document["registration_client_uri"]
    sent: dict[str, Any] = {"client_id": document["client_id"], "redirect_uris": [REDIRECT_URI]}
    sent.update({"no client_id": {"client_id": None}, "other client_id": {"client_id": "someone"},
                 "registration_access_token": {"registration_access_token": token},
                 "client_id_issued_at": {"client_id_issued_at": 1},
                 "wrong client_secret": {"client_secret": "chosen-by-the-client"},
                 "bad metadata": {"redirect_uris": ["http://rp.example.jp/cb"]}}[case])
    sent = {k: v for k, v in sent.items() if v is not None}
    response = put(dcr, uri, token, sent)
    assert response.status_code == 400
    assert stored_client(dcr, document["client_id"]).secret_matches(document["client_secret"])


def test_changing_the_method_issues_or_drops_the_secret(dcr: Provider) -> None:
    key = Key.generate()
    document = registered(dcr, token_endpoint_auth_method="private_key_jwt", jwks=jwks(key))
    token, uri = document["registration_access_token"], document["registration_client_uri"]
    to_basic = put(dcr, uri, token, {"client_id": document["client_id"], "redirect_uris": [REDIRECT_URI]})
    assert to_basic.status_code == 200
    secret = to_basic.json()["client_secret"]
    assert stored_client(dcr, document["client_id"]).secret_matches(secret)
    back = put(dcr, uri, token, {"client_id": document["client_id"], "redirect_uris": [REDIRECT_URI],
                                 "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks(key)})
    assert back.status_code == 200
    assert stored_client(dcr, document["client_id"]).secret_sha256 is None


def test_delete_removes_the_client(dcr: Provider) -> None:
    document = registered(dcr)
    token, uri = document["registration_access_token"], document["registration_client_uri"]
    deleted = dcr.http.delete(uri, headers=bearer(token))
    assert deleted.status_code == 204
    assert dcr.call(dcr.services.clients.get, document["client_id"]) is None
    assert dcr.http.get(uri, headers=bearer(token)).status_code == 401
    rp = Rp(Client(document["client_id"], AuthMethod.CLIENT_SECRET_BASIC, (REDIRECT_URI,)), document["client_secret"])
    form, headers = rp.auth({"grant_type": "client_credentials"})
    assert dcr.http.post("/token", data=form, headers=headers).status_code == 401


def test_discovery_advertises_registration_and_request_object_algorithms(dcr: Provider) -> None:
    metadata = dcr.http.get("/.well-known/openid-configuration").json()
    assert metadata["registration_endpoint"] == ISSUER + "/register"
    assert metadata["request_object_signing_alg_values_supported"] == ["ES256", "PS256", "EdDSA"]
    assert "none" not in metadata["request_object_signing_alg_values_supported"]
