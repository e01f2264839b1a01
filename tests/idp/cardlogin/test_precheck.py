"""Telling the person before the PIN (issue 14 item 6): the agent reads the card's certificate (free), the provider
checks its path and revocation (``POST /card-login/precheck``), and a card or a provider that cannot log in is
reported on the agent's job, the login's status and the PIN pad before any PIN is asked for.

Real parts: ``idp serve``, the card agent, pcscd with the virtual card, whose APDU trace shows what the card was
sent (a VERIFY carrying a PIN is traced as ``00 20 00 80 <pin>``; the empty VERIFY that reads the tries left is
free). The agent-facing endpoint's bad input is sent over real HTTP with the test playing the agent.
"""

from __future__ import annotations

import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from cardreader.virtual.lab import PcscLab
from cardreader.virtual.profile import CardProfile
from keys.jose.b64 import b64url_encode as b64url
from tests.support import vectors
from tests.support.processes import free_port

from .conftest import AUTH_PIN, Agent, Pki, Provider, insert, running_agent, running_provider
from .test_end_to_end import RP1, Browser, agent_login, answer_pinpad, check_logs

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]
PIN_VERIFY = "C: 00 20 00 80 <pin>"
SIGNATURE = "C: 80 2A 00 80"  # COMPUTE DIGITAL SIGNATURE


@pytest.fixture(scope="module")
def agent(provider: Provider, lab: PcscLab, agent_port: int, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Agent]:
    """The module's card agent, waiting up to 30 s for a card (a renewal's card swap takes longer than 5 s on a
    loaded machine)."""
    log = tmp_path_factory.mktemp("agent") / "agent.log"
    with running_agent(provider, lab, agent_port, log, "--card-timeout", "30") as running:
        yield running


@pytest.fixture(scope="module")
def client(provider: Provider) -> str:
    provider.idp("clients", "add", "rp1", "--redirect-uri", RP1, "--auth-method", "none")
    return "rp1"


def _trace(lab: PcscLab, profile: CardProfile, tmp_path: Path) -> Path:
    """``profile``'s card (a copy with its own counters) in the reader, its APDUs traced to the returned file."""
    apdu_log = tmp_path / f"apdu-{secrets.token_hex(4)}.log"
    insert(lab, profile.copy_to(tmp_path / secrets.token_hex(4) / "card.json"), apdu_log=apdu_log)
    return apdu_log


def _login(provider: Provider, agent: Agent) -> tuple[Browser, str, dict[str, Any]]:
    """An auth-cert login started by the page and run by the agent; a person stands at the PIN pad ready to type
    the right PIN the moment it is asked for (so a missing precheck shows as a PIN sent to the card)."""
    browser = Browser.open(provider)
    uid, _ = browser.authorize("rp1", "openid", prompt="login")
    view = agent_login(agent, provider, {"token": browser.login_page(uid)["token"]}, AUTH_PIN)
    return browser, uid, view


def _refused_before_the_pin(provider: Provider, agent: Agent, apdu_log: Path, error: str, words: str) -> None:
    browser, uid, view = _login(provider, agent)
    assert view["state"] == "failed", view
    assert view["error"]["reason"] == error
    assert words in view["error"]["message_ja"] + view["error"]["message"]
    status = browser.wait_status(uid)  # the login page's view (also for a cross-device login)
    assert status["state"] == "failed"
    assert status["error"]["error"] == error
    notice = httpx.get(f"{agent.url}/pinpad/state", headers={"Origin": agent.url}).json()["notice"]
    assert notice == {"message": view["error"]["message"], "message_ja": view["error"]["message_ja"]}
    trace = apdu_log.read_text()
    assert "C: 00 20 00 80\n" in trace  # the card was read (the tries left: the free, empty VERIFY)
    assert PIN_VERIFY not in trace
    assert "<pin>" not in trace
    assert SIGNATURE not in trace
    assert browser.finish(uid) == f"/interaction/{uid}"  # no login: back to the login page


