"""The pages as a person sees them (issue 17), in headless Chromium against real processes (``idp serve``, the card
agent, the virtual card in pcscd, the relying party's logo on a loopback server):

* who is asking and why: the client's name in the page's language, its logo served by the provider, links to its
  privacy policy and terms, and its purpose of use beside the facts asked for;
* cross-device without a command line: the login page on a device without a reader shows a short code; the card
  agent's own page on the machine with the reader takes it; the first page moves on to the consent by itself;
* every page passes axe-core (WCAG 2.0/2.1 A and AA, best practices) with 0 violations in Japanese and English at
  360 px and 1280 px wide, and none is wider than the screen at 360 px.
"""

from __future__ import annotations

import base64
import hashlib
import io
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from PIL import Image

from cardreader.virtual.profile import CardProfile
from tests.idp.protocol.clientfixtures import LoopbackServer

from .conftest import AUTH_PIN, SIGN_PASSWORD, Agent, Provider
from .test_browser import RP, browser, card, check_axe, person

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]
__all__ = ["browser", "card"]  # the fixtures, shared with test_browser
WIDTHS = (360, 1280)
POLICY, TERMS = "https://shop.example.jp/privacy", "https://shop.example.jp/terms"
NAMES = {"ja": "サンプル商店", "en": "Example Shop"}
PURPOSES = {"ja": "会員登録の本人確認のため", "en": "To confirm who you are when you join"}


@pytest.fixture(scope="module")
def shop(provider: Provider) -> Iterator[str]:
    """A client with a name in two languages, a logo (on a loopback server, fetched once), policy, terms and
    purposes of use."""
    server = LoopbackServer()
    png = io.BytesIO()
    Image.new("RGB", (120, 60), (0, 23, 193)).save(png, format="PNG")
    logo = server.route("/logo.png", body=png.getvalue())
    try:
        provider.idp("clients", "add", "shop", "--redirect-uri", RP, "--auth-method", "none",
                     "--client-name", NAMES["en"], "--client-name", f"ja={NAMES['ja']}", "--logo-uri", logo,
                     "--policy-uri", POLICY, "--tos-uri", TERMS, "--purpose", f"name birthdate={PURPOSES['ja']}",
                     "--purpose", f"name birthdate#en={PURPOSES['en']}")
        assert len(server.received) == 1
        yield "shop"
    finally:
        server.close()


