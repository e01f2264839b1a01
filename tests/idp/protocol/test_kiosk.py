"""Kiosk clients (idp.oauth.kiosk), in process with the TEST authenticator: their logins open no session, their
requests never reuse one, and their tokens carry auth_time and acr; a person after another at the same browser
gets a login page, never the first person's identity. (The agent's kiosk flag, with the card in Chromium:
tests/idp/cardlogin/test_kiosk_browser.py.)"""

from __future__ import annotations

import time
from pathlib import Path

import jwt

from idp.oauth.kiosk import set_kiosk_client
from idp.runtime import utcnow
from tests.idp.protocol.conftest import Browser
from tests.idp.protocol.tokenkit import Provider, Rp, provider


def mark_kiosk(op: Provider, rp: Rp) -> None:
    async def mark() -> None:
        await set_kiosk_client(op.services, rp.client_id, True, utcnow())
    op.call(mark)


def test_a_kiosk_clients_login_opens_no_session_and_is_never_reused(op: Provider, rp_public: Rp,
                                                                    rp_basic: Rp) -> None:
    mark_kiosk(op, rp_public)
    kiosk = Browser(op)
    first = kiosk.authorize(rp_public, account="first-person")
    assert first.logins == 1
    assert kiosk.cookie("mynacard_session") is None
    assert kiosk.cookie("mynacard_interaction") is None  # cleared with the answer
    tokens = op.post("/token", rp_public, {"grant_type": "authorization_code", "code": first.code,
                                           "redirect_uri": "https://rp.example.jp/cb",
                                           "code_verifier": first.verifier}).json()
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert isinstance(claims["auth_time"], int)
    assert claims["acr"] == "urn:mynacard:acr:test"
    assert "sid" not in claims  # no session behind the login
    # the next person at the same browser: a login page at the kiosk client and at any other client
    second = kiosk.authorize(rp_public, account="second-person", login=False)
    assert not second.arrived
    assert second.response.status_code == 200
    assert "/test-login" in second.response.text
    other = kiosk.authorize(rp_basic, account="second-person", login=False)
    assert not other.arrived


def test_an_ordinary_client_still_has_single_sign_on(op: Provider, rp_public: Rp) -> None:
    browser = Browser(op)
    assert browser.authorize(rp_public).logins == 1
    assert browser.cookie("mynacard_session") is not None
    assert browser.authorize(rp_public).logins == 0


def test_a_kiosk_login_left_idle_at_consent_ends(tmp_path: Path) -> None:
    with provider(tmp_path, MYNACARD_LOGIN_AUTHENTICATOR="test", MYNACARD_AUTHORIZATION_KIOSK_IDLE_TIMEOUT="1") as op:
        rp = op.register("rp-public")
        mark_kiosk(op, rp)
        kiosk = Browser(op)
        walked_away = kiosk.authorize(rp, login_claims={"name": "First Person"}, consent=False, scope="openid name")
        assert walked_away.logins == 1
        assert walked_away.pages[-1].endswith("/consent")
        consent_url = walked_away.pages[-1]
        assert "First Person" in kiosk.request("GET", consent_url).text
        time.sleep(1.2)
        later = kiosk.request("GET", consent_url)
        assert later.status_code == 400
        assert "First Person" not in later.text
        answer = kiosk.request("POST", consent_url, data={"decision": "allow", "claim": ["name"]})
        assert answer.status_code == 400
