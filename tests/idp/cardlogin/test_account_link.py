"""One person, one account, through the real parts (pcscd + the virtual card + the card agent + the provider): an
authentication-key login at two clients, then "link my card" (both PINs on the agent's PIN pad, both keys sign one
challenge in one card session), then authentication- and signing-key logins give the SAME pairwise ``sub`` per
client and different ``sub``s across clients; verification-only ``verified_claims`` at a later authentication-key
login names the linked signing certificate; a link of a key already in another account, a second signature over
another challenge, or a link field outside a link login are refused and nothing is merged; the operator's
``idp accounts unlink`` gives the signing key its own earlier ``sub`` back while the authentication key keeps the
account's, and a second unlink or an unlink of the account's first key is refused with its reason."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509

from cardreader.virtual.lab import PcscLab
from cardreader.virtual.profile import CardProfile, create_profile
from idp.login.authenticator import ACR_SIGN
from keys.cardlogin import LoginMessage, account_id_for, encode_login_message
from keys.jose.b64 import b64url_decode_loose as b64decode
from keys.jose.b64 import b64url_encode as b64url
from keys.x509.profile import Purpose

from .conftest import AUTH_PIN, NOW, SIGN_PASSWORD, Agent, Pki, Provider, insert, running_agent
from .test_end_to_end import Browser, _sign

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]
RP1 = "https://rp1.example/cb"
RP2 = "https://rp2.example/cb"
VERIFICATION_ONLY = {"id_token": {"verified_claims": {
    "verification": {"trust_framework": None, "evidence": [{"type": {"value": "electronic_signature"},
                                                             "issuer": None, "serial_number": None,
                                                             "created_at": None}]},
    "claims": {}}}}


@pytest.fixture(scope="module")
def agent(provider: Provider, lab: PcscLab, agent_port: int, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Agent]:
    """The module's card agent, waiting up to 30 s for a card: the renewal's second card is placed within that (the
    shared agent's 5 s is less than a card swap takes on a loaded machine: the old card's process stopped, a new one
    started and seen by pcscd)."""
    log = tmp_path_factory.mktemp("agent") / "agent.log"
    with running_agent(provider, lab, agent_port, log, "--card-timeout", "30") as running:
        yield running


@pytest.fixture(scope="module")
def clients(provider: Provider) -> None:
    for client_id, uri in (("rp1", RP1), ("rp2", RP2)):
        provider.idp("clients", "add", client_id, "--redirect-uri", uri, "--auth-method", "none")


def answer_pins(agent: Agent, secrets: list[str], stop: threading.Event, seen: list[dict[str, Any]]) -> None:
    """The person at the reader: answers each PIN pad prompt in turn with the next of ``secrets``."""
    answered: set[str] = set()
    while not stop.is_set() and secrets:
        state = httpx.get(f"{agent.url}/pinpad/state", headers={"Origin": agent.url}).json()
        if state["prompt"] is not None and state["prompt"] not in answered:
            seen.append(state)
            answered.add(state["prompt"])
            httpx.post(f"{agent.url}/pinpad/answer", json={"prompt": state["prompt"], "pin": secrets.pop(0)},
                       headers={"Origin": agent.url})
        time.sleep(0.05)


def login(browser: Browser, agent: Agent, client_id: str, secrets: list[str], *, link: bool = False,
          approve: tuple[str, ...] | None = None, **params: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A whole login through the agent (as the page's script drives it): the ID token's claims, the prompts."""
    uid, verifier = browser.authorize(client_id, "openid", prompt="login", **params)
    page = browser.http.get(f"/interaction/{uid}" + ("?link=1" if link else ""))
    ticket = {"token": browser.check_login_page(page)["token"]}
    assert ('id="link-mode"' in page.text) is link
    started = httpx.post(f"{agent.url}/v1/login", json=ticket, headers={"Origin": browser.provider.url}, timeout=10)
    assert started.status_code == 202, started.text
    stop, seen = threading.Event(), []  # type: ignore[var-annotated]
    person = threading.Thread(target=answer_pins, args=(agent, list(secrets), stop, seen), daemon=True)
    person.start()
    try:
        status = browser.wait_status(uid, timeout=60)
    finally:
        stop.set()
    assert status["state"] == "verified", (status, agent.log.read_text()[-2000:])
    code = browser.follow_to_code(browser.finish(uid), approve)
    return browser.tokens(client_id, code, verifier)["claims"], seen


