"""The token endpoint: authorization_code (RFC 6749 §4.1.3, RFC 7636, OIDC Core §3.1.3), client_credentials
(RFC 6749 §4.4), request checks, response shape, ID tokens in ES256/PS256/RS256 verified by our strict JOSE
and by pyjwt, RFC 9068 access tokens, metrics and discovery."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from idp.clients import AuthMethod
from idp.oauth.pkce import s256_challenge, verify_code_verifier
from idp.settings import SettingsError, load_settings
from tests.idp.protocol.tokenkit import ISSUER, REDIRECT_URI, Provider, provider, verify_access_jwt, verify_id_token


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Provider]:
    with provider(tmp_path, MYNACARD_TOKENS_CLIENT_CREDENTIALS_SCOPES="sign,status") as p:
        yield p


def _error(response: object) -> str:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error", "error_description"}
    return str(body["error"])


def test_pkce_rfc7636_appendix_b() -> None:
    verifier, challenge = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert s256_challenge(verifier) == challenge
    assert verify_code_verifier(verifier, challenge)
    assert not verify_code_verifier(verifier[:-1] + "l", challenge)
    assert not verify_code_verifier("short", s256_challenge("short"))  # fewer than 43 characters (§4.1)
    assert not verify_code_verifier(verifier + "!", s256_challenge(verifier + "!"))  # outside unreserved


def test_code_flow_answers_tokens(op: Provider) -> None:
    rp = op.register("rp-web")
    issued = op.code(rp, claims={"id_token": {"name": "山田太郎", "iss": "https://evil.example"},
                                 "userinfo": {"address": {"formatted": "東京都"}}})
    response = op.redeem(rp, issued)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "id_token"}
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 600, "openid")
    jwks = op.jwks()
    id_token = verify_id_token(body["id_token"], jwks, client_id="rp-web", alg="ES256", nonce="n-0S6_WzA2Mj")
    assert id_token["iss"] == ISSUER  # a released claim never replaces a protocol claim
    assert id_token["name"] == "山田太郎"
    assert "address" not in id_token
    assert (id_token["acr"], id_token["amr"]) == ("urn:mynacard:acr:auth-cert", ["sc", "pin"])
    assert id_token["sid"].startswith("sid-")
    assert id_token["exp"] - id_token["iat"] == 3600
    digest = hashlib.sha256(body["access_token"].encode()).digest()[:16]
    assert id_token["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    access = verify_access_jwt(body["access_token"], jwks)
    assert access["sub"] == id_token["sub"]
    assert (access["client_id"], access["scope"], access["gid"], access["aud"]) == ("rp-web", "openid",
                                                                                    issued.grant_id, ISSUER)
    assert access["auth_time"] == id_token["auth_time"]
    assert access["exp"] - access["iat"] == 600
    assert access["jti"]
    assert "cnf" not in access
    assert "name" not in access


@pytest.mark.parametrize("alg", ["ES256", "PS256", "RS256"])
def test_id_token_algorithm_is_the_clients(op: Provider, alg: str) -> None:
    rp = op.register(f"rp-{alg.lower()}", id_token_signed_response_alg=alg)
    response = op.redeem(rp, op.code(rp, nonce=None))
    assert response.status_code == 200, response.text
    claims = verify_id_token(response.json()["id_token"], op.jwks(), client_id=rp.client_id, alg=alg, nonce=None)
    assert "nonce" not in claims


def test_refresh_token_only_with_offline_access(op: Provider) -> None:
    rp = op.register("rp-offline")
    body = op.redeem(rp, op.code(rp, scope="openid offline_access")).json()
    assert body["scope"] == "openid offline_access"
    assert len(body["refresh_token"]) >= 43
    assert "refresh_token" not in op.redeem(rp, op.code(rp, scope="openid")).json()


def test_oauth_only_scope_has_no_id_token(op: Provider) -> None:
    rp = op.register("rp-oauth")
    body = op.redeem(rp, op.code(rp, scope="status")).json()
    assert "id_token" not in body
    assert body["scope"] == "status"


def test_a_code_is_redeemed_once_and_reuse_revokes_the_grant(op: Provider) -> None:
    rp = op.register("rp-replay")
    issued = op.code(rp, scope="openid offline_access")
    first = op.redeem(rp, issued)
    assert first.status_code == 200
    assert op.userinfo(first.json()["access_token"]).status_code == 200
    again = op.redeem(rp, issued)
    assert (again.status_code, _error(again)) == (400, "invalid_grant")
    assert not op.grant_exists(issued.grant_id)
    assert op.userinfo(first.json()["access_token"]).status_code == 401
    assert _error(op.refresh(rp, first.json()["refresh_token"])) == "invalid_grant"
    metrics = op.http.get("/metrics").text
    assert 'idp_token_reuse_total{kind="authorization_code"} 1.0' in metrics
    assert 'idp_tokens_issued_total{grant_type="authorization_code"} 1.0' in metrics


@pytest.mark.parametrize(("override", "why"), [
    ({"code_verifier": "x" * 43}, "wrong verifier"),
    ({"code_verifier": ""}, "no verifier"),
    ({"redirect_uri": "https://rp.example.jp/other"}, "other redirect URI"),
    ({"redirect_uri": ""}, "no redirect URI"),
    ({"code": "not-a-code"}, "unknown code"),
    ({"code": "c" * 300}, "oversize code"),
])
def test_failed_checks_do_not_burn_the_code(op: Provider, override: dict[str, str], why: str) -> None:
    rp = op.register("rp-checks")
    issued = op.code(rp)
    failed = op.redeem(rp, issued, **override)
    assert (failed.status_code, _error(failed)) == (400, "invalid_grant"), why
    assert op.redeem(rp, issued).status_code == 200


def test_a_code_belongs_to_its_client(op: Provider) -> None:
    rp, other = op.register("rp-owner"), op.register("rp-other")
    issued = op.code(rp)
    assert _error(op.redeem(other, issued)) == "invalid_grant"
    assert op.redeem(rp, issued).status_code == 200


def test_an_expired_code_is_refused(op: Provider) -> None:
    rp = op.register("rp-expired")
    assert _error(op.redeem(rp, op.code(rp, code_ttl=-1))) == "invalid_grant"


def test_a_revoked_grant_makes_its_code_useless(op: Provider) -> None:
    rp = op.register("rp-logout")
    issued = op.code(rp)
    op.call(op.services.objects.destroy, "Grant", issued.grant_id)
    assert _error(op.redeem(rp, issued)) == "invalid_grant"


def test_request_checks(op: Provider) -> None:
    rp = op.register("rp-form")
    issued = op.code(rp)
    cases = [
        ({"client_id": "rp-form", "code": issued.code}, {}, "invalid_request"),  # no grant_type
        ({"client_id": "rp-form", "grant_type": "password"}, {}, "unsupported_grant_type"),
        ({"client_id": "rp-form", "grant_type": "authorization_code"}, {}, "invalid_request"),  # no code
    ]
    for form, headers, error in cases:
        response = op.http.post("/token", data=form, headers=headers)
        assert (response.status_code, _error(response)) == (400, error), form
    repeated = op.http.post("/token", headers={"Content-Type": "application/x-www-form-urlencoded"},
                            content=f"grant_type=authorization_code&code={issued.code}&code=x&client_id=rp-form")
    assert (repeated.status_code, _error(repeated)) == (400, "invalid_request")
    as_json = op.http.post("/token", json={"grant_type": "authorization_code", "code": issued.code})
    assert (as_json.status_code, _error(as_json)) == (400, "invalid_request")
    huge = op.http.post("/token", content=b"a=" + b"b" * 70_000,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert huge.status_code == 413
    assert op.redeem(rp, issued).status_code == 200


def test_client_credentials(op: Provider) -> None:
    service = op.register("backend", AuthMethod.CLIENT_SECRET_BASIC)
    response = op.post("/token", service, {"grant_type": "client_credentials", "scope": "sign"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert (body["token_type"], body["scope"]) == ("Bearer", "sign")
    access = verify_access_jwt(body["access_token"], op.jwks())
    assert (access["sub"], access["client_id"], access["scope"]) == ("backend", "backend", "sign")
    assert "gid" not in access
    assert "auth_time" not in access
    assert op.userinfo(body["access_token"]).status_code == 403  # no openid scope, no person
    bare = op.post("/token", service, {"grant_type": "client_credentials"}).json()
    assert "scope" not in bare
    widened = op.post("/token", service, {"grant_type": "client_credentials", "scope": "sign openid"})
    assert (widened.status_code, _error(widened)) == (400, "invalid_scope")
    malformed = op.post("/token", service, {"grant_type": "client_credentials", "scope": "sign  status"})
    assert _error(malformed) == "invalid_scope"
    public = op.register("spa")
    refused = op.post("/token", public, {"grant_type": "client_credentials"})
    assert (refused.status_code, _error(refused)) == (400, "unauthorized_client")
    assert 'idp_tokens_issued_total{grant_type="client_credentials"} 2.0' in op.http.get("/metrics").text


def test_discovery_advertises_the_token_side(op: Provider) -> None:
    metadata = op.http.get("/.well-known/openid-configuration").json()
    assert metadata["token_endpoint"] == ISSUER + "/token"
    assert metadata["userinfo_endpoint"] == ISSUER + "/userinfo"
    assert metadata["revocation_endpoint"] == ISSUER + "/revoke"
    assert metadata["introspection_endpoint"] == ISSUER + "/introspect"
    assert metadata["grant_types_supported"] == ["authorization_code", "refresh_token", "client_credentials",
                                                 "urn:ietf:params:oauth:grant-type:device_code",
                                                 "urn:openid:params:grant-type:ciba",
                                                 "urn:ietf:params:oauth:grant-type:pre-authorized_code"]
    assert metadata["id_token_signing_alg_values_supported"] == ["ES256", "PS256", "RS256"]
    assert metadata["userinfo_signing_alg_values_supported"] == ["ES256", "PS256", "RS256"]
    assert metadata["subject_types_supported"] == ["pairwise"]
    assert "none" in metadata["token_endpoint_auth_methods_supported"]
    assert "none" not in metadata["introspection_endpoint_auth_methods_supported"]
    assert "none" not in metadata["token_endpoint_auth_signing_alg_values_supported"]
    assert "ES256" in metadata["dpop_signing_alg_values_supported"]
    assert REDIRECT_URI not in str(metadata)


@pytest.mark.parametrize(("env", "problem"), [
    ({"MYNACARD_KEYS_ALGORITHMS": "ES256", "MYNACARD_TOKENS_ACCESS_TOKEN_ALG": "PS256"}, "tokens.access_token_alg"),
    ({"MYNACARD_TOKENS_REFRESH_TOKEN_REUSE_GRACE": "-1"}, "MYNACARD_TOKENS_REFRESH_TOKEN_REUSE_GRACE"),
    ({"MYNACARD_TOKENS_REFRESH_TOKEN_TTL": "60", "MYNACARD_TOKENS_REFRESH_TOKEN_REUSE_GRACE": "60"},
     "tokens.refresh_token_reuse_grace"),
    ({"MYNACARD_TOKENS_REFRESH_TOKEN_TTL": "0"}, "tokens.refresh_token_ttl"),
    ({"MYNACARD_TOKENS_CLIENT_CREDENTIALS_SCOPES": "sign,openid"}, "tokens.client_credentials_scopes"),
])
def test_token_settings_are_checked(env: dict[str, str], problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ=env)
    assert [p for p in caught.value.problems if p.startswith(problem)]
