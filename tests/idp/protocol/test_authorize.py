"""The authorization endpoint: request validation, PKCE, redirect URI checks, ``iss`` (RFC 9207), prompt and
max_age, the claims parameter, sessions, response modes, and the code as the token side redeems it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from idp.clients import AuthMethod, register_client
from idp.endpoints.discovery import provider_metadata
from idp.oauth.pkce import s256_challenge
from idp.oauth.subject import subject_for
from idp.runtime import utcnow
from tests.idp.conftest import settings_for
from tests.idp.protocol.conftest import Browser, stored
from tests.idp.protocol.tokenkit import ISSUER, REDIRECT_URI, Provider, Rp, provider

CARD = {"name": "山田 太郎", "birthdate": "1990-01-02", "gender": "male",
        "address": {"formatted": "東京都千代田区霞が関1-1"}, "age_over_18": True}


def _query(response_location: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(response_location).query))


def _redirected_error(browser: Browser, rp: Rp, **params: str | None) -> dict[str, str]:
    response, _ = browser.start(rp.client_id, **params)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    return _query(location)


def test_code_flow_stores_the_contract_payload(op: Provider, rp_public: Rp, browser: Browser) -> None:
    arrival = browser.authorize(rp_public, scope="openid profile", login_claims=CARD, state="xyz", nonce="n-1")
    assert arrival.logins == 1
    assert arrival.consents == 1
    assert arrival.params["state"] == "xyz"
    assert arrival.params["iss"] == ISSUER
    code = stored(op, "AuthorizationCode", arrival.code)
    assert code is not None
    assert set(code) == {"client_id", "redirect_uri", "scope", "nonce", "code_challenge", "code_challenge_method",
                         "sub", "account_id", "auth_time", "acr", "amr", "sid", "claims", "dpop_jkt", "grant_id"}
    assert code["client_id"] == rp_public.client_id
    assert code["redirect_uri"] == REDIRECT_URI
    assert code["scope"] == "openid profile"
    assert code["nonce"] == "n-1"
    assert code["code_challenge"] == s256_challenge(arrival.verifier)
    assert code["code_challenge_method"] == "S256"
    assert code["sub"] == subject_for("alice", rp_public.client, op.services.settings) != "alice"
    assert code["account_id"] == "alice"
    assert code["acr"] == "urn:mynacard:acr:test"
    assert code["amr"] == ["test"]
    assert abs(code["auth_time"] - utcnow().timestamp()) < 30
    assert code["dpop_jkt"] is None
    # profile asks for name, birthdate and gender, for UserInfo; the address was given but not asked for
    assert code["claims"] == {"id_token": {}, "userinfo": {"name": "山田 太郎", "birthdate": "1990-01-02",
                                                           "gender": "male"}}
    grant = stored(op, "Grant", code["grant_id"])
    assert grant == {"client_id": rp_public.client_id, "sub": code["sub"], "account_id": "alice",
                     "scope": "openid profile", "claims": code["claims"]}
    session = stored(op, "Session", code["sid"])
    assert session is not None
    assert session["clients"] == [rp_public.client_id]
    assert browser.cookie("mynacard_session").startswith(code["sid"] + ".")  # type: ignore[union-attr]


@pytest.mark.parametrize(("challenge", "method"), [
    (None, None), (None, "S256"), ("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "plain"),
    ("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", None), ("too-short", "S256"),
])
def test_pkce_s256_is_required(browser: Browser, rp_public: Rp, challenge: str | None, method: str | None) -> None:
    error = _redirected_error(browser, rp_public, code_challenge=challenge, code_challenge_method=method, state="s1")
    assert error["error"] == "invalid_request"
    assert error["state"] == "s1"
    assert error["iss"] == ISSUER
    assert "code" not in error


@pytest.mark.parametrize("redirect_uri", [None, "https://evil.example/cb", REDIRECT_URI + "/more",
                                          REDIRECT_URI + "?x=1", REDIRECT_URI.upper(), REDIRECT_URI + "#f"])
def test_an_unverified_redirect_uri_is_never_used(browser: Browser, rp_public: Rp, redirect_uri: str | None) -> None:
    response, _ = browser.start(rp_public.client_id, redirect_uri=redirect_uri, headers={"accept": "text/html"})
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert "invalid_request" in response.text
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"


def test_unknown_client_and_json_error_page(op: Provider, browser: Browser) -> None:
    response = browser.request("GET", "/authorize", params={"client_id": "nobody", "redirect_uri": REDIRECT_URI},
                               headers={"accept": "application/json"})
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.json()["error"] == "invalid_request"
    assert browser.request("GET", "/authorize").status_code == 400


def test_every_redirected_response_carries_iss_and_state(browser: Browser, rp_public: Rp) -> None:
    error = _redirected_error(browser, rp_public, response_type="token", state="abc")
    assert error == {"error": "unsupported_response_type", "error_description": error["error_description"],
                     "state": "abc", "iss": ISSUER}
    assert _redirected_error(browser, rp_public, response_type=None)["error"] == "invalid_request"
    assert _redirected_error(browser, rp_public, response_mode="fragment")["error"] == "invalid_request"
    no_state = _redirected_error(browser, rp_public, response_type="id_token", state=None)
    assert "state" not in no_state
    assert no_state["iss"] == ISSUER


def test_repeated_and_oversize_parameters(browser: Browser, rp_public: Rp) -> None:
    assert _redirected_error(browser, rp_public, nonce="n" * 513)["error"] == "invalid_request"
    assert _redirected_error(browser, rp_public, login_hint="h" * 257)["error"] == "invalid_request"
    assert _redirected_error(browser, rp_public, claims=json.dumps({"userinfo": {"x" * 60: None, "y" * 4100: None}})
                             )["error"] == "invalid_request"
    assert _redirected_error(browser, rp_public, max_age="-1")["error"] == "invalid_request"
    assert _redirected_error(browser, rp_public, max_age="1e3")["error"] == "invalid_request"
    too_long_state = _redirected_error(browser, rp_public, state="s" * 2049)
    assert too_long_state["error"] == "invalid_request"
    assert "state" not in too_long_state
    query = "&".join(f"{k}={v}" for k, v in [("client_id", rp_public.client_id), ("redirect_uri", REDIRECT_URI),
                                               ("scope", "openid"), ("scope", "profile")])
    repeated = browser.request("GET", f"/authorize?{query}")
    assert _query(repeated.headers["location"])["error"] == "invalid_request"
    twice = browser.request("GET", f"/authorize?client_id={rp_public.client_id}&client_id=x&redirect_uri=y")
    assert twice.status_code == 400
    assert "location" not in twice.headers
    many = "&".join(f"p{i}=v" for i in range(70))
    assert browser.request("GET", f"/authorize?client_id={rp_public.client_id}&{many}").status_code == 400
    huge = browser.request("GET", f"/authorize?client_id={rp_public.client_id}&x={'a' * 40000}")
    assert huge.status_code == 400
    assert "location" not in huge.headers


def test_scope_values(op: Provider, browser: Browser, rp_public: Rp) -> None:
    assert _redirected_error(browser, rp_public, scope=None)["error"] == "invalid_request"
    assert _redirected_error(browser, rp_public, scope="unknown other")["error"] == "invalid_scope"
    arrival = browser.authorize(rp_public, scope="openid unknown offline_access")
    assert stored(op, "AuthorizationCode", arrival.code)["scope"] == "openid"  # type: ignore[index]
    offline = browser.authorize(rp_public, scope="openid offline_access", prompt="consent")
    assert offline.consents == 1
    assert stored(op, "AuthorizationCode", offline.code)["scope"] == "openid offline_access"  # type: ignore[index]


def test_prompt_none_without_a_session(browser: Browser, rp_public: Rp) -> None:
    error = _redirected_error(browser, rp_public, prompt="none", state="s-none")
    assert error["error"] == "login_required"
    assert error["state"] == "s-none"
    assert error["iss"] == ISSUER
    assert _redirected_error(browser, rp_public, prompt="none login")["error"] == "invalid_request"
    assert _redirected_error(browser, rp_public, prompt="bogus")["error"] == "invalid_request"


def test_the_session_is_reused(op: Provider, browser: Browser, rp_public: Rp) -> None:
    first = browser.authorize(rp_public)
    again = browser.authorize(rp_public, prompt="none")
    assert (again.logins, again.consents) == (0, 0)
    one, two = stored(op, "AuthorizationCode", first.code), stored(op, "AuthorizationCode", again.code)
    assert one is not None
    assert two is not None
    assert one["sub"] == two["sub"]
    assert one["sid"] == two["sid"]
    assert one["grant_id"] != two["grant_id"]
    assert two["auth_time"] == one["auth_time"]
    other = op.register("rp-other", sector_identifier="other.example.jp")
    third = browser.authorize(other)
    assert third.logins == 0
    assert third.consents == 1
    three = stored(op, "AuthorizationCode", third.code)
    assert three is not None
    assert three["sub"] != one["sub"]
    assert three["sid"] == one["sid"]
    assert stored(op, "Session", one["sid"])["clients"] == ["rp-public", "rp-other"]  # type: ignore[index]
    stranger = Browser(op)
    assert _redirected_error(stranger, rp_public, prompt="none")["error"] == "login_required"


def test_prompt_login_and_select_account_ask_again(browser: Browser, rp_public: Rp) -> None:
    browser.authorize(rp_public)
    assert browser.authorize(rp_public, prompt="login").logins == 1
    assert browser.authorize(rp_public, prompt="select_account").logins == 1
    assert browser.authorize(rp_public, prompt="consent").consents == 1


def _age_session(op: Provider, browser: Browser, seconds: int) -> None:
    sid = browser.cookie("mynacard_session").split(".")[0]  # type: ignore[union-attr]

    async def age() -> None:
        found = await op.services.objects.find("Session", sid, now=utcnow())
        assert found is not None
        await op.services.objects.upsert("Session", sid, {**found.payload, "auth_time": found.payload["auth_time"]
                                                          - seconds}, found.expires_at)
    op.call(age)


def test_max_age_forces_a_new_login(op: Provider, browser: Browser, rp_public: Rp) -> None:
    browser.authorize(rp_public)
    _age_session(op, browser, 100)
    kept = browser.authorize(rp_public, max_age="1000")
    assert kept.logins == 0
    fresh = browser.authorize(rp_public, max_age="10")
    assert fresh.logins == 1
    kept_time = stored(op, "AuthorizationCode", kept.code)["auth_time"]  # type: ignore[index]
    assert stored(op, "AuthorizationCode", fresh.code)["auth_time"] >= kept_time + 100  # type: ignore[index]
    assert browser.authorize(rp_public, max_age="0").logins == 1
    _age_session(op, browser, 100)
    assert _redirected_error(browser, rp_public, max_age="10", prompt="none")["error"] == "login_required"


def test_claims_parameter_targets_and_consent(op: Provider, browser: Browser, rp_public: Rp) -> None:
    claims = {"id_token": {"name": {"essential": True}, "acr": None, "sub": None},
              "userinfo": {"birthdate": None, "age_over_18": None, "email": None}}
    response, verifier = browser.start(rp_public.client_id, claims=json.dumps(claims))
    arrival = browser.walk(response, verifier, login_claims=CARD, approve=["name", "age_over_18"])
    code = stored(op, "AuthorizationCode", arrival.code)
    assert code is not None
    assert code["claims"] == {"id_token": {"name": "山田 太郎"}, "userinfo": {"age_over_18": True}}
    for bad in ("not json", "[]", json.dumps({"userinfo": []}), json.dumps({"userinfo": {"name": 1}}),
                json.dumps({"id_token": {"name": {"essential": "yes"}}}),
                json.dumps({"id_token": {"name": {"value": 1, "values": [1]}}}), "[" * 3000):
        assert _redirected_error(browser, rp_public, claims=bad)["error"] == "invalid_request", bad
    assert _redirected_error(browser, rp_public, claims=json.dumps({"userinfo": {"name": None}}),
                             scope="profile")["error"] == "invalid_request"


def test_personal_claims_come_only_with_a_fresh_login(op: Provider, browser: Browser, rp_public: Rp) -> None:
    browser.authorize(rp_public, login_claims=CARD)
    again = browser.authorize(rp_public, scope="openid name", login_claims=CARD)
    assert again.logins == 1
    assert again.consents == 1
    assert stored(op, "AuthorizationCode", again.code)["claims"]["userinfo"] == {"name": "山田 太郎"}  # type: ignore[index]
    remembered = browser.authorize(rp_public, scope="openid name", login_claims=CARD)
    assert (remembered.logins, remembered.consents) == (1, 0)
    assert stored(op, "AuthorizationCode", remembered.code)["claims"]["userinfo"] == {  # type: ignore[index]
        "name": "山田 太郎"}
    assert _redirected_error(browser, rp_public, scope="openid name", prompt="none")["error"] == "login_required"


def test_acr_values_and_essential_acr(op: Provider, browser: Browser, rp_public: Rp) -> None:
    browser.authorize(rp_public)
    step_up = browser.authorize(rp_public, acr_values="urn:example:strong")
    assert step_up.logins == 1  # the session's acr does not meet acr_values: log in again
    assert browser.authorize(rp_public, acr_values="urn:example:strong", prompt="none").code  # voluntary
    essential = json.dumps({"id_token": {"acr": {"essential": True, "values": ["urn:example:strong"]}}})
    response, verifier = browser.start(rp_public.client_id, claims=essential)
    unmet = browser.walk(response, verifier)
    assert unmet.logins == 1
    assert unmet.params["error"] == "unmet_authentication_requirements"
    assert unmet.params["iss"] == ISSUER


def test_a_requested_sub_must_be_the_one_logged_in(op: Provider, browser: Browser, rp_public: Rp) -> None:
    sub = subject_for("alice", rp_public.client, op.services.settings)
    wanted = json.dumps({"id_token": {"sub": {"value": sub}}})
    assert browser.authorize(rp_public, claims=wanted).code
    assert browser.authorize(rp_public, claims=wanted, prompt="none").code
    other = browser.authorize(rp_public, claims=json.dumps({"id_token": {"sub": {"value": "someone-else"}}}))
    assert other.logins == 1
    assert other.params["error"] == "login_required"


def test_form_post_and_post_requests(op: Provider, browser: Browser, rp_public: Rp) -> None:
    arrival = browser.authorize(rp_public, response_mode="form_post", state="fp")
    page = arrival.response
    assert page.status_code == 200
    assert arrival.params["state"] == "fp"
    assert arrival.params["iss"] == ISSUER
    csp = page.headers["content-security-policy"]
    assert "form-action 'self' https://rp.example.jp" in csp
    assert "script-src 'sha256-" in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["cache-control"] == "no-store"
    assert stored(op, "AuthorizationCode", arrival.code) is not None
    response, verifier = browser.start(rp_public.client_id, method="POST", state="posted")
    posted = browser.walk(response, verifier)
    assert posted.params["state"] == "posted"
    assert posted.code


def test_redirect_uri_query_is_kept(op: Provider, browser: Browser) -> None:
    client, _ = register_client("rp-query", auth_method=AuthMethod.NONE, redirect_uris=[REDIRECT_URI + "?tenant=a"])
    op.call(op.services.clients.add, client)
    response, _ = browser.start("rp-query", redirect_uri=REDIRECT_URI + "?tenant=a", response_type="token")
    assert _query(response.headers["location"])["tenant"] == "a"


def test_dpop_jkt_binds_the_code(op: Provider, browser: Browser, rp_public: Rp) -> None:
    jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
    arrival = browser.authorize(rp_public, dpop_jkt=jkt)
    assert stored(op, "AuthorizationCode", arrival.code)["dpop_jkt"] == jkt  # type: ignore[index]
    assert _redirected_error(browser, rp_public, dpop_jkt="short")["error"] == "invalid_request"


def test_request_uri_must_come_from_par(browser: Browser, rp_public: Rp) -> None:
    for request_uri in ("https://rp.example.jp/request.jwt", "urn:ietf:params:oauth:request_uri:unknown"):
        response = browser.request("GET", "/authorize", params={"client_id": rp_public.client_id,
                                                               "request_uri": request_uri})
        assert response.status_code == 400
        assert "location" not in response.headers
        assert "invalid_request_uri" in response.text


def test_par_required_globally(tmp_path: Path) -> None:
    with provider(tmp_path / "strict", MYNACARD_LOGIN_AUTHENTICATOR="test",
                  MYNACARD_AUTHORIZATION_REQUIRE_PAR="1") as strict:
        rp = strict.register("rp-public")
        error = _redirected_error(Browser(strict), rp)
        assert error["error"] == "invalid_request"
        assert "RFC 9126" in error["error_description"]
        metadata = strict.http.get("/.well-known/openid-configuration").json()
        assert metadata["require_pushed_authorization_requests"] is True


def test_par_required_per_client(op: Provider, browser: Browser) -> None:
    rp = op.register("rp-par", require_par=True)
    error = _redirected_error(browser, rp)
    assert error["error"] == "invalid_request"
    assert error["iss"] == ISSUER


def test_english_pages(browser: Browser, rp_public: Rp) -> None:
    response, _ = browser.start(rp_public.client_id, redirect_uri="https://evil.example/cb", ui_locales="en-US ja")
    assert response.status_code == 400
    assert '<html lang="en">' in response.text
    assert "Error" in response.text
    arrival = browser.authorize(rp_public, ui_locales="fr en", login=False)
    assert '<html lang="en">' in arrival.response.text


def test_discovery(op: Provider) -> None:
    metadata = op.http.get("/.well-known/openid-configuration").json()
    assert metadata["authorization_endpoint"] == ISSUER + "/authorize"
    assert metadata["pushed_authorization_request_endpoint"] == ISSUER + "/par"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert metadata["require_pushed_authorization_requests"] is False
    assert metadata["claims_parameter_supported"] is True
    assert set(metadata["prompt_values_supported"]) == {"none", "login", "consent", "select_account"}
    assert "name" in metadata["claims_supported"]
    assert metadata["acr_values_supported"] == ["urn:mynacard:acr:test"]
    assert metadata == op.http.get("/.well-known/oauth-authorization-server").json()


def test_card_is_the_default_authenticator(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    assert settings.login.authenticator == "card"
    assert provider_metadata(settings)["acr_values_supported"] == ["urn:mynacard:acr:auth-cert",
                                                                   "urn:mynacard:acr:sign-cert"]


def test_session_expiry(op: Provider, browser: Browser, rp_public: Rp) -> None:
    browser.authorize(rp_public)
    sid = browser.cookie("mynacard_session").split(".")[0]  # type: ignore[union-attr]

    async def expire() -> None:
        found = await op.services.objects.find("Session", sid, now=utcnow())
        assert found is not None
        await op.services.objects.upsert("Session", sid, found.payload, utcnow() - dt.timedelta(seconds=1))
    op.call(expire)
    assert _redirected_error(browser, rp_public, prompt="none")["error"] == "login_required"


def test_a_session_cookie_needs_its_secret(op: Provider, browser: Browser, rp_public: Rp) -> None:
    browser.authorize(rp_public)
    sid = browser.cookie("mynacard_session").split(".")[0]  # type: ignore[union-attr]
    forger = Browser(op)
    forger.jar.set("mynacard_session", f"{sid}.{'A' * 43}")
    assert _redirected_error(forger, rp_public, prompt="none")["error"] == "login_required"
    assert browser.authorize(rp_public, prompt="none").code


def test_prompt_none_with_a_session_but_no_consent(op: Provider, browser: Browser, rp_public: Rp) -> None:
    browser.authorize(rp_public)
    other = op.register("rp-new")
    error = _redirected_error(browser, other, prompt="none", state="c1")
    assert error["error"] == "consent_required"
    assert error["state"] == "c1"
    assert error["iss"] == ISSUER
