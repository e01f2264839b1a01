"""A kiosk in headless Chromium: the provider, the card agent run with ``--kiosk`` (PIN pad), the virtual card in a
real pcscd. Two people one after the other in the same browser (one context: the same cookie jar): the first logs in
and takes the card out; the second, at the same client without ``prompt=login``, gets the login page and never
the first person's identity, because a kiosk agent's login opens no session (idp.oauth.kiosk)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from cardreader.virtual.lab import PcscLab

from .conftest import AUTH_PIN, Pki, insert
from .test_browser import browser, check_axe, person, separate  # noqa: F401 (browser: the Chromium fixture)

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]


def wait_for(agent_url: str, provider_url: str, state: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = httpx.get(f"{agent_url}/v1/status", headers={"Origin": provider_url}).json()
        if status["state"] == state:
            return
        time.sleep(0.05)
    raise AssertionError(f"the agent never became {state}")


def test_the_next_person_at_a_kiosk_never_sees_the_first(browser: Any, lab: PcscLab, pki: Pki,  # noqa: F811
                                                         tmp_path: Path) -> None:
    with separate(lab, pki, tmp_path / "kiosk", ("--kiosk",)) as (provider, agent), \
            person(browser, provider) as kiosk:
        insert(lab, pki.adult)
        kiosk.authorize()
        kiosk.enter_pin(agent, AUTH_PIN)
        kiosk.page.wait_for_url("**/consent", timeout=30_000)
        kiosk.page.get_by_role("button", name="許可する").click()
        first = kiosk.tokens()
        claims = jwt.decode(first["id_token"], options={"verify_signature": False})
        assert claims["acr"] == "urn:mynacard:acr:auth-cert"
        assert isinstance(claims["auth_time"], int)
        assert "sid" not in claims
        assert {c["name"] for c in kiosk.context.cookies()} & {"mynacard_session", "mynacard_interaction"} == set()
        wait_for(agent.url, provider.url, "remove_card")  # the agent holds the reader until the card is out
        lab.remove()
        wait_for(agent.url, provider.url, "idle")
        # the second person, same browser, same client, no prompt=login: a login page, nothing of the first
        kiosk.authorize(prompt="consent")
        page = kiosk.page
        assert "/interaction/" in page.url
        assert page.locator("#pinpad-link, #step").count() >= 1
        assert first["userinfo"]["sub"] not in page.content()


@pytest.mark.parametrize(("locale", "next_button", "cancel_button"), [("ja-JP", "次へ", "やめる"),
                                                                      ("en-US", "Next", "Cancel")])
def test_the_device_pages_are_accessible_in_both_languages(browser: Any, lab: PcscLab, pki: Pki,  # noqa: F811
                                                           tmp_path: Path, locale: str, next_button: str,
                                                           cancel_button: str) -> None:
    with separate(lab, pki, tmp_path / "device") as (provider, _), person(browser, provider, locale) as someone:
        issued = httpx.post(f"{provider.url}/device/auth", data={"client_id": "rp1", "scope": "openid"}).json()
        page = someone.page
        page.goto(issued["verification_uri_complete"])
        check_axe(page)
        assert page.input_value("#user_code") == issued["user_code"]
        page.get_by_role("button", name=next_button).click()
        page.wait_for_load_state()
        assert "rp1" in page.content()  # the client asking is named (RFC 8628 §5.4)
        check_axe(page)
        page.get_by_role("button", name=cancel_button).click()
        page.wait_for_load_state()
        check_axe(page)
        token = httpx.post(f"{provider.url}/token", data={"client_id": "rp1", "device_code": issued["device_code"],
                                                          "grant_type": "urn:ietf:params:oauth:grant-type:device_code"})
        assert token.json()["error"] == "access_denied"
