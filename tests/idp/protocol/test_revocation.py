"""Revocation (RFC 7009): a refresh token revokes its grant, an access token its jti; unknown tokens are
fine; another client's token is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.idp.protocol.tokenkit import Provider, provider


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Provider]:
    with provider(tmp_path) as p:
        yield p


def test_revoking_an_access_token(op: Provider) -> None:
    rp = op.register("rp-revoke")
    issued = op.code(rp, scope="openid offline_access")
    body = op.redeem(rp, issued).json()
    response = op.post("/revoke", rp, {"token": body["access_token"], "token_type_hint": "access_token"})
    assert (response.status_code, response.content) == (200, b"")
    assert response.headers["cache-control"] == "no-store"
    assert op.userinfo(body["access_token"]).status_code == 401
    assert op.grant_exists(issued.grant_id)  # the rest of the grant lives on
    refreshed = op.refresh(rp, body["refresh_token"]).json()
    assert op.userinfo(refreshed["access_token"]).status_code == 200
    assert op.post("/revoke", rp, {"token": body["access_token"]}).status_code == 200  # twice is fine


def test_revoking_a_refresh_token_revokes_the_grant(op: Provider) -> None:
    rp = op.register("rp-logout")
    issued = op.code(rp, scope="openid offline_access")
    body = op.redeem(rp, issued).json()
    response = op.post("/revoke", rp, {"token": body["refresh_token"], "token_type_hint": "access_token"})
    assert response.status_code == 200
    assert not op.grant_exists(issued.grant_id)
    assert op.userinfo(body["access_token"]).status_code == 401
    assert op.refresh(rp, body["refresh_token"]).json()["error"] == "invalid_grant"


def test_unknown_tokens_and_other_clients(op: Provider) -> None:
    rp, other = op.register("rp-a"), op.register("rp-b")
    body = op.redeem(rp, op.code(rp)).json()
    for token in ("unknown", "a.b.c", "x" * 9000):
        assert op.post("/revoke", rp, {"token": token}).status_code == 200
    refused = op.post("/revoke", other, {"token": body["access_token"]})
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_request")
    assert op.userinfo(body["access_token"]).status_code == 200
    missing = op.post("/revoke", rp, {})
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
    anonymous = op.http.post("/revoke", data={"token": body["access_token"]})
    assert anonymous.status_code in (400, 401)
    assert op.userinfo(body["access_token"]).status_code == 200