def test_auth_link_auth_at_two_clients(provider: Provider, agent: Agent, lab: PcscLab, pki: Pki,
                                       clients: None) -> None:
    insert(lab, pki.adult)
    browser = Browser.open(provider)
    before = {rp: login(browser, agent, rp, [AUTH_PIN])[0]["sub"] for rp in ("rp1", "rp2")}
    assert before["rp1"] != before["rp2"]
    sign_alone = login(browser, agent, "rp1", [SIGN_PASSWORD], acr_values=ACR_SIGN)[0]["sub"]
    assert sign_alone != before["rp1"]  # two keys, two accounts before the link

    claims, prompts = login(browser, agent, "rp1", [AUTH_PIN, SIGN_PASSWORD], link=True)
    assert [p["key"] for p in prompts] == ["auth", "sign"]  # both PINs, each with its own prompt and rules
    assert all("結び付け" in p["headline_ja"] for p in prompts)
    assert claims["sub"] == before["rp1"]  # the first key's account keeps its sub

    for rp in ("rp1", "rp2"):
        assert login(browser, agent, rp, [AUTH_PIN])[0]["sub"] == before[rp]
        assert login(browser, agent, rp, [SIGN_PASSWORD], acr_values=ACR_SIGN)[0]["sub"] == before[rp]

    # later, an everyday PIN login tells (with consent) that the account was verified with the signing certificate
    claims, prompts = login(browser, agent, "rp2", [AUTH_PIN], claims=json.dumps(VERIFICATION_ONLY),
                            approve=("verified_claims",))
    assert [p["key"] for p in prompts] == ["auth"]
    assert claims["sub"] == before["rp2"]
    evidence = claims["verified_claims"]["verification"]["evidence"][0]
    certificate = x509.load_der_x509_certificate(pki.adult.certificate("sign_certificate"))
    assert evidence["serial_number"] == str(certificate.serial_number)
    assert evidence["issuer"] == certificate.issuer.rfc4514_string()
    assert "claims" not in claims["verified_claims"] or not claims["verified_claims"]["claims"]
    assert not {"name", "address"} & claims.keys()


def _fields(api: httpx.Client, ticket: dict[str, str], provider: Provider) -> tuple[dict[str, Any], LoginMessage]:
    fields = api.post("/card-login/challenge", json=ticket).json()
    message = LoginMessage(provider.url, fields["interaction"], b64decode(fields["challenge"]),
                           dt.datetime.fromtimestamp(fields["issued_at"], dt.UTC), Purpose(fields["key"]))
    return fields, message


