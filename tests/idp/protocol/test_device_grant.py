"""RFC 8628 device authorization grant, in process: the device authorization endpoint, the verification page
(user code rules §6.1, brute-force limit §5.1, phishing confirmation §5.4), the login as an interaction that
opens no session, and the token endpoint's polling rules (§3.5: authorization_pending, slow_down +5 s,
access_denied, expired_token, single use). The same flow with openid-client as the client, over real HTTP, is in
tests/idp/test_decoupled_openid_client.py."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from idp.endpoints.device_authorization import USER_CODE_ALPHABET, normalize_user_code
from tests.idp.protocol.conftest import Browser
from tests.idp.protocol.tokenkit import ISSUER, Provider, Rp, provider, verify_id_token

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"


def authorize_device(op: Provider, rp: Rp, scope: str = "openid") -> dict[str, Any]:
    answer = op.post("/device/auth", rp, {"scope": scope})
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    return dict(answer.json())


def poll(op: Provider, rp: Rp, device_code: str) -> Any:
    return op.post("/token", rp, {"grant_type": DEVICE_CODE, "device_code": device_code})


def enter_code(browser: Browser, user_code: str, decision: str | None = None) -> Any:
    form = {"user_code": user_code} if decision is None else {"user_code": user_code, "decision": decision}
    return browser.request("POST", "/device", data=form, headers={"Origin": ISSUER})


def approve_on_page(browser: Browser, user_code: str, *, account: str = "alice", approve: list[str] | None = None,
                    claims: dict[str, Any] | None = None) -> Any:
    confirm = enter_code(browser, user_code)
    assert confirm.status_code == 200
    assert "rp-" in confirm.text  # the client asking is named (RFC 8628 §5.4)
    started = enter_code(browser, user_code, "allow")
    assert started.status_code == 303
    assert started.headers["location"].startswith("/interaction/")
    return browser.walk(started, "", account=account, login_claims=claims, approve=approve)


@pytest.fixture
def fast_op(tmp_path: Path) -> Iterator[Provider]:
    """A provider whose device codes live one second (to see them expire) and poll interval is one second."""
    with provider(tmp_path, MYNACARD_LOGIN_AUTHENTICATOR="test", MYNACARD_AUTHORIZATION_DEVICE_CODE_TTL="1",
                  MYNACARD_AUTHORIZATION_POLL_INTERVAL="1") as p:
        yield p


def test_discovery_advertises_the_device_grant(op: Provider) -> None:
    metadata = op.http.get("/.well-known/openid-configuration").json()
    assert metadata["device_authorization_endpoint"] == ISSUER + "/device/auth"
    assert DEVICE_CODE in metadata["grant_types_supported"]


def test_user_codes_follow_rfc_8628_section_6_1(op: Provider, rp_public: Rp) -> None:
    issued = authorize_device(op, rp_public)
    shown = issued["user_code"]
    assert re.fullmatch(f"[{USER_CODE_ALPHABET}]{{4}}-[{USER_CODE_ALPHABET}]{{4}}", shown)
    assert not set(shown) & set("AEIOU0123456789")
    assert normalize_user_code(" " + shown.lower().replace("-", " ") + " ") == shown.replace("-", "")
    assert normalize_user_code("ABCD-EFGH") is None  # vowels are not in the alphabet
    assert issued["verification_uri"] == ISSUER + "/device"
    assert issued["verification_uri_complete"] == f"{ISSUER}/device?user_code={shown}"
    assert issued["expires_in"] == 600
    assert issued["interval"] == 5
    assert len(issued["device_code"]) == 43


def test_approval_gives_tokens_once_with_auth_time_and_acr_and_no_session(op: Provider, rp_public: Rp,
                                                                          browser: Browser) -> None:
    issued = authorize_device(op, rp_public, "openid name")
    pending = poll(op, rp_public, issued["device_code"])
    assert (pending.status_code, pending.json()["error"]) == (400, "authorization_pending")
    before = int(time.time())
    arrival = approve_on_page(browser, issued["user_code"].lower(), claims={"name": "Device Person"},
                              approve=["name"])
    assert arrival.logins == 1
    assert arrival.consents == 1
    assert arrival.response.status_code == 200
    assert "機器に戻って" in arrival.response.text or "go back to the device" in arrival.response.text
    assert browser.cookie("mynacard_session") is None  # no single sign-on from a device login
    answer = poll(op, rp_public, issued["device_code"])  # within the interval, but approved: not throttled
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert "refresh_token" not in tokens
    claims = verify_id_token(tokens["id_token"], op.jwks(), client_id=rp_public.client_id, alg="ES256",
                             nonce=None)
    assert claims["auth_time"] >= before - 1
    assert claims["acr"] == "urn:mynacard:acr:test"
    assert "name" not in claims  # scope claims go to UserInfo (OIDC Core §5.4)
    assert op.userinfo(tokens["access_token"]).json()["name"] == "Device Person"
    again = poll(op, rp_public, issued["device_code"])
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")


def test_polling_sooner_than_the_interval_is_slow_down(tmp_path: Path) -> None:
    with provider(tmp_path, MYNACARD_LOGIN_AUTHENTICATOR="test", MYNACARD_AUTHORIZATION_POLL_INTERVAL="1") as op:
        rp = op.register("rp-public")
        device_code = authorize_device(op, rp)["device_code"]
        assert poll(op, rp, device_code).json()["error"] == "authorization_pending"
        too_soon = poll(op, rp, device_code).json()
        assert too_soon["error"] == "slow_down"
        assert "add 5 seconds" in too_soon["error_description"]
        assert poll(op, rp, device_code).json()["error"] == "slow_down"  # each too-soon poll counts from itself
        time.sleep(1.05)
        assert poll(op, rp, device_code).json()["error"] == "authorization_pending"


def test_denial_is_access_denied_once_then_invalid_grant(op: Provider, rp_public: Rp, browser: Browser) -> None:
    issued = authorize_device(op, rp_public)
    denied = enter_code(browser, issued["user_code"], "deny")
    assert denied.status_code == 200
    assert poll(op, rp_public, issued["device_code"]).json()["error"] == "access_denied"
    assert poll(op, rp_public, issued["device_code"]).json()["error"] == "invalid_grant"
    assert enter_code(browser, issued["user_code"], "allow").status_code == 400  # the user code is spent


def test_approving_no_claims_still_approves_without_them(op: Provider, rp_public: Rp, browser: Browser) -> None:
    issued = authorize_device(op, rp_public, "openid name")
    arrival = approve_on_page(browser, issued["user_code"], claims={"name": "N"}, approve=[])
    assert arrival.response.status_code == 200
    # approving nothing is still an approval: tokens without the name
    tokens = poll(op, rp_public, issued["device_code"]).json()
    assert "name" not in jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert "name" not in op.userinfo(tokens["access_token"]).json()


def test_expired_device_code(fast_op: Provider) -> None:
    rp = fast_op.register("rp-public")
    issued = authorize_device(fast_op, rp)
    assert issued["expires_in"] == 1
    assert issued["interval"] == 1
    time.sleep(1.2)
    assert poll(fast_op, rp, issued["device_code"]).json()["error"] == "expired_token"
    assert poll(fast_op, rp, issued["device_code"]).json()["error"] == "invalid_grant"
    page = enter_code(Browser(fast_op), issued["user_code"])
    assert page.status_code == 400


def test_another_clients_device_code_and_unknown_codes(op: Provider, rp_public: Rp, rp_basic: Rp) -> None:
    device_code = authorize_device(op, rp_public)["device_code"]
    assert poll(op, rp_basic, device_code).json()["error"] == "invalid_grant"
    assert poll(op, rp_public, "x" * 43).json()["error"] == "invalid_grant"
    assert op.post("/device/auth", rp_public, {"scope": "openid offline_access"}).json()["error"] == "invalid_scope"


def test_wrong_user_codes_are_limited(op: Provider, rp_public: Rp) -> None:
    issued = authorize_device(op, rp_public)
    guesser = Browser(op)
    statuses = [enter_code(guesser, "BCDF-GHJK").status_code for _ in range(11)]
    assert statuses[:10] == [400] * 10
    assert statuses[10] == 429
    assert enter_code(guesser, issued["user_code"]).status_code == 429  # even the right one, for this address


def test_the_page_refuses_other_origins(op: Provider, rp_public: Rp, browser: Browser) -> None:
    issued = authorize_device(op, rp_public)
    answer = browser.request("POST", "/device", data={"user_code": issued["user_code"], "decision": "allow"},
                             headers={"Origin": "https://evil.example"})
    assert answer.status_code == 400
    assert poll(op, rp_public, issued["device_code"]).json()["error"] == "authorization_pending"
