"""The whole code flow through the front door: /authorize, the test login, consent, then the token endpoint
(public and private_key_jwt clients), UserInfo and a refresh; the tokens carry what the person released."""

from __future__ import annotations

import pytest

from tests.idp.protocol.conftest import Browser
from tests.idp.protocol.tokenkit import REDIRECT_URI, Provider, verify_id_token

LOGIN = {"name": "山田太郎", "birthdate": "1980-01-01", "gender": "male", "address": {"formatted": "東京都千代田区"}}


@pytest.mark.parametrize("client", ["rp_public", "rp_jwt"])
def test_authorize_then_token_userinfo_and_refresh(
    op: Provider, browser: Browser, request: pytest.FixtureRequest, client: str
) -> None:
    rp = request.getfixturevalue(client)
    arrival = browser.authorize(rp, scope="openid profile offline_access", prompt="consent", nonce="n-flow-1",
                                login_claims=LOGIN, approve=["name", "birthdate"])
    response = op.post("/token", rp, {"grant_type": "authorization_code", "code": arrival.code,
                                      "redirect_uri": REDIRECT_URI, "code_verifier": arrival.verifier})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body["scope"].split()) == {"openid", "profile", "offline_access"}
    claims = verify_id_token(body["id_token"], op.jwks(), client_id=rp.client_id, alg="ES256", nonce="n-flow-1")
    assert claims["sid"]
    assert claims["amr"]
    info = op.userinfo(body["access_token"]).json()
    assert info == {"sub": claims["sub"], "name": "山田太郎", "birthdate": "1980-01-01"}  # gender not approved
    refreshed = op.refresh(rp, body["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    again = verify_id_token(refreshed.json()["id_token"], op.jwks(), client_id=rp.client_id, alg="ES256", nonce=None)
    assert (again["sub"], again["sid"], again["auth_time"]) == (claims["sub"], claims["sid"], claims["auth_time"])
    replay = op.post("/token", rp, {"grant_type": "authorization_code", "code": arrival.code,
                                    "redirect_uri": REDIRECT_URI, "code_verifier": arrival.verifier})
    assert replay.json()["error"] == "invalid_grant"
    assert op.userinfo(refreshed.json()["access_token"]).status_code == 401  # the replay revoked the grant