def test_bad_links_are_refused_and_nothing_is_merged(provider: Provider, lab: PcscLab, pki: Pki, clients: None,
                                                     tmp_path: Path) -> None:
    other = create_profile(tmp_path / "other" / "card.json", pki_dir=pki.directory, now=NOW, auth_pin=AUTH_PIN,
                           sign_password=SIGN_PASSWORD)
    api = httpx.Client(base_url=provider.url, timeout=20)

    def link_attempt(card: CardProfile, sign_card: CardProfile, *, other_challenge: bool = False,
                     link: bool = True) -> httpx.Response:
        browser = Browser.open(provider)
        uid, _ = browser.authorize("rp1", "openid", prompt="login")
        ticket = {"token": browser.check_login_page(browser.http.get(f"/interaction/{uid}?link=1"
                                                                     if link else f"/interaction/{uid}"))["token"]}
        fields, message = _fields(api, ticket, provider)
        assert (fields.get("link") == "card") is link
        insert(lab, card)
        certificate, signature = _sign(lab, encode_login_message(message), tmp_path)
        sign_message = LoginMessage(message.issuer, message.interaction,
                                    bytes(32) if other_challenge else message.challenge, message.issued_at,
                                    Purpose.SIGN)
        insert(lab, sign_card)
        sign_cert, sign_sig = _sign(lab, encode_login_message(sign_message), tmp_path, "sign", SIGN_PASSWORD)
        return api.post("/card-login/response", json={
            **ticket, "challenge": fields["challenge"], "certificate": b64url(certificate),
            "signature": b64url(signature),
            "link": {"certificate": b64url(sign_cert), "signature": b64url(sign_sig)}})

    refused = link_attempt(pki.adult, pki.adult, other_challenge=True)
    assert (refused.status_code, refused.json()["error"]) == (400, "bad_signature")
    assert link_attempt(pki.adult, pki.adult, link=False).json()["error"] == "bad_request"
    # the adult's signing key is in the adult's account (the first test linked it): another card cannot take it
    refused = link_attempt(other, pki.adult)
    assert (refused.status_code, refused.json()["error"]) == (409, "link_refused")
    assert "key_already_linked" in refused.json()["message"]
    refused = link_attempt(pki.revoked, pki.revoked)
    assert (refused.status_code, refused.json()["error"]) == (403, "certificate_revoked")
    # the other card's own two keys do link
    assert link_attempt(other, other).json() == {"status": "verified"}


def test_renewal_without_an_operator_by_consent(provider: Provider, agent: Agent, lab: PcscLab, pki: Pki,
                                                clients: None, tmp_path: Path) -> None:
    """The consent path: in one "link" session the still-valid old card signs, then the renewed card signs the same
    challenge; the renewed card then logs in to the old account (same sub at both clients)."""
    old = create_profile(tmp_path / "old" / "card.json", pki_dir=pki.directory, now=NOW, auth_pin=AUTH_PIN,
                         sign_password=SIGN_PASSWORD, not_before=NOW - dt.timedelta(days=4 * 365))
    renewed = create_profile(tmp_path / "new" / "card.json", pki_dir=pki.directory, now=NOW, auth_pin=AUTH_PIN,
                             sign_password=SIGN_PASSWORD)
    browser = Browser.open(provider)
    insert(lab, old)
    before = {rp: login(browser, agent, rp, [AUTH_PIN])[0]["sub"] for rp in ("rp1", "rp2")}

    uid, verifier = browser.authorize("rp1", "openid", prompt="login")
    page = browser.http.get(f"/interaction/{uid}?link=renewal")
    assert 'id="renewal-mode"' in page.text
    ticket = {"token": browser.check_login_page(page)["token"]}
    started = httpx.post(f"{agent.url}/v1/login", json=ticket, headers={"Origin": provider.url}, timeout=10)
    job = started.json()["login"]
    seen: list[dict[str, Any]] = []

    def pinpad(expected_card: CardProfile | None) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = httpx.get(f"{agent.url}/pinpad/state", headers={"Origin": agent.url}).json()
            if state["prompt"] is not None and state["prompt"] not in [s["prompt"] for s in seen]:
                seen.append(state)
                httpx.post(f"{agent.url}/pinpad/answer", json={"prompt": state["prompt"], "pin": AUTH_PIN},
                           headers={"Origin": agent.url})
                return
            time.sleep(0.05)
        raise AssertionError("no PIN prompt")

    pinpad(old)
    deadline = time.monotonic() + 30  # the old card has signed: the agent waits for the renewed one
    while httpx.get(f"{agent.url}/v1/login/{job}", headers={"Origin": provider.url}).json()["state"] \
            != "waiting_for_card" and time.monotonic() < deadline:
        time.sleep(0.05)
    insert(lab, renewed)
    pinpad(renewed)
    assert browser.wait_status(uid, timeout=60)["state"] == "verified", agent.log.read_text()[-2000:]
    assert ["今お使いのカード" in seen[0]["headline_ja"], "新しいカード" in seen[1]["headline_ja"]] == [True, True]
    code = browser.follow_to_code(browser.finish(uid))
    assert browser.tokens("rp1", code, verifier)["claims"]["sub"] == before["rp1"]
    # the renewed card alone now reaches the old account at every client
    for rp in ("rp1", "rp2"):
        assert login(browser, agent, rp, [AUTH_PIN])[0]["sub"] == before[rp]


