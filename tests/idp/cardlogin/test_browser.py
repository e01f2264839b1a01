"""The card login as a person sees it, in headless Chromium (Debian's ``chromium``, driven by Playwright through
``executable_path``): the provider (``idp serve``), the card agent with its PIN pad page, the virtual card in a real
pcscd, all real processes over loopback HTTP. The relying party's redirect URI is answered inside the browser
(a small server on loopback), and the test redeems the code like the relying party would.

Checked: both ways in (the agent on this machine, and the cross-device code through the QR code's page), both
certificate types, consent given and refused, every card error shown on the page in words (no reader, no card,
wrong PIN with the tries left, blocked PIN, busy reader, expired and revoked certificates, revocation status
unavailable, a test root outside test mode), keyboard use, and axe-core with 0 violations on every page in
Japanese and English.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from cardreader.jpki import EF
from cardreader.virtual.lab import PcscLab
from cardreader.virtual.profile import CardProfile, StateFile
from tests.support import vectors
from tests.support.http import Peer, serve
from tests.support.processes import free_port

from .conftest import (
    AUTH_PIN,
    HOLDER,
    SIGN_PASSWORD,
    Agent,
    Pki,
    Provider,
    insert,
    running_agent,
    running_provider,
)
from .test_end_to_end import check_logs

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.pcsc, pytest.mark.slow]
CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).with_name("node_modules") / "axe-core" / "axe.min.js"

class _RelyingParty(Peer):
    """The relying party's redirect URI on loopback: answers any request with a small page."""

    def do_GET(self) -> None:
        self.answer(200, b"<!doctype html><html lang=en><title>RP</title><main>RP</main></html>", "text/html")


_RP_SERVER, _RP_URL = serve(_RelyingParty)
RP = f"{_RP_URL}/cb"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium (./dev setup installs it)")
    if not AXE.exists() and shutil.which("npm") is not None:  # the locked axe-core, as conformance does for its peers
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=AXE.parents[2], check=True,
                       capture_output=True, timeout=600)
    if not AXE.exists():
        pytest.skip("needs npm for axe-core (tests/idp/cardlogin/package-lock.json)")
    with playwright.sync_playwright() as p:
        running = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        yield running
        running.close()


@pytest.fixture(scope="module")
def client(provider: Provider) -> str:
    provider.idp("clients", "add", "rp1", "--redirect-uri", RP, "--auth-method", "none")
    return "rp1"


@pytest.fixture
def card(lab: PcscLab, pki: Pki) -> CardProfile:
    insert(lab, pki.adult)
    return pki.adult