def test_a_good_card_logs_in_after_the_precheck(provider: Provider, agent: Agent, lab: PcscLab, pki: Pki,
                                                client: str, tmp_path: Path) -> None:
    apdu_log = _trace(lab, pki.adult, tmp_path)
    browser, uid, view = _login(provider, agent)
    assert view["state"] == "done", view
    assert browser.wait_status(uid)["state"] == "verified"
    assert apdu_log.read_text().count(PIN_VERIFY) == 1
    assert "card_login_precheck_passed" in provider.log.read_text()


def test_a_revoked_card_is_reported_before_the_pin(provider: Provider, agent: Agent, lab: PcscLab, pki: Pki,
                                                   client: str, tmp_path: Path) -> None:
    _refused_before_the_pin(provider, agent, _trace(lab, pki.revoked, tmp_path), "certificate_revoked", "失効")


def test_an_expired_card_is_reported_before_the_pin(provider: Provider, agent: Agent, lab: PcscLab, pki: Pki,
                                                    client: str, tmp_path: Path) -> None:
    _refused_before_the_pin(provider, agent, _trace(lab, pki.expired, tmp_path), "certificate_expired", "有効期限")


def test_a_link_login_with_a_revoked_card_stops_before_both_pins(provider: Provider, agent: Agent, lab: PcscLab,
                                                                  pki: Pki, client: str, tmp_path: Path) -> None:
    apdu_log = _trace(lab, pki.revoked, tmp_path)
    browser = Browser.open(provider)
    uid, _ = browser.authorize("rp1", "openid", prompt="login")
    page = browser.http.get(f"/interaction/{uid}?link=1")
    view = agent_login(agent, provider, {"token": browser.check_login_page(page)["token"]}, AUTH_PIN)
    assert (view["state"], view["error"]["reason"]) == ("failed", "certificate_revoked")
    assert browser.wait_status(uid)["error"]["error"] == "certificate_revoked"
    assert "<pin>" not in apdu_log.read_text()


def test_a_revoked_renewed_card_stops_before_its_pin(provider: Provider, agent: Agent, lab: PcscLab, pki: Pki,
                                                     client: str, tmp_path: Path) -> None:
    """A renewal: the old card (good) signs with its PIN; the card placed next is revoked, and is reported before its
    own PIN is asked for."""
    old_log = _trace(lab, pki.adult, tmp_path)
    browser = Browser.open(provider)
    uid, _ = browser.authorize("rp1", "openid", prompt="login")
    page = browser.http.get(f"/interaction/{uid}?link=renewal")
    started = httpx.post(f"{agent.url}/v1/login", json={"token": browser.check_login_page(page)["token"]},
                         headers={"Origin": provider.url}, timeout=10)
    job = f"{agent.url}/v1/login/{started.json()['login']}"
    stop = threading.Event()
    person = threading.Thread(target=answer_pinpad, args=(agent, AUTH_PIN, stop), daemon=True)
    person.start()
    try:  # the old card's PIN typed first: the login also waits for a card (the old one) before its first prompt
        person.join(timeout=30)
        assert not person.is_alive(), agent.log.read_text()[-2000:]
    finally:
        stop.set()
    deadline = time.monotonic() + 30  # the old card has signed: the agent waits for the renewed one
    while httpx.get(job, headers={"Origin": provider.url}).json()["state"] != "waiting_for_card":
        assert time.monotonic() < deadline, agent.log.read_text()[-2000:]
        time.sleep(0.05)
    assert old_log.read_text().count("<pin>") == 1
    new_log = _trace(lab, pki.revoked, tmp_path)
    stop = threading.Event()
    person = threading.Thread(target=answer_pinpad, args=(agent, AUTH_PIN, stop), daemon=True)
    person.start()  # ready to type the moment a second PIN is asked for
    try:
        status = browser.wait_status(uid, timeout=60)
    finally:
        stop.set()
    assert (status["state"], status["error"]["error"]) == ("failed", "certificate_revoked")
    deadline = time.monotonic() + 10
    while (view := httpx.get(job, headers={"Origin": provider.url}).json())["state"] != "failed":
        assert time.monotonic() < deadline, view
        time.sleep(0.05)
    assert view["error"]["reason"] == "certificate_revoked"
    assert "<pin>" not in new_log.read_text()