def test_operator_unlinks_the_signing_key(provider: Provider, agent: Agent, lab: PcscLab, pki: Pki, clients: None,
                                          tmp_path: Path) -> None:
    person = create_profile(tmp_path / "person" / "card.json", pki_dir=pki.directory, now=NOW, auth_pin=AUTH_PIN,
                            sign_password=SIGN_PASSWORD)
    key_id = {purpose: account_id_for(x509.load_der_x509_certificate(person.certificate(f"{purpose.value}_certificate"))
                                      .public_key(), purpose)  # type: ignore[arg-type]
              for purpose in (Purpose.AUTH, Purpose.SIGN)}
    insert(lab, person)
    browser = Browser.open(provider)
    auth_sub = login(browser, agent, "rp1", [AUTH_PIN])[0]["sub"]
    sign_own_sub = login(browser, agent, "rp1", [SIGN_PASSWORD], acr_values=ACR_SIGN)[0]["sub"]
    assert login(browser, agent, "rp1", [AUTH_PIN, SIGN_PASSWORD], link=True)[0]["sub"] == auth_sub
    assert login(browser, agent, "rp1", [SIGN_PASSWORD], acr_values=ACR_SIGN)[0]["sub"] == auth_sub

    shown = json.loads(provider.idp("accounts", "show", "--key-id", key_id[Purpose.SIGN]).stdout)
    assert (shown["account"], shown["linked"]) == (key_id[Purpose.AUTH], True)
    assert [(k["key_id"], k["first"], k["via"]) for k in shown["keys"]] == [
        (key_id[Purpose.AUTH], True, "card"), (key_id[Purpose.SIGN], False, "card")]
    assert all(k.keys() == {"key_id", "first", "via", "linked_at"} for k in shown["keys"])  # nothing personal

    unlinked = json.loads(provider.idp("accounts", "unlink", "--key-id", key_id[Purpose.SIGN]).stdout)
    assert unlinked == {"unlinked": key_id[Purpose.SIGN], "account": key_id[Purpose.AUTH]}
    assert login(browser, agent, "rp1", [SIGN_PASSWORD], acr_values=ACR_SIGN)[0]["sub"] == sign_own_sub
    assert login(browser, agent, "rp1", [AUTH_PIN])[0]["sub"] == auth_sub
    shown = json.loads(provider.idp("accounts", "show", "--key-id", key_id[Purpose.SIGN]).stdout)
    assert (shown["account"], shown["linked"], shown["keys"]) == (key_id[Purpose.SIGN], False, [])

    for purpose, reason in ((Purpose.SIGN, "not_linked"), (Purpose.AUTH, "first_key")):
        with pytest.raises(subprocess.CalledProcessError) as refused:
            provider.idp("accounts", "unlink", "--key-id", key_id[purpose])
        assert (refused.value.returncode, f"unlink refused: {reason}" in refused.value.stderr) == (1, True)
    trail = [json.loads(line) for line in provider.idp("audit", "export").stdout.splitlines()]
    unlinks = [entry["fields"] for entry in trail if entry["type"] == "card_unlink"]
    assert [(f["outcome"], f.get("reason"), f["actor"]) for f in unlinks] == [
        ("success", None, "cli"), ("refused", "not_linked", "cli"), ("refused", "first_key", "cli")]
    assert unlinks[0]["key_ref"] == unlinks[1]["key_ref"] != unlinks[2]["key_ref"]
    assert not any(key in line for key in key_id.values() for line in map(json.dumps, trail))  # references only