class Person:
    """One person with one browser context (cookies, language): the login tab and, when asked, the PIN pad tab."""

    def __init__(self, browser: Any, provider: Provider, locale: str = "ja-JP") -> None:
        self.provider = provider
        self.context = browser.new_context(locale=locale, bypass_csp=True)  # bypass_csp: only for axe's injection
        self.page = self.context.new_page()
        self.verifier = ""

    def close(self) -> None:
        self.context.close()

    def authorize(self, scope: str = "openid", **extra: str) -> None:
        self.verifier = secrets.token_urlsafe(32)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(self.verifier.encode()).digest()).rstrip(b"=").decode()
        params = {"response_type": "code", "client_id": "rp1", "redirect_uri": RP, "scope": scope, "state": "st",
                  "nonce": "nn", "code_challenge": challenge, "code_challenge_method": "S256", "prompt": "login",
                  **extra}
        self.page.goto(f"{self.provider.url}/authorize?{urlencode(params)}")
        self.page.wait_for_url("**/interaction/*")

    def enter_pin(self, agent: Agent, secret: str) -> None:
        """Open the agent's PIN pad (as the login page's link does) and type the PIN with the keyboard."""
        link = self.page.locator("#pinpad-link")
        link.wait_for(state="visible", timeout=20_000)
        href = str(link.get_attribute("href"))
        page_language = self.page.evaluate("document.documentElement.lang")
        assert href == f"{agent.url}/pinpad?lang={'en' if page_language == 'en' else 'ja'}"  # the pad speaks it too
        pad = self.context.new_page()
        pad.goto(href)
        pad.locator("#secret").wait_for(state="visible", timeout=20_000)
        check_axe(pad)
        pad.keyboard.type(secret)
        pad.keyboard.press("Enter")
        pad.close()

    def at_pin_prompt(self) -> None:
        """Wait until the agent reports this login's PIN prompt open (the page shows that step's words). The PIN
        pad link appears earlier, as soon as the agent accepts the login, while the card is still being read."""
        self.page.wait_for_function(
            "() => { const r = document.querySelector('[data-step-waiting-for-pin]');"
            " return r !== null && document.getElementById('step').textContent === r.dataset.stepWaitingForPin; }",
            timeout=20_000)

    def error_text(self) -> str:
        error = self.page.locator("#error")
        error.wait_for(state="visible", timeout=30_000)
        assert self.page.get_attribute("#error", "role") == "alert"
        return str(error.text_content())

    def code(self) -> str:
        try:
            self.page.wait_for_url(RP + "*", timeout=30_000)
        except Exception:
            print(self.page.url, self.page.content())
            raise
        query = parse_qs(urlsplit(self.page.url).query)
        assert query["iss"] == [self.provider.url]
        return query["code"][0]

    def tokens(self) -> dict[str, Any]:
        answer = httpx.post(f"{self.provider.url}/token", data={
            "grant_type": "authorization_code", "code": self.code(), "redirect_uri": RP, "client_id": "rp1",
            "code_verifier": self.verifier})
        assert answer.status_code == 200, answer.text
        tokens = dict(answer.json())
        tokens["userinfo"] = httpx.get(f"{self.provider.url}/userinfo",
                                       headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
        return tokens


@contextmanager
def person(browser: Any, provider: Provider, locale: str = "ja-JP") -> Iterator[Person]:
    someone = Person(browser, provider, locale)
    try:
        yield someone
    finally:
        someone.close()


def check_axe(page: Any) -> None:
    """axe-core (WCAG 2.0/2.1 A and AA rules and best practices) finds nothing on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate("""async () => (await axe.run(document, {runOnly: {type: "tag",
        values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}})).violations
        .map(v => v.id + ": " + v.nodes.map(n => n.target.join(" ")).join(", "))""")
    assert violations == [], f"{page.url}: {violations}"


def logout(someone: Person, button: str) -> None:
    """RP-initiated logout with the session the login opened: the confirmation page, then the logged-out page."""
    page = someone.page
    page.goto(f"{someone.provider.url}/logout?client_id=rp1")
    check_axe(page)
    page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_load_state()
    assert page.locator("form").count() == 0
    check_axe(page)


# --- both ways in, both certificates, consent --------------------------------------------------------------------


def test_auth_cert_login_through_the_agent_in_japanese(browser: Any, provider: Provider, agent: Agent,
                                                        card: CardProfile, client: str) -> None:
    with person(browser, provider) as someone:
        someone.authorize()
        page = someone.page
        assert page.get_attribute("html", "lang") == "ja"
        assert page.locator("input[type=password]").count() == 0  # never a PIN field on the provider's page
        assert page.get_attribute("#step", "aria-live") == "polite"
        check_axe(page)
        someone.enter_pin(agent, AUTH_PIN)
        page.wait_for_url("**/consent", timeout=30_000)  # first time at this relying party: the identifier
        check_axe(page)
        page.get_by_role("button", name="許可する").click()
        tokens = someone.tokens()
        logout(someone, "ログアウトする")
    assert set(tokens["userinfo"]) == {"sub"}  # the auth certificate gives no personal data


def test_sign_cert_login_in_english_with_consent_by_keyboard(browser: Any, provider: Provider, agent: Agent,
                                                             card: CardProfile, client: str) -> None:
    with person(browser, provider, "en-US") as someone:
        someone.authorize("openid name birthdate address")
        page = someone.page
        assert page.get_attribute("html", "lang") == "en"
        assert "signing certificate" in str(page.text_content("main"))
        check_axe(page)
        someone.enter_pin(agent, SIGN_PASSWORD)
        page.wait_for_url("**/consent", timeout=30_000)
        assert page.get_attribute("html", "lang") == "en"
        check_axe(page)
        # keyboard only: tick name and birth date, leave the address, then Allow
        page.locator("input[value=name]").focus()
        page.keyboard.press("Space")
        page.keyboard.press("Tab")
        page.keyboard.press("Space")
        page.keyboard.press("Tab")  # the address stays unticked
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.value") == "allow"
        page.keyboard.press("Enter")
        tokens = someone.tokens()
        logout(someone, "Log out")
    userinfo = tokens["userinfo"]
    assert userinfo["name"] == HOLDER.name
    assert userinfo["birthdate"] == "2000-03-15"
    assert "address" not in userinfo


def test_consent_refused_tells_the_relying_party_access_denied(browser: Any, provider: Provider, agent: Agent,
                                                               card: CardProfile, client: str) -> None:
    with person(browser, provider, "en-US") as someone:
        # ui_locales wins over the browser's language
        someone.authorize("openid name", ui_locales="ja", prompt="login consent")
        assert someone.page.get_attribute("html", "lang") == "ja"
        someone.enter_pin(agent, SIGN_PASSWORD)
        someone.page.wait_for_url("**/consent", timeout=30_000)
        check_axe(someone.page)
        someone.page.get_by_role("button", name="拒否する").click()
        someone.page.wait_for_url(RP + "*", timeout=30_000)
        assert parse_qs(urlsplit(someone.page.url).query)["error"] == ["access_denied"]


def test_cross_device_login_through_the_qr_codes_page(browser: Any, provider: Provider, agent: Agent,
                                                      card: CardProfile, client: str) -> None:
    """The login page on one device; the QR code's page on the machine with the reader hands the code to the agent;
    the first page goes on by itself."""
    with person(browser, provider, "en-US") as first, person(browser, provider) as second:
        first.context.route(f"{agent.url}/**", lambda route: route.abort())  # no agent on the first device
        first.authorize()
        first.page.locator("#no-agent").wait_for(state="visible")
        code = str(first.page.text_content(".code"))
        check_axe(first.page)
        second.page.goto(f"{provider.url}/card-login/device#{code}")
        assert second.page.get_attribute("html", "lang") == "ja"
        check_axe(second.page)
        second.enter_pin(agent, AUTH_PIN)
        second.page.wait_for_function("document.getElementById('step').textContent.includes('もう一方の端末')",
                                      timeout=30_000)
        assert set(first.tokens()["userinfo"]) == {"sub"}


def test_a_page_of_another_origin_cannot_use_the_agent(browser: Any, provider: Provider, agent: Agent,
                                                       card: CardProfile) -> None:
    """A page that is not the provider's (here the relying party's origin) cannot start a login at the agent, nor
    read its state: the agent refuses the origin and the browser's CORS check blocks the answer."""
    with person(browser, provider) as someone:
        someone.page.goto(RP)
        outcome = someone.page.evaluate("""async (agent) => {
            const tried = async (path, init) => {
                try { return String((await fetch(agent + path, init)).status); } catch (e) { return "blocked"; } };
            return [await tried("/v1/status", {}),
                    await tried("/v1/login", {method: "POST", headers: {"Content-Type": "application/json"},
                                              body: JSON.stringify({token: "A".repeat(43)})})];
        }""", agent.url)
    assert outcome == ["blocked", "blocked"]
    assert "wrong_origin" in agent.log.read_text()


