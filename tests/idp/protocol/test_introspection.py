"""Introspection (RFC 7662): authenticated clients only, own tokens only unless configured, active false for
anything expired, revoked, rotated or unknown."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from idp.clients import AuthMethod
from tests.idp.protocol.tokenkit import ISSUER, DpopKey, Provider, provider


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Provider]:
    with provider(tmp_path, MYNACARD_TOKENS_INTROSPECTION_CLIENTS="resource-server") as p:
        yield p


INACTIVE = {"active": False}


def test_own_tokens(op: Provider) -> None:
    rp = op.register("rp-confidential", AuthMethod.CLIENT_SECRET_BASIC)
    issued = op.code(rp, scope="openid offline_access")
    body = op.redeem(rp, issued).json()
    response = op.post("/introspect", rp, {"token": body["access_token"]})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    info = response.json()
    assert info["active"] is True
    assert (info["client_id"], info["scope"], info["token_type"], info["iss"]) == (
        "rp-confidential", "openid offline_access", "Bearer", ISSUER)
    assert {"sub", "exp", "iat", "jti", "aud", "auth_time", "acr", "amr"} <= set(info)
    assert "gid" not in info
    refresh = op.post("/introspect", rp, {"token": body["refresh_token"], "token_type_hint": "refresh_token"}).json()
    assert refresh["active"] is True
    assert (refresh["client_id"], refresh["sub"], refresh["scope"]) == ("rp-confidential", info["sub"],
                                                                        "openid offline_access")
    rotated = op.refresh(rp, body["refresh_token"]).json()
    assert op.post("/introspect", rp, {"token": body["refresh_token"]}).json() == INACTIVE
    assert op.post("/introspect", rp, {"token": rotated["refresh_token"]}).json()["active"] is True
    op.post("/revoke", rp, {"token": rotated["access_token"]})
    assert op.post("/introspect", rp, {"token": rotated["access_token"]}).json() == INACTIVE
    op.post("/revoke", rp, {"token": rotated["refresh_token"]})
    for token in (body["access_token"], rotated["refresh_token"], "unknown", "a.b.c"):
        assert op.post("/introspect", rp, {"token": token}).json() == INACTIVE


def test_dpop_bound_tokens_show_their_key(op: Provider) -> None:
    rp, key = op.register("rp-dpop", AuthMethod.CLIENT_SECRET_BASIC), DpopKey()
    token = op.redeem(rp, op.code(rp), key).json()["access_token"]
    info = op.post("/introspect", rp, {"token": token}).json()
    assert (info["token_type"], info["cnf"]) == ("DPoP", {"jkt": key.jkt})


def test_other_clients_see_inactive_unless_configured(op: Provider) -> None:
    rp = op.register("rp-owner")
    other = op.register("rp-other", AuthMethod.CLIENT_SECRET_BASIC)
    resource = op.register("resource-server", AuthMethod.CLIENT_SECRET_BASIC)
    token = op.redeem(rp, op.code(rp)).json()["access_token"]
    assert op.post("/introspect", other, {"token": token}).json() == INACTIVE
    assert op.post("/introspect", resource, {"token": token}).json()["client_id"] == "rp-owner"


def test_public_clients_cannot_introspect(op: Provider) -> None:
    rp = op.register("rp-public")
    token = op.redeem(rp, op.code(rp)).json()["access_token"]
    response = op.post("/introspect", rp, {"token": token})
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")


def test_expired_tokens_are_inactive(tmp_path: Path) -> None:
    with provider(tmp_path, MYNACARD_TOKENS_ACCESS_TOKEN_TTL="5", MYNACARD_TOKENS_CLOCK_TOLERANCE="0") as op:
        rp = op.register("rp-short", AuthMethod.CLIENT_SECRET_BASIC)
        token = op.redeem(rp, op.code(rp)).json()["access_token"]
        assert op.post("/introspect", rp, {"token": token}).json()["active"] is True
        time.sleep(5.5)
        assert op.post("/introspect", rp, {"token": token}).json() == INACTIVE
        assert op.userinfo(token).status_code == 401
