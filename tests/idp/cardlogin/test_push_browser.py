"""The login page follows the card login by push (issue 14 item 7) and, at a kiosk, returns to its start (item 1),
in headless Chromium with the provider, the card agent and the virtual card in a real pcscd.

Checked: the page moves on from the pushed events alone (the event streams of the provider and the agent are
used, neither status route is polled), with the provider on two workers (the card's answer may land in the other
one); where EventSource is missing or its streams are refused, the page long polls both and still moves on; a kiosk
page (agent run with ``--kiosk``) returns to the client (``access_denied``) when the card is taken out at the PIN
prompt, and a kiosk client's page goes to the configured kiosk home after the idle timeout, the interaction ended
and the agent's login cancelled; a kiosk's consent page (identity on screen) leaves the screen by itself once the
idle limit after the login has passed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from cardreader.virtual.lab import PcscLab

from .conftest import AUTH_PIN, Agent, Pki, insert
from .test_browser import _RP_URL, RP, Person, browser, person, separate  # noqa: F401 (browser: the Chromium fixture)
from .test_kiosk_browser import wait_for

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]
AGENT_EVENTS = re.compile(r"/v1/login/[A-Za-z0-9_-]{22}/events$")
AGENT_VIEW = re.compile(r"/v1/login/[A-Za-z0-9_-]{22}(\?.*)?$")


def recorded(page: Any) -> list[str]:
    """Every URL the page requests from now on (fetches and event streams alike)."""
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    return urls


def at_pin_prompt(agent: Agent, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not httpx.get(f"{agent.url}/pinpad/state", headers={"Sec-Fetch-Site": "same-origin"}).json()["prompt"]:
        assert time.monotonic() < deadline, "no PIN prompt"
        time.sleep(0.05)


def test_the_page_moves_on_from_pushed_events(browser: Any, lab: PcscLab, pki: Pki,  # noqa: F811
                                              tmp_path: Path) -> None:
    """Under the pages' own CSP (this context does not bypass it): the event streams are allowed connections."""
    with separate(lab, pki, tmp_path / "push", MYNACARD_SERVER_WORKERS="2") as (provider, agent), \
            person(browser, provider) as someone:
        insert(lab, pki.adult)
        someone.context.close()
        someone.context = browser.new_context(locale="ja-JP")
        page = someone.page = someone.context.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        urls = recorded(page)
        someone.authorize()
        page.locator("#pinpad-link").wait_for(state="visible", timeout=20_000)
        pad = someone.context.new_page()
        pad.goto(f"{agent.url}/pinpad")
        pad.locator("#secret").wait_for(state="visible", timeout=20_000)
        pad.keyboard.type(AUTH_PIN)
        pad.keyboard.press("Enter")
        page.wait_for_url("**/consent", timeout=30_000)
    assert [u for u in urls if u.endswith("/card/events")], urls
    assert [u for u in urls if AGENT_EVENTS.search(u)], urls
    assert not [u for u in urls if "/card/status" in u or AGENT_VIEW.search(u)], urls  # nothing polled
    assert not [text for text in console if "Content Security Policy" in text], console


@pytest.mark.parametrize("blocked", ["missing", "refused"])
def test_the_page_long_polls_without_event_streams(browser: Any, lab: PcscLab, pki: Pki,  # noqa: F811
                                                   tmp_path: Path, blocked: str) -> None:
    with separate(lab, pki, tmp_path / blocked) as (provider, agent), person(browser, provider) as someone:
        insert(lab, pki.adult)
        page = someone.page
        if blocked == "missing":
            page.add_init_script("delete globalThis.EventSource;")
        else:  # a proxy that forbids event streams
            page.route(re.compile(r".*/events$"), lambda route: route.fulfill(status=403, body="no event streams"))
        urls = recorded(page)
        someone.authorize()
        someone.enter_pin(agent, AUTH_PIN)
        page.wait_for_url("**/consent", timeout=30_000)
    assert [u for u in urls if "/card/status?wait=25&state=pending" in u], urls
    assert [u for u in urls if AGENT_VIEW.search(u) and "wait=25&after=" in u], urls
    if blocked == "missing":
        assert not [u for u in urls if u.endswith("/events")], urls


def test_a_kiosk_page_returns_to_its_start_when_the_card_is_taken_out(browser: Any, lab: PcscLab,  # noqa: F811
                                                                       pki: Pki, tmp_path: Path) -> None:
    with separate(lab, pki, tmp_path / "removed", ("--kiosk",)) as (provider, agent), \
            person(browser, provider) as someone:
        insert(lab, pki.adult)
        someone.authorize()
        page = someone.page
        at_pin_prompt(agent)
        lab.remove()  # the person walks away with the card at the PIN prompt
        page.wait_for_url(RP + "*", timeout=20_000)
        assert parse_qs(urlsplit(page.url).query)["error"] == ["access_denied"]  # the client's start
        assert "mynacard_interaction" not in {c["name"] for c in someone.context.cookies()}
        wait_for(agent.url, provider.url, "idle")  # ready for the next person


HOME = f"{_RP_URL}/kiosk-home"


@contextmanager
def at_kiosk_client(chromium: Any, lab: PcscLab, pki: Pki, base: Path, idle: int) -> Iterator[tuple[Agent, Person]]:
    """A person at the login page of a kiosk's client (``idp counter kiosk``; idle limit ``idle`` s, the kiosk
    home :data:`HOME`), the card in the reader."""
    with separate(lab, pki, base, MYNACARD_AUTHORIZATION_KIOSK_IDLE_TIMEOUT=str(idle),
                  MYNACARD_AUTHORIZATION_KIOSK_HOME=HOME) as (provider, agent), \
            person(chromium, provider) as someone:
        provider.idp("counter", "kiosk", "rp1")
        insert(lab, pki.adult)
        someone.authorize()
        yield agent, someone


def test_a_kiosk_clients_page_goes_home_when_idle(browser: Any, lab: PcscLab, pki: Pki,  # noqa: F811
                                                  tmp_path: Path) -> None:
    with at_kiosk_client(browser, lab, pki, tmp_path / "idle", 3) as (agent, someone):
        page = someone.page
        login_page = page.url
        assert page.get_attribute("#card-login", "data-kiosk") == "1"
        at_pin_prompt(agent)  # the card is in, nobody types the PIN
        page.wait_for_url(HOME, timeout=20_000)
        assert "mynacard_interaction" not in {c["name"] for c in someone.context.cookies()}
        wait_for(agent.url, someone.provider.url, "idle")  # the agent's login was cancelled with the page
        page.goto(login_page)
        assert page.locator("#card-login").count() == 0  # the interaction is over


def test_a_kiosk_consent_page_leaves_the_screen_when_idle(browser: Any, lab: PcscLab, pki: Pki,  # noqa: F811
                                                          tmp_path: Path) -> None:
    with at_kiosk_client(browser, lab, pki, tmp_path / "consent", 4) as (agent, someone):
        someone.enter_pin(agent, AUTH_PIN)
        page = someone.page
        page.wait_for_url("**/consent", timeout=30_000)  # the person's identifier and claims are on screen
        consent = page.url
        assert page.locator("form[action$='/consent']").count() == 1
        page.wait_for_url(HOME, timeout=20_000)  # nobody answered: the screen clears by itself
        page.goto(consent)
        assert page.locator("form[action$='/consent']").count() == 0  # the interaction and its claims are gone