@contextmanager
def _separate(lab: PcscLab, pki: Pki, base: Path, **env: str) -> Iterator[tuple[Provider, Agent]]:
    """A provider of its own (``env`` on top of the usual settings) with its own agent and client."""
    port = free_port()
    base.mkdir(parents=True)
    with running_provider(base, pki, port, **env) as provider, \
            running_agent(provider, lab, port, base / "agent.log", "--test-mode") as agent:
        provider.idp("clients", "add", "rp1", "--redirect-uri", RP1, "--auth-method", "none")
        yield provider, agent


@pytest.mark.parametrize(("env", "error", "words"), [
    ({"MYNACARD_CARD_LOGIN_CRL_DIR": "{empty}"}, "revocation_unavailable", "確認できない"),
    ({"MYNACARD_CARD_LOGIN_TRUST_DIR": ""}, "card_login_unavailable", "ご利用いただけません"),
    ({"MYNACARD_TEST_MODE": "", "MYNACARD_CARD_LOGIN_TRUST_DIR": "{jlis}"}, "certificate_untrusted", "発行元"),
], ids=["no-fresh-crl", "no-trust", "test-roots-refused"])
def test_a_provider_that_cannot_verify_cards_says_so_before_the_pin(lab: PcscLab, pki: Pki, tmp_path: Path,
                                                                    env: dict[str, str], error: str,
                                                                    words: str) -> None:
    """No fresh CRL; no trust directory; not in test mode, so the card's test root is refused (J-LIS's roots are
    trusted, so card login itself can run)."""
    empty, jlis = tmp_path / "no-crls", tmp_path / "jlis-trust"
    empty.mkdir()
    roots = sorted(vectors.jlis_roots().glob("*.pem"))
    if "{jlis}" in env.values() and not roots:
        pytest.skip("needs the J-LIS root certificates of the shared vectors")
    shutil.copytree(pki.trust, jlis)
    for root in roots:
        shutil.copy(root, jlis / root.name)
    settings = {name: value.format(empty=empty, jlis=jlis) for name, value in env.items()}
    apdu_log = _trace(lab, pki.adult, tmp_path)
    with _separate(lab, pki, tmp_path / "p", **settings) as (provider, agent):
        _refused_before_the_pin(provider, agent, apdu_log, error, words)


# --- the endpoint's bad input, with the test playing the agent ------------------------------------------------------


def _ticket_and_challenge(provider: Provider) -> tuple[Browser, str, dict[str, str], str]:
    browser = Browser.open(provider)
    uid, _ = browser.authorize("rp1", "openid", prompt="login")
    ticket = {"token": browser.login_page(uid)["token"]}
    challenge = httpx.post(f"{provider.url}/card-login/challenge", json=ticket).json()["challenge"]
    return browser, uid, ticket, str(challenge)


