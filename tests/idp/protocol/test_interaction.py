"""Interactions: the browser binding, consent claim by claim, deny and cancel, single completion, the test
authenticator's contract, sessions across accounts, and the pages' escaping and headers."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from idp.oauth.authenticator import LoginResult, complete_login
from idp.oauth.session import SESSION_COOKIE, session_cookie
from idp.runtime import utcnow
from idp.settings import SettingsError, load_settings
from tests.idp.conftest import settings_for
from tests.idp.protocol.conftest import Browser, stored
from tests.idp.protocol.tokenkit import ISSUER, REDIRECT_URI, Provider, Rp, provider

CARD = {"name": "山田 太郎", "birthdate": "1990-01-02", "gender": "male",
        "address": {"formatted": "東京都千代田区霞が関1-1"}}


def _interaction_uid(response_location: str) -> str:
    match = re.fullmatch(r"/interaction/([A-Za-z0-9_-]{43})(/.*)?", response_location)
    assert match is not None, response_location
    return match[1]


def _start(browser: Browser, rp: Rp, **params: str | None) -> str:
    response, _ = browser.start(rp.client_id, **params)
    assert response.status_code == 303
    return _interaction_uid(response.headers["location"])


def test_another_browser_cannot_use_the_interaction(op: Provider, browser: Browser, rp_public: Rp) -> None:
    uid = _start(browser, rp_public)
    thief = Browser(op, "mallory")
    for method, path, data in (("GET", f"/interaction/{uid}", None),
                               ("POST", f"/interaction/{uid}/test-login", {"account_id": "mallory"}),
                               ("GET", f"/interaction/{uid}/consent", None),
                               ("GET", f"/interaction/{uid}/resume", None),
                               ("POST", f"/interaction/{uid}/abort", None)):
        response = thief.request(method, path, data=data)
        assert response.status_code == 400, (method, path)
        assert "location" not in response.headers
    assert browser.request("GET", f"/interaction/{uid}").status_code == 200


def test_consent_is_given_claim_by_claim(op: Provider, browser: Browser, rp_public: Rp) -> None:
    response, verifier = browser.start(rp_public.client_id, scope="openid profile address")
    arrival = browser.walk(response, verifier, login_claims=CARD, approve=["birthdate", "address"])
    assert arrival.consents == 1
    code = stored(op, "AuthorizationCode", arrival.code)
    assert code is not None
    assert code["claims"]["userinfo"] == {"birthdate": "1990-01-02", "address": CARD["address"]}
    assert code["claims"]["id_token"] == {}
    again = browser.authorize(rp_public, scope="openid profile address", login_claims=CARD, prompt="login")
    assert again.consents == 0  # remembered: the same claims were asked before, with the same answers
    assert stored(op, "AuthorizationCode", again.code)["claims"]["userinfo"] == {  # type: ignore[index]
        "birthdate": "1990-01-02", "address": CARD["address"]}
    nothing = browser.authorize(rp_public, scope="openid gender", login_claims=CARD, approve=[])
    assert nothing.consents == 1  # gender was not asked before
    assert stored(op, "AuthorizationCode", nothing.code)["claims"]["userinfo"] == {}  # type: ignore[index]


def test_an_approval_of_a_claim_not_offered_is_ignored(op: Provider, browser: Browser, rp_public: Rp) -> None:
    response, verifier = browser.start(rp_public.client_id, scope="openid name")
    arrival = browser.walk(response, verifier, login_claims=CARD, approve=["name", "address", "birthdate"])
    assert stored(op, "AuthorizationCode", arrival.code)["claims"]["userinfo"] == {  # type: ignore[index]
        "name": "山田 太郎"}


def test_deny_and_cancel_answer_access_denied(op: Provider, browser: Browser, rp_public: Rp) -> None:
    uid = _start(browser, rp_public, state="d1")
    browser.request("POST", f"/interaction/{uid}/test-login", data={"account_id": "alice"})
    denied = browser.request("POST", f"/interaction/{uid}/consent", data={"decision": "deny", "claim": "name"})
    params = dict(parse_qsl(urlsplit(denied.headers["location"]).query))
    assert denied.headers["location"].startswith(REDIRECT_URI)
    assert params == {"error": "access_denied", "error_description": params["error_description"], "state": "d1",
                      "iss": ISSUER}
    assert any(c.startswith(SESSION_COOKIE + "=") for c in denied.headers.get_list("set-cookie"))
    assert browser.request("GET", f"/interaction/{uid}/resume").status_code == 400
    uid = _start(browser, rp_public, state="d2", prompt="login")
    cancelled = browser.request("POST", f"/interaction/{uid}/abort")
    assert dict(parse_qsl(urlsplit(cancelled.headers["location"]).query))["error"] == "access_denied"


def test_an_interaction_completes_once(op: Provider, browser: Browser, rp_public: Rp) -> None:
    uid = _start(browser, rp_public)
    browser.request("POST", f"/interaction/{uid}/test-login", data={"account_id": "alice"})
    browser.request("POST", f"/interaction/{uid}/consent", data={"decision": "allow"})
    first = browser.request("GET", f"/interaction/{uid}/resume")
    assert "code=" in first.headers["location"]
    replay = browser.request("GET", f"/interaction/{uid}/resume")
    assert replay.status_code == 400
    assert "location" not in replay.headers
    assert browser.request("POST", f"/interaction/{uid}/test-login", data={"account_id": "x"}).status_code == 400


def test_resume_needs_login_and_consent_first(browser: Browser, rp_public: Rp) -> None:
    uid = _start(browser, rp_public)
    assert browser.request("GET", f"/interaction/{uid}/resume").headers["location"] == f"/interaction/{uid}"
    assert browser.request("GET", f"/interaction/{uid}/consent").headers["location"] == f"/interaction/{uid}"
    browser.request("POST", f"/interaction/{uid}/test-login", data={"account_id": "alice"})
    assert browser.request("GET", f"/interaction/{uid}/resume").headers["location"] == f"/interaction/{uid}/consent"
    assert browser.request("GET", f"/interaction/{uid}").headers["location"] == f"/interaction/{uid}/consent"


def test_an_expired_interaction(op: Provider, browser: Browser, rp_public: Rp) -> None:
    uid = _start(browser, rp_public)

    async def expire() -> str:
        found = await op.services.objects.find("Interaction", uid, now=utcnow())
        assert found is not None
        await op.services.objects.upsert("Interaction", uid, found.payload, utcnow() - dt.timedelta(seconds=1))
        result = LoginResult("alice", "urn:mynacard:acr:test", ("test",), {}, utcnow())
        return await complete_login(op.services, uid, result, utcnow())
    assert op.call(expire) == f"/interaction/{uid}"
    page = browser.request("GET", f"/interaction/{uid}")
    assert page.status_code == 400
    assert "期限切れ" in page.text


def test_test_login_form_input(browser: Browser, rp_public: Rp) -> None:
    uid = _start(browser, rp_public, login_hint='"><script>alert(1)</script>')
    page = browser.request("GET", f"/interaction/{uid}")
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;" in page.text
    assert 'name="account_id"' in page.text
    for form in ({"account_id": ""}, {"account_id": "a\x01b"}, {"account_id": "a" * 256},
                 {"account_id": "alice", "claims": "[1]"}, {"account_id": "alice", "claims": "{"}):
        response = browser.request("POST", f"/interaction/{uid}/test-login", data=form)
        assert response.status_code == 400, form
    done = browser.request("POST", f"/interaction/{uid}/test-login",
                           data={"account_id": "alice", "acr": "urn:example:acr", "amr": "hwk pin"})
    assert done.headers["location"] == f"/interaction/{uid}/consent"


def test_cross_origin_posts_are_refused(browser: Browser, rp_public: Rp) -> None:
    uid = _start(browser, rp_public)
    response = browser.request("POST", f"/interaction/{uid}/test-login", data={"account_id": "alice"},
                               headers={"origin": "https://evil.example"})
    assert response.status_code == 400
    ok = browser.request("POST", f"/interaction/{uid}/test-login", data={"account_id": "alice"},
                         headers={"origin": ISSUER})
    assert ok.status_code == 303


def test_pages_escape_and_protect(op: Provider, browser: Browser, rp_public: Rp) -> None:
    uid = _start(browser, rp_public, scope="openid name")
    browser.request("POST", f"/interaction/{uid}/test-login",
                    data={"account_id": "alice", "claims": '{"name": "<b>\\"x\\"</b>"}'})
    page = browser.request("GET", f"/interaction/{uid}/consent")
    assert "<b>" not in page.text
    assert "&lt;b&gt;&#34;x&#34;&lt;/b&gt;" in page.text  # markupsafe escapes " as &#34;
    headers = page.headers
    assert headers["cache-control"] == "no-store"
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["content-type"] == "text/html; charset=utf-8"


def test_a_login_of_another_account_starts_a_new_session(op: Provider, browser: Browser, rp_public: Rp) -> None:
    alice = stored(op, "AuthorizationCode", browser.authorize(rp_public).code)
    same = stored(op, "AuthorizationCode", browser.authorize(rp_public, prompt="login").code)
    bob = stored(op, "AuthorizationCode", browser.authorize(rp_public, prompt="login", account="bob").code)
    assert alice is not None
    assert same is not None
    assert bob is not None
    assert same["sid"] == alice["sid"]
    assert bob["sid"] != alice["sid"]
    assert bob["sub"] != alice["sub"]
    assert bob["account_id"] == "bob"
    assert stored(op, "Session", alice["sid"]) is None


def test_session_cookie_attributes(tmp_path: Path) -> None:
    https = settings_for(tmp_path, MYNACARD_ISSUER="https://id.example.jp")
    now = utcnow()
    cookie = session_cookie("v", https, now + dt.timedelta(seconds=60), now)
    assert cookie.secure
    assert cookie.httponly
    assert cookie.samesite == "lax"
    assert cookie.path == "/"
    assert cookie.max_age == 60
    loopback = settings_for(tmp_path)
    assert not session_cookie("v", loopback, now, now).secure


def test_the_test_authenticator_needs_test_mode(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"login\.authenticator"):
        load_settings(environ={"MYNACARD_LOGIN_AUTHENTICATOR": "test"})
    with pytest.raises(SettingsError, match=r"login\.authenticator"):
        load_settings(environ={"MYNACARD_LOGIN_AUTHENTICATOR": "password", "MYNACARD_TEST_MODE": "1"})
    with provider(tmp_path / "card") as card:
        rp = card.register("rp-public")
        browser = Browser(card)
        uid = _start(browser, rp)
        assert browser.request("POST", f"/interaction/{uid}/test-login",
                               data={"account_id": "alice"}).status_code == 404
