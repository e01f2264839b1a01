"""The card agent's PIN pad on a kiosk's touch screen, in headless Chromium with touch events: the provider, the
agent run with ``--kiosk``, the virtual card (one try left) in a real pcscd. Driven by taps only (and, once, a
keyboard while a key has the focus): the start screen asks for the card; the last-try confirmation comes before any
PIN field; the tries left are shown before the first digit; the digits are never in the page's markup, its
accessibility tree or its announcements (only their count); every key is at least 64 px; after the login the pad
asks for the card until it is out, then shows its start screen again. axe-core finds nothing on any screen, in
Japanese and English, at 360 and 1280 px."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cardreader.jpki import EF
from cardreader.virtual.lab import PcscLab
from cardreader.virtual.profile import StateFile

from .conftest import AUTH_PIN, Agent, Pki, Provider, insert
from .test_browser import Person, browser, check_axe, separate

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]
__all__ = ["browser"]  # the Chromium fixture, shared with test_browser
WIDTHS = (360, 1280)
#: What each language's pad says on its screens (from cardreader/agent/messages.toml).
WORDS = {"ja": {"start": "カードリーダーに置いて", "continue": "続ける", "ok": "決定", "remove": "取り出して",
                "done": "ログインしました", "delete": "1字消す"},
         "en": {"start": "Place your My Number card", "continue": "Continue", "ok": "OK", "remove": "take your card",
                "done": "You are logged in", "delete": "Delete"}}


@pytest.fixture(scope="module")
def kiosk(lab: PcscLab, pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Provider, Agent]]:
    with separate(lab, pki, tmp_path_factory.mktemp("kiosk") / "k", ("--kiosk",)) as running:
        yield running


class TouchPerson(Person):
    """A person at a touch screen (Playwright's ``has_touch``: taps are touch events)."""

    def __init__(self, browser: Any, provider: Provider, locale: str) -> None:
        self.provider = provider
        self.context = browser.new_context(locale=locale, bypass_csp=True, has_touch=True,
                                           viewport={"width": 360, "height": 800})
        self.page = self.context.new_page()
        self.verifier = ""


def screens_pass_axe(pad: Any) -> None:
    """axe-core finds nothing at each width, and nothing is wider than the screen; back to the narrow screen."""
    for width in (*WIDTHS, WIDTHS[0]):
        pad.set_viewport_size({"width": width, "height": 800})
        check_axe(pad)
        assert pad.evaluate("document.documentElement.scrollWidth") <= width


def nothing_shows_the_pin(pad: Any) -> None:
    """The PIN is only the masked field's value: not in the markup, Chromium's accessibility tree (what a screen
    reader reads; Playwright's own aria snapshot reads the field's value unmasked) or any announcement."""
    assert pad.get_attribute("#secret", "type") == "password"
    assert pad.get_attribute("#secret", "value") is None
    markup = str(pad.evaluate("document.body.outerHTML"))
    session = pad.context.new_cdp_session(pad)
    try:
        tree = json.dumps(session.send("Accessibility.getFullAXTree"), ensure_ascii=False)
    finally:
        session.detach()
    assert "•" * len(str(pad.input_value("#secret"))) in tree  # the field's value, masked
    for text in (markup, tree, pad.text_content("#status"), pad.text_content("#count")):
        assert AUTH_PIN not in str(text)
        assert AUTH_PIN[:3] not in str(text)


@pytest.mark.parametrize("locale", ["ja-JP", "en-US"])
def test_a_kiosk_pin_pad_by_touch(browser: Any, kiosk: tuple[Provider, Agent], lab: PcscLab, pki: Pki,
                                  tmp_path: Path, locale: str) -> None:
    provider, agent = kiosk
    lang, words = locale[:2], WORDS[locale[:2]]
    card = pki.adult.copy_to(tmp_path / "card" / "card.json")
    StateFile(card.state_path).save({EF.AUTH_PIN: 1, EF.SIGN_PIN: 5})  # one try left
    someone = TouchPerson(browser, provider, locale)
    try:
        pad = someone.context.new_page()
        pad.goto(f"{agent.url}/pinpad")
        assert pad.get_attribute("html", "lang") == lang
        start = pad.locator("#idle")
        start.wait_for(state="visible", timeout=20_000)
        assert words["start"] in str(start.text_content())
        screens_pass_axe(pad)

        insert(lab, card)
        someone.authorize()
        confirm = pad.locator("#confirm")
        confirm.wait_for(state="visible", timeout=20_000)  # the last try: a decision before any PIN field
        assert pad.locator("#pin").is_hidden()
        screens_pass_axe(pad)
        pad.get_by_role("button", name=words["continue"], exact=True).tap()

        pad.locator("#pin").wait_for(state="visible", timeout=20_000)
        state = pad.evaluate("fetch('/pinpad/state').then((answer) => answer.json())")
        headline = state["headline_ja" if lang == "ja" else "headline"]  # a CIBA request's binding message is in it
        assert pad.text_content("#pin-headline") == headline
        assert pad.text_content("#tries") == "1"  # before the first digit
        assert "1" in str(pad.text_content("#status"))  # and announced
        assert pad.text_content("#count") == ""
        keys = pad.locator("#pin .keys:not([hidden]) button, #pin .pad-actions button")
        assert keys.count() == 14  # 0-9, delete, clear, OK, cancel
        for index in range(keys.count()):
            box = keys.nth(index).bounding_box()
            assert box["width"] >= 64, keys.nth(index).get_attribute("aria-label")
            assert box["height"] >= 64, keys.nth(index).get_attribute("aria-label")
            assert keys.nth(index).get_attribute("aria-label") or keys.nth(index).text_content()
        for digit in AUTH_PIN + "9":  # one digit too many: refused by its format, no try spent
            pad.locator(f'#pin button[data-key="{digit}"]').tap()
        pad.get_by_role("button", name=words["ok"], exact=True).tap()
        pad.locator("#error").wait_for(state="visible")
        assert pad.text_content("#count") == ""
        assert json.loads(card.state_path.read_text())["0018"] == 1
        pad.locator('#pin button[data-key="9"]').tap()
        pad.get_by_role("button", name=words["delete"]).tap()
        assert pad.text_content("#count") == ""
        by_touch = AUTH_PIN if lang == "ja" else AUTH_PIN[:2]
        for count, digit in enumerate(by_touch, start=1):
            pad.locator(f'#pin button[data-key="{digit}"]').tap()
            assert str(count) in str(pad.text_content("#count"))
            nothing_shows_the_pin(pad)
        screens_pass_axe(pad)
        if lang == "ja":
            pad.get_by_role("button", name=words["ok"], exact=True).tap()
        else:  # a keyboard still works while a key of the pad has the focus
            pad.keyboard.type(AUTH_PIN[2:])
            nothing_shows_the_pin(pad)
            pad.keyboard.press("Enter")

        remove = pad.locator("#remove")
        remove.wait_for(state="visible", timeout=30_000)  # the login is over: the card must go first
        assert words["done"] in str(pad.text_content("#outcome"))
        assert words["remove"] in str(pad.text_content("#status"))
        screens_pass_axe(pad)
        someone.page.wait_for_url("**/consent", timeout=30_000)
        lab.remove()
        start.wait_for(state="visible", timeout=10_000)  # the next person's start screen
        assert words["start"] in str(pad.text_content("#status"))
        assert remove.is_hidden()
    finally:
        someone.close()
