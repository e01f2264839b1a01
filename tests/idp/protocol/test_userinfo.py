"""UserInfo (OIDC Core §5.3) as a protected resource (RFC 6750): the three ways to send the token, errors
with challenges, released claims only, and signed responses (§5.3.2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from tests.idp.protocol.tokenkit import ISSUER, Provider, Rp, provider


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Provider]:
    with provider(tmp_path) as p:
        yield p


CLAIMS = {"id_token": {"name": "山田太郎"},
          "userinfo": {"name": "山田太郎", "address": {"formatted": "東京都千代田区"}, "sub": "spoofed"}}


def _token(op: Provider, rp: Rp, scope: str = "openid") -> tuple[str, str]:
    body = op.redeem(rp, op.code(rp, scope=scope, claims=CLAIMS)).json()
    sub = jwt.decode(body["access_token"], options={"verify_signature": False})["sub"]
    return body["access_token"], sub


def test_header_get_post_and_body(op: Provider) -> None:
    rp = op.register("rp-info")
    token, sub = _token(op, rp)
    expected = {"sub": sub, "name": "山田太郎", "address": {"formatted": "東京都千代田区"}}
    get = op.userinfo(token)
    assert (get.status_code, get.json()) == (200, expected)
    assert get.headers["cache-control"] == "no-store"
    assert op.userinfo(token, method="POST").json() == expected
    body = op.http.post("/userinfo", data={"access_token": token})
    assert (body.status_code, body.json()) == (200, expected)
    lowercase = op.http.get("/userinfo", headers={"Authorization": f"bearer {token}"})
    assert lowercase.status_code == 200


def test_errors_carry_challenges(op: Provider) -> None:
    rp = op.register("rp-errors")
    token, _ = _token(op, rp)
    none = op.http.get("/userinfo")
    assert none.status_code == 401
    challenge = none.headers["www-authenticate"]
    assert challenge.startswith(f'Bearer realm="{ISSUER}"')
    assert "DPoP " in challenge
    assert "error=" not in challenge
    forged = op.userinfo(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
    assert forged.status_code == 401
    assert 'error="invalid_token"' in forged.headers["www-authenticate"]
    assert forged.json()["error"] == "invalid_token"
    two_ways = op.http.post("/userinfo", data={"access_token": token}, headers={"Authorization": f"Bearer {token}"})
    assert (two_ways.status_code, two_ways.json()["error"]) == (400, "invalid_request")
    not_a_token = op.http.get("/userinfo", headers={"Authorization": "Bearer a b c"})
    assert not_a_token.status_code == 401
    other_scheme = op.http.get("/userinfo", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert other_scheme.status_code == 401
    id_token = op.redeem(rp, op.code(rp)).json()["id_token"]
    assert op.userinfo(id_token).status_code == 401  # typ JWT, not at+jwt (RFC 8725 §3.11)
    assert 'idp_oauth_errors_total{error="invalid_token"}' in op.http.get("/metrics").text


def test_openid_scope_is_required(op: Provider) -> None:
    rp = op.register("rp-oauth")
    token, _ = _token(op, rp, scope="profile")
    response = op.userinfo(token)
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


def test_a_removed_client_loses_its_tokens(op: Provider) -> None:
    rp = op.register("rp-gone")
    token, _ = _token(op, rp)
    op.call(op.services.clients.remove, "rp-gone")
    assert op.userinfo(token).status_code == 401


@pytest.mark.parametrize("alg", ["ES256", "PS256", "RS256"])
def test_signed_userinfo(op: Provider, alg: str) -> None:
    rp = op.register(f"rp-signed-{alg.lower()}", userinfo_signed_response_alg=alg)
    token, sub = _token(op, rp)
    response = op.userinfo(token)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jwt")
    header = jwt.get_unverified_header(response.text)
    key = jwt.PyJWKSet.from_dict(op.jwks())[header["kid"]]
    claims = jwt.decode(response.text, key, algorithms=[alg], audience=rp.client_id, issuer=ISSUER)
    assert (claims["sub"], claims["name"]) == (sub, "山田太郎")