# --- card errors, each in words on the page ----------------------------------------------------------------------


def test_wrong_pin_then_blocked_pin(browser: Any, provider: Provider, agent: Agent, lab: PcscLab, pki: Pki,
                                    client: str, tmp_path: Path) -> None:
    card = pki.adult.copy_to(tmp_path / "wrong-pin" / "card.json")
    insert(lab, card)
    with person(browser, provider) as someone:
        someone.authorize()
        someone.enter_pin(agent, "0000")
        text = someone.error_text()
        assert "暗証番号が違います" in text
        assert "残り2回" in text
        assert text.startswith("エラー: ")  # said in words, not only by colour
        check_axe(someone.page)
        assert someone.page.evaluate("document.activeElement.id") == "retry"
    StateFile(card.state_path).save({EF.AUTH_PIN: 0, EF.SIGN_PIN: 5})
    insert(lab, card)
    with person(browser, provider, "en-US") as someone:
        someone.authorize()
        text = someone.error_text()  # no PIN is asked for
        assert "blocked" in text
        assert "municipal office" in text


def test_no_card_and_busy_reader(browser: Any, provider: Provider, agent: Agent, lab: PcscLab, pki: Pki,
                                 client: str) -> None:
    lab.remove()
    with person(browser, provider, "en-US") as someone:
        someone.authorize()
        assert "Please place your My Number card on the reader" in someone.error_text()
    with person(browser, provider) as first, person(browser, provider) as second:
        first.authorize()  # no card yet: the agent waits for one
        second.authorize()
        assert "別のログインが進行中" in second.error_text()
        assert "card" in first.error_text().lower() or "カード" in first.error_text()  # it gave up waiting
    insert(lab, pki.adult)
    with person(browser, provider) as first, person(browser, provider) as second:
        first.authorize()
        first.at_pin_prompt()  # left there (only an open PIN prompt is pre-empted; a card being read is busy)
        second.authorize()  # pre-empts the abandoned login (a PIN not yet given)
        assert "中止" in first.error_text()
        second.enter_pin(agent, AUTH_PIN)
        second.page.wait_for_url(lambda url: "/consent" in url or url.startswith(RP), timeout=30_000)
        if "/consent" in second.page.url:  # when this test runs alone
            second.page.get_by_role("button", name="許可する").click()
        second.code()


