"""DPoP at the token side (RFC 9449): bound access tokens (§5, §6.1), dpop_jkt codes (§10), refresh tokens of
public clients bound to the key (§5), and the bound token at UserInfo (§7)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from idp.clients import AuthMethod
from idp.vci.pre_authorized_code import PRE_AUTHORIZED_CODE
from tests.idp.protocol.tokenkit import DpopKey, Provider, provider, verify_access_jwt


@pytest.fixture
def op(tmp_path: Path) -> Iterator[Provider]:
    with provider(tmp_path) as p:
        yield p


def test_a_dpop_token_request_gets_a_bound_token(op: Provider) -> None:
    rp, key = op.register("rp-dpop"), DpopKey()
    response = op.redeem(rp, op.code(rp, claims={"userinfo": {"birthdate": "1980-01-01"}}), key)
    assert response.status_code == 200, response.text
    assert response.headers["dpop-nonce"]
    body = response.json()
    assert body["token_type"] == "DPoP"
    assert verify_access_jwt(body["access_token"], op.jwks())["cnf"] == {"jkt": key.jkt}
    info = op.userinfo(body["access_token"], key)
    assert info.status_code == 200, info.text
    assert info.json()["birthdate"] == "1980-01-01"
    assert op.userinfo(body["access_token"], key, method="POST").status_code == 200


def test_a_bound_token_needs_its_key_and_the_dpop_scheme(op: Provider) -> None:
    rp, key = op.register("rp-dpop"), DpopKey()
    token = op.redeem(rp, op.code(rp), key).json()["access_token"]
    as_bearer = op.userinfo(token)
    assert as_bearer.status_code == 401
    assert as_bearer.headers["www-authenticate"].startswith('Bearer realm="http://127.0.0.1:8000"')
    assert 'error="invalid_token"' in as_bearer.headers["www-authenticate"]
    stranger = op.userinfo(token, DpopKey())
    assert stranger.status_code == 401
    assert stranger.headers["www-authenticate"].startswith("DPoP ")
    without_proof = op.http.get("/userinfo", headers={"Authorization": f"DPoP {token}"})
    assert without_proof.status_code == 401


def test_an_unbound_token_is_not_accepted_under_the_dpop_scheme(op: Provider) -> None:
    rp = op.register("rp-bearer")
    token = op.redeem(rp, op.code(rp)).json()["access_token"]
    assert op.userinfo(token, DpopKey()).status_code == 401
    assert op.userinfo(token).status_code == 200


def test_a_code_bound_by_dpop_jkt_needs_that_key(op: Provider) -> None:
    rp, key = op.register("rp-par"), DpopKey()
    issued = op.code(rp, dpop_jkt=key.jkt)
    assert op.redeem(rp, issued).json()["error"] == "invalid_grant"
    assert op.redeem(rp, issued, DpopKey()).json()["error"] == "invalid_grant"
    assert op.redeem(rp, issued, key).status_code == 200


def test_public_clients_refresh_tokens_are_bound_to_the_key(op: Provider) -> None:
    rp, key = op.register("rp-spa"), DpopKey()
    body = op.redeem(rp, op.code(rp, scope="openid offline_access"), key).json()
    assert op.refresh(rp, body["refresh_token"]).json()["error"] == "invalid_grant"
    assert op.refresh(rp, body["refresh_token"], DpopKey()).json()["error"] == "invalid_grant"
    refreshed = op.refresh(rp, body["refresh_token"], key)
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["token_type"] == "DPoP"
    assert op.refresh(rp, refreshed.json()["refresh_token"], key).status_code == 200


def test_confidential_clients_may_change_keys_on_refresh(op: Provider) -> None:
    rp = op.register("rp-server", AuthMethod.CLIENT_SECRET_BASIC)
    body = op.redeem(rp, op.code(rp, scope="openid offline_access"), DpopKey()).json()
    new_key = DpopKey()
    refreshed = op.refresh(rp, body["refresh_token"], new_key).json()
    assert verify_access_jwt(refreshed["access_token"], op.jwks())["cnf"] == {"jkt": new_key.jkt}
    plain = op.refresh(rp, refreshed["refresh_token"]).json()
    assert plain["token_type"] == "Bearer"


def test_a_bad_proof_is_refused(op: Provider) -> None:
    rp = op.register("rp-badproof")
    issued = op.code(rp)
    form, headers = rp.auth({"grant_type": "authorization_code", "code": issued.code,
                             "redirect_uri": "https://rp.example.jp/cb", "code_verifier": issued.verifier})
    garbage = op.http.post("/token", data=form, headers={**headers, "DPoP": "not.a.proof"})
    assert (garbage.status_code, garbage.json()["error"]) == (400, "invalid_dpop_proof")
    key = DpopKey()
    wrong_url = op.http.post("/token", data=form, headers={**headers, "DPoP": key.proof("POST", "https://x/token")})
    assert wrong_url.json()["error"] in ("invalid_dpop_proof", "use_dpop_nonce")
    assert op.redeem(rp, issued, key).status_code == 200


def test_one_dpop_header_at_most(op: Provider) -> None:
    rp, key = op.register("rp-twice"), DpopKey()
    issued = op.code(rp)
    form, headers = rp.auth({"grant_type": "authorization_code", "code": issued.code,
                             "redirect_uri": "https://rp.example.jp/cb", "code_verifier": issued.verifier})
    proof = key.proof("POST", "http://127.0.0.1:8000/token")
    twice = op.http.post("/token", data=form, headers=[*headers.items(), ("DPoP", proof), ("DPoP", proof)])
    assert (twice.status_code, twice.json()["error"]) == (400, "invalid_dpop_proof")


def test_client_credentials_with_dpop(op: Provider) -> None:
    backend, key = op.register("backend", AuthMethod.CLIENT_SECRET_BASIC), DpopKey()
    body = op.post("/token", backend, {"grant_type": "client_credentials"}, key).json()
    assert body["token_type"] == "DPoP"
    assert verify_access_jwt(body["access_token"], op.jwks())["cnf"] == {"jkt": key.jkt}


# dpop_bound_access_tokens (RFC 9449 §5.2): enforced at the token endpoint for every grant, and at every resource


def _refused_without_proof(response: httpx.Response) -> None:
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request"), response.text
    assert "DPoP" in response.json()["error_description"]


def test_a_dpop_bound_client_needs_a_proof_for_the_code_and_refresh_grants(op: Provider) -> None:
    rp, key = op.register("rp-bound", dpop_bound_access_tokens=True), DpopKey()
    issued = op.code(rp, scope="openid offline_access")
    _refused_without_proof(op.redeem(rp, issued))
    body = op.redeem(rp, issued, key).json()  # a refused request does not use the code up
    assert body["token_type"] == "DPoP"
    _refused_without_proof(op.refresh(rp, body["refresh_token"]))
    assert op.refresh(rp, body["refresh_token"], key).status_code == 200  # nor the refresh token
    server = op.register("rp-bound-server", AuthMethod.CLIENT_SECRET_BASIC, dpop_bound_access_tokens=True)
    body = op.redeem(server, op.code(server, scope="openid offline_access"), DpopKey()).json()
    _refused_without_proof(op.refresh(server, body["refresh_token"]))  # confidential: the key may change, not vanish
    assert op.refresh(server, body["refresh_token"], DpopKey()).json()["token_type"] == "DPoP"


def test_a_dpop_bound_client_needs_a_proof_for_client_credentials(op: Provider) -> None:
    backend = op.register("backend-bound", AuthMethod.CLIENT_SECRET_BASIC, dpop_bound_access_tokens=True)
    _refused_without_proof(op.post("/token", backend, {"grant_type": "client_credentials"}))
    assert op.post("/token", backend, {"grant_type": "client_credentials"}, DpopKey()).json()["token_type"] == "DPoP"


def test_a_dpop_bound_client_needs_a_proof_for_the_pre_authorized_code(tmp_path: Path) -> None:
    """OpenID4VCI 1.0 §6.1 with client authentication, where the issuer itself does not require DPoP: the proof is
    checked before the code is looked at, so a missing one costs nothing."""
    with provider(tmp_path, MYNACARD_CREDENTIALS_REQUIRE_DPOP="false") as op:
        wallet = op.register("wallet-bound", AuthMethod.CLIENT_SECRET_BASIC, dpop_bound_access_tokens=True)
        form = {"grant_type": PRE_AUTHORIZED_CODE, "pre-authorized_code": "unknown-code"}
        _refused_without_proof(op.post("/token", wallet, form))
        assert op.post("/token", wallet, form, DpopKey()).json()["error"] == "invalid_grant"
        plain = op.register("wallet-plain", AuthMethod.CLIENT_SECRET_BASIC)
        assert op.post("/token", plain, form).json()["error"] == "invalid_grant"


def test_a_bearer_token_of_a_client_now_dpop_bound_is_refused_everywhere(tmp_path: Path) -> None:
    """Tokens issued before the client registered dpop_bound_access_tokens (RFC 7592 update, `idp clients`) are
    refused at every protected resource by the one access guard: UserInfo and the credential endpoint."""
    with provider(tmp_path, MYNACARD_CREDENTIALS_REQUIRE_DPOP="false") as op:
        rp = op.register("rp-later")
        token = op.redeem(rp, op.code(rp)).json()["access_token"]
        assert op.userinfo(token).status_code == 200
        op.call(op.services.clients.replace, dataclasses.replace(rp.client, dpop_bound_access_tokens=True))
        for response in (op.userinfo(token),
                         op.http.post("/credential", json={"credential_configuration_id": "x"},
                                      headers={"Authorization": f"Bearer {token}"})):
            assert response.status_code == 401, response.text
            assert 'error="invalid_token"' in response.headers["www-authenticate"]
            assert "dpop_bound_access_tokens" in response.json()["error_description"]
