"""Pushed authorization requests (RFC 9126) with client authentication, DPoP binding (RFC 9449 §10) and request
objects (RFC 9101), at /par and at /authorize."""

from __future__ import annotations

import datetime as dt
import secrets
import time
from typing import Any

import jwt
import pytest

from idp.clients import AuthMethod
from idp.oauth.pkce import s256_challenge
from idp.runtime import utcnow
from tests.idp.protocol.conftest import Browser, JwtRp, authorization_params, stored
from tests.idp.protocol.tokenkit import ISSUER, REDIRECT_URI, DpopKey, Provider, Rp

PREFIX = "urn:ietf:params:oauth:request_uri:"


def _push(op: Provider, rp: Rp, verifier: str, dpop: DpopKey | None = None, **params: str | None) -> Any:
    """POST /par with fresh client authentication each time (an assertion is single use), retrying once with
    the server's DPoP nonce when it asks for one (RFC 9449 §8)."""
    for _ in range(2):
        form, headers = rp.auth(authorization_params(rp.client_id, verifier, **params))
        if dpop is not None:
            headers["DPoP"] = dpop.proof("POST", ISSUER + "/par")
        response = op.http.post("/par", data=form, headers=headers)
        if dpop is None or response.status_code != 400 or response.json().get("error") != "use_dpop_nonce":
            return response
        dpop.nonce = response.headers["dpop-nonce"]
    return response


def _use(browser: Browser, client_id: str, request_uri: str) -> Any:
    return browser.request("GET", "/authorize", params={"client_id": client_id, "request_uri": request_uri})


@pytest.mark.parametrize("client", ["rp_basic", "rp_jwt"])
def test_push_then_authorize_once(op: Provider, browser: Browser, request: pytest.FixtureRequest,
                                  client: str) -> None:
    rp: Rp = request.getfixturevalue(client)
    verifier = secrets.token_urlsafe(48)
    pushed = _push(op, rp, verifier, state="par-state", nonce="par-nonce", scope="openid profile")
    assert pushed.status_code == 201, pushed.text
    assert pushed.headers["cache-control"] == "no-store"
    body = pushed.json()
    assert body["request_uri"].startswith(PREFIX)
    assert body["expires_in"] == 60
    arrival = browser.walk(_use(browser, rp.client_id, body["request_uri"]), verifier)
    assert arrival.params["state"] == "par-state"
    assert arrival.params["iss"] == ISSUER
    code = stored(op, "AuthorizationCode", arrival.code)
    assert code is not None
    assert (code["nonce"], code["scope"]) == ("par-nonce", "openid profile")
    assert code["code_challenge"] == s256_challenge(verifier)
    replay = _use(browser, rp.client_id, body["request_uri"])
    assert replay.status_code == 400
    assert "location" not in replay.headers
    assert "invalid_request_uri" in replay.text


def test_a_request_uri_is_bound_to_its_client(op: Provider, browser: Browser, rp_basic: Rp, rp_jwt: JwtRp) -> None:
    verifier = secrets.token_urlsafe(48)
    request_uri = _push(op, rp_basic, verifier).json()["request_uri"]
    stolen = _use(browser, rp_jwt.client_id, request_uri)
    assert stolen.status_code == 400
    assert "invalid_request_uri" in stolen.text
    assert browser.walk(_use(browser, rp_basic.client_id, request_uri), verifier).code  # still usable by its owner


def test_an_expired_request_uri(op: Provider, browser: Browser, rp_basic: Rp) -> None:
    request_uri = _push(op, rp_basic, secrets.token_urlsafe(48)).json()["request_uri"]
    reference = request_uri.removeprefix(PREFIX)

    async def expire() -> None:
        found = await op.services.objects.find("PushedAuthorizationRequest", reference, now=utcnow())
        assert found is not None
        await op.services.objects.upsert("PushedAuthorizationRequest", reference, found.payload,
                                         utcnow() - dt.timedelta(seconds=1))
    op.call(expire)
    response = _use(browser, rp_basic.client_id, request_uri)
    assert response.status_code == 400
    assert "invalid_request_uri" in response.text


@pytest.mark.parametrize(("params", "error"), [
    ({"code_challenge": None}, "invalid_request"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"redirect_uri": "https://evil.example/cb"}, "invalid_request"),
    ({"response_type": "code id_token"}, "unsupported_response_type"),
    ({"request_uri": PREFIX + "x"}, "invalid_request"),
    ({"scope": "nothing-known"}, "invalid_scope"),
])
def test_push_errors_are_json(op: Provider, rp_basic: Rp, params: dict[str, str | None], error: str) -> None:
    response = _push(op, rp_basic, secrets.token_urlsafe(48), **params)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert "location" not in response.headers