def test_precheck_answers_for_a_live_ticket_and_challenge_only(provider: Provider, pki: Pki, client: str) -> None:
    browser, uid, ticket, challenge = _ticket_and_challenge(provider)
    auth = b64url(pki.adult.certificate("auth_certificate"))

    def precheck(body: object, **kwargs: Any) -> httpx.Response:
        return httpx.post(f"{provider.url}/card-login/precheck", json=body, **kwargs)

    def refused(answer: httpx.Response, status: int, error: str) -> None:
        assert (answer.status_code, answer.json()["error"]) == (status, error), answer.text
        assert answer.json()["message_ja"]
        assert answer.headers["cache-control"] == "no-store"

    good = {**ticket, "challenge": challenge, "certificate": auth}
    refused(httpx.post(f"{provider.url}/card-login/precheck", content=b"{", headers={
        "Content-Type": "application/json"}), 400, "bad_request")
    refused(precheck({"challenge": challenge, "certificate": auth}), 400, "bad_request")  # no ticket
    refused(precheck({**good, "token": b64url(secrets.token_bytes(32))}), 404, "unknown_login")
    refused(precheck({**ticket, "certificate": auth}), 400, "bad_request")  # no challenge
    refused(precheck({**good, "challenge": challenge[:20]}), 400, "bad_request")  # not 32 octets
    refused(precheck({**good, "challenge": "not base64url!"}), 400, "bad_request")
    refused(precheck({**good, "challenge": b64url(secrets.token_bytes(32))}), 400, "challenge_invalid")
    refused(precheck({**good, "key": "sign"}), 400, "bad_request")  # not this login's key
    refused(precheck({**good, "key": "generic"}), 400, "bad_request")
    refused(precheck({**good, "key": ["auth"]}), 400, "bad_request")
    refused(precheck({**good, "certificate": "***"}), 400, "bad_request")
    refused(precheck({**good, "certificate": 5}), 400, "bad_request")
    refused(precheck({**good, "certificate": b64url(b"\x30\x03\x02\x01\x01")}), 400, "bad_request")  # not X.509
    too_large = precheck({**good, "padding": "x" * 40_000})
    assert too_large.status_code in (400, 413)
    assert browser.http.get(f"/interaction/{uid}/card/status").json()["state"] == "pending"  # bad input fails nothing
    # the card's own certificate passes, as often as asked, and uses nothing up: the challenge still signs a login
    for _ in range(2):
        assert precheck(good).json() == {"status": "ok"}
    assert precheck({**ticket, "challenge": challenge}).json() == {"status": "ok"}  # no certificate: can run at all
    assert httpx.post(f"{provider.url}/card-login/response", json={
        **good, "signature": b64url(b"\x00" * 256)}).json()["error"] == "bad_signature"  # the challenge was live
    refused(precheck(good), 400, "challenge_invalid")  # ... and is used up now


def test_precheck_refusals_are_typed_and_fail_the_login(provider: Provider, pki: Pki, client: str) -> None:
    cases = [(pki.adult.certificate("sign_certificate"), "certificate_wrong_kind"),
             (pki.revoked.certificate("auth_certificate"), "certificate_revoked"),
             (pki.expired.certificate("auth_certificate"), "certificate_expired")]
    for certificate, error in cases:
        browser, uid, ticket, challenge = _ticket_and_challenge(provider)
        answer = httpx.post(f"{provider.url}/card-login/precheck", json={
            **ticket, "challenge": challenge, "certificate": b64url(certificate)})
        assert (answer.status_code, answer.json()["error"]) == (403, error)
        status = browser.wait_status(uid)
        assert status["state"] == "failed"
        assert status["error"] == answer.json()
    log = provider.log.read_text()
    assert "card_login_precheck_refused" in log
    for certificate, _ in cases:  # the certificate is not kept in the log, in any form
        assert b64url(certificate)[200:260] not in log
        assert certificate.hex()[600:680] not in log


def test_no_pin_no_basic_fact_and_no_certificate_in_any_log_line(provider: Provider, agent: Agent, pki: Pki) -> None:
    """Keep last: it reads everything the module's logins and prechecks wrote."""
    check_logs(provider, agent)
    logs = provider.log.read_text(encoding="utf-8") + agent.log.read_text(encoding="utf-8")
    for certificate in (pki.adult.certificate("auth_certificate"), pki.revoked.certificate("auth_certificate")):
        assert b64url(certificate)[200:260] not in logs
        assert certificate.hex()[600:680] not in logs