def check_page(page: Any) -> None:
    """axe-core finds nothing at each width, and nothing is wider than the screen."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        check_axe(page)
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, f"{page.url} is {overflow} px wide at {width} px"
    assert "python -m" not in page.content()  # no page tells a person to run a command


def check_client(page: Any, lang: str) -> None:
    """The client's name in the page's language, its logo (loaded from the provider), its policy and terms."""
    assert page.text_content(".client-name") == NAMES[lang]
    logo = page.locator(".client img")
    assert urlsplit(str(logo.get_attribute("src"))).path == "/clients/shop/logo"
    assert page.evaluate("document.querySelector('.client img').naturalWidth") > 0
    links = {page.locator(".client-links a").nth(i).get_attribute("href") for i in range(2)}
    assert links == {POLICY, TERMS}


@pytest.mark.parametrize("locale", ["ja-JP", "en-US"])
def test_cross_device_through_the_agents_page_shows_who_asks_and_why(
        browser: Any, provider: Provider, agent: Agent, card: CardProfile, shop: str, locale: str) -> None:
    lang = locale[:2]
    with person(browser, provider, locale) as first, person(browser, provider) as second:
        first.context.route(f"{agent.url}/**", lambda route: route.abort())  # no agent on the first device
        verifier = secrets.token_urlsafe(32)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = {"response_type": "code", "client_id": shop, "redirect_uri": RP, "scope": "openid name birthdate",
                 "state": "st", "nonce": "nn", "code_challenge": challenge, "code_challenge_method": "S256",
                 "prompt": "login consent"}  # consent asked again in the second language
        page = first.page
        page.goto(f"{provider.url}/authorize?{urlencode(query)}")
        page.locator("#no-agent").wait_for(state="visible")
        assert page.get_attribute("html", "lang") == lang
        check_client(page, lang)
        assert f"{agent.url.rsplit(':', 1)[0]}:" in str(page.text_content("#other-device + p"))  # the agent's page
        check_page(page)
        code = str(page.text_content(".code"))

        pad = second.page  # the machine with the reader: the agent's own page takes the code
        pad.goto(f"{agent.url}/")
        check_page(pad)
        pad.locator("#code").fill(code.lower())  # the login code (not the device code below it)
        pad.get_by_role("button", name="ログインを始める").click()
        pad.locator("#pinpad a").click()
        pad.locator("#secret").wait_for(state="visible", timeout=20_000)
        check_page(pad)
        pad.keyboard.type(SIGN_PASSWORD)
        pad.keyboard.press("Enter")

        page.wait_for_url("**/consent", timeout=30_000)  # the first device moved on by itself
        check_client(page, lang)
        claim = str(page.locator("label", has=page.locator("input[value=name]")).text_content())
        assert PURPOSES[lang] in claim
        check_page(page)
        page.locator("input[value=name]").check()
        page.locator("button[value=allow]").click()
        page.wait_for_url(RP + "*", timeout=30_000)
        issued = parse_qs(urlsplit(page.url).query)["code"][0]
    answer = httpx.post(f"{provider.url}/token", data={"grant_type": "authorization_code", "code": issued,
                                                       "redirect_uri": RP, "client_id": shop,
                                                       "code_verifier": verifier})
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("locale", ["ja-JP", "en-US"])
def test_the_other_pages_pass_axe_at_both_widths(browser: Any, provider: Provider, shop: str, locale: str) -> None:
    with person(browser, provider, locale) as someone:
        page = someone.page
        for path in ("/authorize?client_id=nobody&response_type=code&scope=openid",  # error
                     f"/interaction/{'x' * 43}",  # expired
                     "/logout",  # logged out
                     "/card-login/device"):
            page.goto(f"{provider.url}{path}")
            assert page.get_attribute("html", "lang") == locale[:2]
            check_page(page)


def test_a_device_code_on_the_agents_page_logs_the_device_in_with_this_reader(
        browser: Any, provider: Provider, agent: Agent, card: CardProfile, shop: str) -> None:
    """RFC 8628 §3.3 at a machine with a reader: the user code typed on the card agent's own page opens the provider's
    verification page, which names the device's service (§5.4) before the card login runs on this reader; the
    device then gets its tokens."""
    started = httpx.post(f"{provider.url}/device/auth", data={"client_id": shop, "scope": "openid"}, timeout=10)
    assert started.status_code == 200, started.text
    device = started.json()
    with person(browser, provider, "en-US") as someone:
        page = someone.page
        page.goto(f"{agent.url}/")
        page.locator("#device-code").fill(device["user_code"].lower())
        page.locator("#device-form button").click()
        page.wait_for_url(f"{provider.url}/device?user_code=*")
        assert page.input_value("#user_code") == device["user_code"]
        page.get_by_role("button", name="Next").click()
        page.locator("button[value=allow]").wait_for()
        check_client(page, "en")  # who asks, before anything happens
        check_page(page)
        page.locator("button[value=allow]").click()
        someone.enter_pin(agent, AUTH_PIN)  # scope openid: the authentication certificate
        done = "Please go back to the device"
        page.wait_for_function(f"document.body.innerText.includes({done!r}) || "
                               "document.querySelector('button[value=allow]') !== null", timeout=30_000)
        if page.locator("button[value=allow]").count():  # the consent page, when the client has not had it yet
            page.locator("button[value=allow]").click()
        page.get_by_text(done).wait_for(timeout=30_000)
    answer = httpx.post(f"{provider.url}/token", data={"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                                                       "device_code": device["device_code"], "client_id": shop})
    assert answer.status_code == 200, answer.text
    assert "id_token" in answer.json()
