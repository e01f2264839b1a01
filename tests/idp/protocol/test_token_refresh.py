"""The refresh_token grant (RFC 6749 §6): rotation, the replay policy (RFC 9700 §4.14.2: no grace for public
clients without sender constraint; one identical retry within the grace for the others, detected all the same;
anything else revokes the family), scope narrowing only, ID tokens on refresh (OIDC Core §12.2), storage hashed."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from idp.clients import AuthMethod
from idp.storage.tables import objects
from tests.idp.protocol.tokenkit import DpopKey, Provider, Rp, provider, verify_access_jwt, verify_id_token


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Provider]:
    with provider(tmp_path) as p:
        yield p


def _start(op: Provider, client_id: str = "rp-app", **register: Any) -> tuple[Rp, dict[str, str], str]:
    rp = op.register(client_id, **register)
    issued = op.code(rp, scope="openid offline_access", claims={"id_token": {"name": "山田太郎"}})
    response = op.redeem(rp, issued)
    assert response.status_code == 200, response.text
    return rp, response.json(), issued.grant_id


def test_rotation_issues_a_new_refresh_token_each_time(op: Provider) -> None:
    rp, first, grant_id = _start(op)
    tokens = [first["refresh_token"]]
    for _ in range(3):
        response = op.refresh(rp, tokens[-1])
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert set(body) == {"access_token", "token_type", "expires_in", "scope", "id_token", "refresh_token"}
        assert body["scope"] == "openid offline_access"
        tokens.append(body["refresh_token"])
    assert len(set(tokens)) == 4
    claims = verify_id_token(body["id_token"], op.jwks(), client_id=rp.client_id, alg="ES256", nonce=None)
    original = verify_id_token(first["id_token"], op.jwks(), client_id=rp.client_id, alg="ES256",
                               nonce="n-0S6_WzA2Mj")
    for name in ("iss", "sub", "aud", "auth_time", "acr", "amr", "sid", "name"):  # OIDC Core §12.2
        assert claims[name] == original[name], name
    assert verify_access_jwt(body["access_token"], op.jwks())["gid"] == grant_id
    assert 'idp_tokens_issued_total{grant_type="refresh_token"} 3.0' in op.http.get("/metrics").text


def test_refresh_tokens_are_stored_hashed(op: Provider) -> None:
    _, body, _ = _start(op)

    async def ids() -> list[str]:
        async with op.services.db.connection() as conn:
            rows = await conn.execute(select(objects.c.id, objects.c.payload).where(objects.c.kind == "RefreshToken"))
            return [f"{row.id} {row.payload}" for row in rows]

    stored = op.call(ids)
    assert stored[0].startswith(hashlib.sha256(body["refresh_token"].encode()).hexdigest())
    assert not any(body["refresh_token"] in row for row in stored)


def _replays(op: Provider, outcome: str) -> str:
    return f'idp_refresh_replays_total{{outcome="{outcome}"}}'


def _metric(op: Provider, name: str) -> float:
    found = [line for line in op.http.get("/metrics").text.splitlines() if line.startswith(name + " ")]
    return float(found[0].split()[1]) if found else 0.0


def _replay_logs(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [r.__dict__ for r in caplog.records if r.name.startswith("idp.") and r.msg == "refresh_replay"]


def test_a_confidential_clients_identical_retry_within_the_grace_gets_the_same_response(
        op: Provider, caplog: pytest.LogCaptureFixture) -> None:
    rp, first, grant_id = _start(op, "rp-server", auth_method=AuthMethod.CLIENT_SECRET_BASIC)
    answer = op.refresh(rp, first["refresh_token"])
    caplog.set_level(logging.INFO)
    retry = op.refresh(rp, first["refresh_token"])
    assert retry.status_code == 200
    assert retry.json() == answer.json()  # same successor, same access token: idempotent
    assert op.grant_exists(grant_id)
    [logged] = _replay_logs(caplog)  # answered, but detected (RFC 9700 §4.14.2)
    assert logged["outcome"] == "answered"
    assert logged["grant"] == hashlib.sha256(grant_id.encode()).hexdigest()[:16]
    assert grant_id not in f"{[r.__dict__ for r in caplog.records]}"
    assert _metric(op, _replays(op, "answered")) == 1
    successor = op.refresh(rp, answer.json()["refresh_token"])
    assert successor.status_code == 200


def test_a_second_retry_within_the_grace_revokes_the_family(op: Provider, caplog: pytest.LogCaptureFixture) -> None:
    rp, first, grant_id = _start(op, "rp-server", auth_method=AuthMethod.CLIENT_SECRET_BASIC)
    answer = op.refresh(rp, first["refresh_token"]).json()
    assert op.refresh(rp, first["refresh_token"]).json() == answer
    caplog.set_level(logging.INFO)
    again = op.refresh(rp, first["refresh_token"])
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")
    _assert_family_dead(op, rp, grant_id, first, answer)
    assert [r["outcome"] for r in _replay_logs(caplog)] == ["revoked"]
    assert _metric(op, _replays(op, "revoked")) == 1


def _assert_family_dead(op: Provider, rp: Rp, grant_id: str, *bodies: dict[str, str]) -> None:
    """The grant is revoked with every refresh and access token issued under it (RFC 9700 §4.14.2)."""
    assert not op.grant_exists(grant_id)
    for body in bodies:
        assert op.refresh(rp, body["refresh_token"]).json()["error"] == "invalid_grant"
        assert op.userinfo(body["access_token"]).status_code == 401
        assert op.post("/introspect", op.register(f"rs-{secrets.token_hex(4)}", AuthMethod.CLIENT_SECRET_BASIC),
                       {"token": body["access_token"]}).json() == {"active": False}


def test_a_public_client_without_dpop_has_no_grace(op: Provider, caplog: pytest.LogCaptureFixture) -> None:
    """A public client's unbound refresh token proves nothing about who presents it: any replay of a rotated one,
    however soon and however identical, revokes the family (RFC 9700 §4.14.2)."""
    rp, first, grant_id = _start(op)
    second = op.refresh(rp, first["refresh_token"]).json()
    caplog.set_level(logging.INFO)
    replay = op.refresh(rp, first["refresh_token"])
    assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")
    _assert_family_dead(op, rp, grant_id, first, second)
    assert [r["outcome"] for r in _replay_logs(caplog)] == ["revoked"]
    assert 'idp_token_reuse_total{kind="refresh_token"} 1.0' in op.http.get("/metrics").text


def test_a_public_client_with_a_dpop_bound_refresh_token_has_the_grace(op: Provider) -> None:
    rp, key = op.register("rp-spa"), DpopKey()
    first = op.redeem(rp, op.code(rp, scope="openid offline_access"), key).json()
    answer = op.refresh(rp, first["refresh_token"], key).json()
    assert op.refresh(rp, first["refresh_token"], key).json() == answer
    successor = op.refresh(rp, answer["refresh_token"], key)
    assert successor.status_code == 200, successor.text


def test_reuse_after_the_grace_revokes_the_family(tmp_path: Path) -> None:
    with provider(tmp_path, MYNACARD_TOKENS_REFRESH_TOKEN_REUSE_GRACE="0.5") as op:
        rp, first, grant_id = _start(op)
        second = op.refresh(rp, first["refresh_token"]).json()
        third = op.refresh(rp, second["refresh_token"]).json()
        time.sleep(0.6)
        replay = op.refresh(rp, first["refresh_token"])
        assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")
        assert not op.grant_exists(grant_id)
        assert op.refresh(rp, third["refresh_token"]).json()["error"] == "invalid_grant"
        assert op.userinfo(third["access_token"]).status_code == 401
        assert 'idp_token_reuse_total{kind="refresh_token"} 1.0' in op.http.get("/metrics").text


def test_no_grace_means_any_reuse_revokes(tmp_path: Path) -> None:
    with provider(tmp_path, MYNACARD_TOKENS_REFRESH_TOKEN_REUSE_GRACE="0") as op:
        rp, first, grant_id = _start(op)
        assert op.refresh(rp, first["refresh_token"]).status_code == 200
        assert op.refresh(rp, first["refresh_token"]).json()["error"] == "invalid_grant"
        assert not op.grant_exists(grant_id)


@pytest.mark.parametrize("difference", ["scope", "dpop key", "no dpop key", "wider scope", "another client"])
def test_a_different_request_within_the_grace_revokes_the_family(op: Provider, difference: str) -> None:
    rp = op.register("rp-server", AuthMethod.CLIENT_SECRET_BASIC)
    key = DpopKey()
    issued = op.code(rp, scope="openid offline_access")
    first = op.redeem(rp, issued, key).json()
    second = op.refresh(rp, first["refresh_token"], key).json()
    replay = {"scope": lambda: op.refresh(rp, first["refresh_token"], key, scope="openid"),
              "dpop key": lambda: op.refresh(rp, first["refresh_token"], DpopKey()),
              "no dpop key": lambda: op.refresh(rp, first["refresh_token"]),
              "wider scope": lambda: op.refresh(rp, first["refresh_token"], key, scope="openid offline_access profile"),
              "another client": lambda: op.refresh(op.register("rp-thief"), first["refresh_token"], key)}[difference]()
    assert replay.json()["error"] == "invalid_grant"
    assert not op.grant_exists(issued.grant_id)
    assert op.refresh(rp, second["refresh_token"], key).json()["error"] == "invalid_grant"


def test_scope_may_narrow_never_widen(op: Provider) -> None:
    rp, first, _ = _start(op)
    narrowed = op.refresh(rp, first["refresh_token"], scope="openid")
    assert narrowed.status_code == 200
    body = narrowed.json()
    assert body["scope"] == "openid"
    assert verify_access_jwt(body["access_token"], op.jwks())["scope"] == "openid"
    without_openid = op.refresh(rp, body["refresh_token"], scope="offline_access").json()
    assert "id_token" not in without_openid
    full = op.refresh(rp, without_openid["refresh_token"]).json()  # the grant's scope again
    assert full["scope"] == "openid offline_access"
    widened = op.refresh(rp, full["refresh_token"], scope="openid profile")
    assert (widened.status_code, widened.json()["error"]) == (400, "invalid_scope")
    assert op.refresh(rp, full["refresh_token"]).status_code == 200  # a refused request does not use it up


def test_a_refresh_token_belongs_to_its_client(op: Provider) -> None:
    rp, first, grant_id = _start(op)
    other = op.register("rp-thief")
    assert op.refresh(other, first["refresh_token"]).json()["error"] == "invalid_grant"
    assert op.grant_exists(grant_id)
    assert op.refresh(rp, first["refresh_token"]).status_code == 200


def test_unknown_and_expired_refresh_tokens(op: Provider) -> None:
    rp = op.register("rp-short")
    issued = op.code(rp, scope="openid offline_access", grant_ttl=4)
    body = op.redeem(rp, issued).json()
    assert op.refresh(rp, "x" * 43).json()["error"] == "invalid_grant"
    assert op.refresh(rp, "x" * 10_000).json()["error"] == "invalid_grant"
    time.sleep(4.1)  # refresh tokens expire with their grant
    assert op.refresh(rp, body["refresh_token"]).json()["error"] == "invalid_grant"