def test_push_needs_client_authentication(op: Provider, rp_basic: Rp) -> None:
    form = authorization_params(rp_basic.client_id, secrets.token_urlsafe(48))
    response = op.http.post("/par", data=form)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_client_that_requires_par(op: Provider, browser: Browser) -> None:
    rp = op.register("rp-par", AuthMethod.CLIENT_SECRET_BASIC, require_par=True)
    response, _ = browser.start(rp.client_id)
    assert "error=invalid_request" in response.headers["location"]
    verifier = secrets.token_urlsafe(48)
    request_uri = _push(op, rp, verifier).json()["request_uri"]
    assert browser.walk(_use(browser, rp.client_id, request_uri), verifier).code


def test_dpop_at_par_binds_the_code(op: Provider, browser: Browser, rp_jwt: JwtRp) -> None:
    key, verifier = DpopKey(), secrets.token_urlsafe(48)
    pushed = _push(op, rp_jwt, verifier, key)
    assert pushed.status_code == 201, pushed.text
    arrival = browser.walk(_use(browser, rp_jwt.client_id, pushed.json()["request_uri"]), verifier)
    assert stored(op, "AuthorizationCode", arrival.code)["dpop_jkt"] == key.jkt  # type: ignore[index]
    form = {"grant_type": "authorization_code", "code": arrival.code, "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier}
    assert op.post("/token", rp_jwt, form, DpopKey(nonce=key.nonce)).json()["error"] == "invalid_grant"
    pushed = _push(op, rp_jwt, verifier, key)
    arrival = browser.walk(_use(browser, rp_jwt.client_id, pushed.json()["request_uri"]), verifier)
    tokens = op.post("/token", rp_jwt, {**form, "code": arrival.code}, key)
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["token_type"] == "DPoP"
    agreeing = _push(op, rp_jwt, verifier, key, dpop_jkt=key.jkt)
    assert agreeing.status_code == 201
    other = DpopKey()
    mismatch = _push(op, rp_jwt, verifier, key, dpop_jkt=other.jkt)
    assert mismatch.status_code == 400
    assert mismatch.json()["error"] == "invalid_request"
    only_jkt = _push(op, rp_jwt, verifier, dpop_jkt=other.jkt)
    arrival = browser.walk(_use(browser, rp_jwt.client_id, only_jkt.json()["request_uri"]), verifier)
    assert stored(op, "AuthorizationCode", arrival.code)["dpop_jkt"] == other.jkt  # type: ignore[index]


def _request_object(rp: JwtRp, verifier: str, **params: str | None) -> str:
    assert rp.key is not None
    now = int(time.time())
    claims = {**authorization_params(rp.client_id, verifier, **params), "iss": rp.client_id, "aud": ISSUER,
              "iat": now, "nbf": now, "exp": now + 60, "jti": secrets.token_urlsafe(12)}
    return jwt.encode(claims, rp.key, algorithm="ES256", headers={"kid": "rp-key", "typ": "oauth-authz-req+jwt"})


def test_a_request_object_at_par(op: Provider, browser: Browser, rp_jwt: JwtRp) -> None:
    verifier = secrets.token_urlsafe(48)
    pushed = op.post("/par", rp_jwt, {"request": _request_object(rp_jwt, verifier, state="from-jar")})
    assert pushed.status_code == 201, pushed.text
    arrival = browser.walk(_use(browser, rp_jwt.client_id, pushed.json()["request_uri"]), verifier)
    assert arrival.params["state"] == "from-jar"
    assert arrival.code


def test_a_request_object_at_authorize(op: Provider, browser: Browser, rp_jwt: JwtRp) -> None:
    verifier = secrets.token_urlsafe(48)
    signed = _request_object(rp_jwt, verifier, state="jar-direct")
    response = browser.request("GET", "/authorize", params={"client_id": rp_jwt.client_id, "request": signed,
                                                           "state": "outer-ignored"})
    arrival = browser.walk(response, verifier)
    assert arrival.params["state"] == "jar-direct"
    header, payload, _ = signed.split(".")
    forged = browser.request("GET", "/authorize", params={"client_id": rp_jwt.client_id,
                                                         "request": f"{header}.{payload}.AAAA"})
    assert forged.status_code == 400
    assert "location" not in forged.headers
    assert REDIRECT_URI not in forged.text