@contextmanager
def separate(lab: PcscLab, pki: Pki, base: Path, agent_options: tuple[str, ...] = (), **env: str
             ) -> Iterator[tuple[Provider, Agent]]:
    """A provider of its own (``env`` on top of the usual settings) with its own agent (``agent_options``)."""
    port = free_port()
    base.mkdir(parents=True)
    with running_provider(base, pki, port, **env) as provider, \
            running_agent(provider, lab, port, base / "agent.log", "--test-mode", *agent_options) as agent:
        provider.idp("clients", "add", "rp1", "--redirect-uri", RP, "--auth-method", "none")
        yield provider, agent


def test_no_reader(browser: Any, lab: PcscLab, pki: Pki, tmp_path: Path) -> None:
    with separate(lab, pki, tmp_path / "p", ("--reader", "No Such Reader")) as (provider, _), \
            person(browser, provider, "en-US") as someone:
        someone.authorize()
        assert "No card reader is connected" in someone.error_text()


@pytest.mark.parametrize(("which", "words"), [("revoked", "失効"), ("expired", "有効期限")])
def test_revoked_and_expired_certificates_are_refused(browser: Any, provider: Provider, agent: Agent, lab: PcscLab,
                                                      pki: Pki, client: str, which: str, words: str) -> None:
    """Said before any PIN is asked for (the provider's precheck of the certificate read free)."""
    insert(lab, getattr(pki, which))
    with person(browser, provider) as someone:
        someone.authorize()
        assert words in someone.error_text()
        check_axe(someone.page)
        someone.page.get_by_role("button", name="続ける").click()  # no login: back to the login page
        someone.page.wait_for_url("**/interaction/*")
        assert "/consent" not in someone.page.url
        assert not someone.page.url.startswith(RP)


def test_revocation_unavailable_and_test_roots_outside_test_mode(browser: Any, lab: PcscLab, pki: Pki,
                                                                tmp_path: Path) -> None:
    """A provider whose revocation source has nothing fresh, and one not in test mode (which refuses the test
    roots but admits J-LIS's): both refuse the login in words, before any PIN is asked for."""
    jlis = sorted(vectors.jlis_roots().glob("*.pem"))
    if not jlis:
        pytest.skip("needs the J-LIS root certificates of the shared vectors")
    insert(lab, pki.adult)
    empty = tmp_path / "no-crls"
    empty.mkdir()
    trust = tmp_path / "trust"
    shutil.copytree(pki.trust, trust)
    for root in jlis:
        shutil.copy(root, trust / root.name)
    cases = [({"MYNACARD_CARD_LOGIN_CRL_DIR": str(empty)}, "We cannot confirm right now"),
             ({"MYNACARD_TEST_MODE": "", "MYNACARD_CARD_LOGIN_TRUST_DIR": str(trust)}, "an issuer we do not trust")]
    for index, (env, words) in enumerate(cases):
        with separate(lab, pki, tmp_path / f"p{index}", **env) as (provider, _), \
                person(browser, provider, "en-US") as someone:
            someone.authorize()
            assert words in someone.error_text()


# --- the other pages, in both languages ---------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["ja-JP", "en-US"])
def test_error_logout_and_expired_pages_are_accessible(browser: Any, provider: Provider, client: str,
                                                       locale: str) -> None:
    lang = locale[:2]
    with person(browser, provider, locale) as someone:
        page = someone.page
        page.goto(f"{provider.url}/authorize?client_id=nobody&response_type=code&scope=openid")
        assert page.get_attribute("html", "lang") == lang
        check_axe(page)
        page.goto(f"{provider.url}/interaction/{'x' * 43}")  # an interaction this browser does not have
        assert page.get_attribute("html", "lang") == lang
        check_axe(page)
        page.goto(f"{provider.url}/logout")  # no session: the logged-out page
        assert page.get_attribute("html", "lang") == lang
        check_axe(page)
        page.goto(f"{provider.url}/card-login/device")
        check_axe(page)


# --- logs (keep last: it reads everything this module's logins wrote) --------------------------------------------


def test_no_pin_and_no_basic_fact_in_any_log_line_of_the_browser_logins(provider: Provider, agent: Agent) -> None:
    check_logs(provider, agent)
