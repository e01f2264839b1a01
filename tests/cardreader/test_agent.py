"""The card agent as a person and a login page use it: a real agent process on loopback, the real pcscd with
the virtual card, and a stand-in for the provider's two card-login endpoints that verifies with the real
:func:`keys.cardlogin.verify_card_login` (the provider itself is exercised end to end in tests/idp/cardlogin/).

Covered: CORS and origin gates, Host check, the per-interaction token, PIN pad answers only from the agent's
own page, tries read first, the last try needs confirmation, a refused PIN is never retried, kiosk mode waits
for the card's removal, the cross-device ``login --code`` command in a terminal, and no PIN in any log line.
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import json
import os
import pty
import re
import secrets
import select
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from cardreader.virtual.lab import PcscLab
from cardreader.virtual.profile import CardProfile
from keys.cardlogin import (
    CardLogin,
    LoginMessage,
    RevocationInputs,
    account_id_for,
    check_card_certificate,
    verify_card_login,
)
from keys.errors import VerificationError
from keys.jose.b64 import b64url_decode_loose as _b64
from keys.revocation import load_crl
from keys.testpki import TestPki
from keys.testpki.revocation import issue_crl
from keys.trust import TrustStore
from keys.x509.profile import Purpose
from tests.support.http import Peer, serve

from .conftest import AUTH_PIN, SIGN_PASSWORD, WRONG_PIN, Slot
from .test_no_pin_in_logs import forms

pytestmark = pytest.mark.pcsc
ROOT = Path(__file__).resolve().parents[2]


# --- a stand-in for the provider's card-login endpoints (see idp.endpoints.card_login) ---------------------------


@dataclass
class PendingLogin:
    key: Purpose
    code: str
    interaction: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    challenges: dict[str, dt.datetime] = field(default_factory=dict)
    fetches: int = 0
    verified: list[CardLogin] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: The keys the agent asked about before the PIN, with whether it sent the certificate.
    prechecks: list[tuple[str, bool]] = field(default_factory=list)


class StandInProvider:
    """``POST /card-login/challenge``, ``/card-login/precheck`` and ``/card-login/response`` of the HTTP contract,
    in a thread."""

    def __init__(self, trust: TrustStore, revocation: RevocationInputs) -> None:
        self.trust, self.revocation = trust, revocation
        self.logins: dict[str, PendingLogin] = {}
        self.lifetime = dt.timedelta(seconds=120)
        self.answer_issuer: str | None = None
        #: An answer to ``/card-login/precheck`` in place of the check (a provider older than the route, a refusal).
        self.precheck_answer: tuple[int, dict[str, Any]] | None = None
        provider = self

        class Handler(Peer):
            def do_POST(self) -> None:
                status, answer = provider.handle(self.path, json.loads(self.body()))
                self.answer(status, json.dumps(answer).encode(), "application/json")

        self.server, self.issuer = serve(Handler)

    def add(self, key: Purpose = Purpose.AUTH) -> tuple[str, PendingLogin]:
        token = secrets.token_urlsafe(32)
        login = PendingLogin(key, "".join(secrets.choice("23456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(8)))
        self.logins[token] = login
        return token, login

    def _find(self, body: dict[str, Any]) -> PendingLogin | None:
        if "token" in body:
            return self.logins.get(body["token"])
        return next((v for v in self.logins.values() if v.code == body.get("code")), None)

    def handle(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        login = self._find(body)
        if login is None:
            return 404, {"error": "unknown_login", "message": "No such login.", "message_ja": "ログインがありません。"}
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        if path == "/card-login/challenge":
            login.fetches += 1
            challenge = secrets.token_bytes(32)
            value = base64.urlsafe_b64encode(challenge).rstrip(b"=").decode()
            login.challenges[value] = now
            return 200, {"issuer": self.answer_issuer or self.issuer, "interaction": login.interaction,
                         "challenge": value, "issued_at": int(now.timestamp()), "key": login.key.value,
                         "client_name": "Example RP", "expires_at": int((now + self.lifetime).timestamp())}
        if path == "/card-login/precheck":
            login.prechecks.append((body["key"], "certificate" in body))
            if self.precheck_answer is not None:
                return self.precheck_answer
            if body["challenge"] not in login.challenges or body["key"] != login.key.value:
                return 400, {"error": "bad_request", "message": "Bad.", "message_ja": "不正です。"}
            try:
                if "certificate" in body:
                    check_card_certificate(_b64(body["certificate"]), key=login.key, trust=self.trust,
                                           revocation=self.revocation, at=dt.datetime.now(dt.UTC))
            except VerificationError as exc:
                return 403, {"error": exc.reason.value, "message": "Refused.", "message_ja": "拒否しました。"}
            return 200, {"status": "ok"}
        issued_at = login.challenges.pop(body["challenge"], None)  # single use
        if issued_at is None:
            return 400, {"error": "challenge_used", "message": "Used.", "message_ja": "使用済みです。"}
        expected = LoginMessage(self.issuer, login.interaction, _b64(body["challenge"]), issued_at, login.key)
        try:
            result = verify_card_login(_b64(body["certificate"]), _b64(body["signature"]), expected=expected,
                                       trust=self.trust, revocation=self.revocation, at=dt.datetime.now(dt.UTC))
        except VerificationError as exc:
            login.errors.append(exc.reason.value)
            return 400, {"error": exc.reason.value, "message": "Refused.", "message_ja": "拒否しました。"}
        login.verified.append(result)
        return 200, {"status": "verified"}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def provider(card_profile: CardProfile) -> Iterator[StandInProvider]:
    pki = TestPki.open(card_profile.path.parent / "pki")
    trust = TrustStore.build([(f"r{i}", r.certificate.public_bytes(Encoding.DER)) for i, r in enumerate(pki.roots())],
                             allow_test_roots=True)
    now = dt.datetime.now(dt.UTC)
    crls = []
    for root in pki.roots():
        data = issue_crl(root, [], this_update=now - dt.timedelta(hours=1), next_update=now + dt.timedelta(days=1),
                         crl_number=1)
        crls.append(load_crl(data, issuer=root.certificate, at=now))
    stand_in = StandInProvider(trust, RevocationInputs(crls=crls))
    yield stand_in
    stand_in.close()


# --- the agent process -----------------------------------------------------------------------------------------


@dataclass
class RunningAgent:
    url: str
    process: subprocess.Popen[str]
    log: Path
    origin: str

    def get(self, path: str, **headers: str) -> httpx.Response:
        return httpx.get(self.url + path, headers={"Origin": self.origin, **headers}, timeout=10)

    def post(self, path: str, body: object, **headers: str) -> httpx.Response:
        return httpx.post(self.url + path, json=body, headers={"Origin": self.origin, **headers}, timeout=10)

    def pad(self, path: str, body: object | None = None) -> httpx.Response:
        """The PIN pad page's own requests (same origin as the agent)."""
        if body is None:  # a browser's same-origin GET carries no Origin, only Sec-Fetch-Site
            return httpx.get(self.url + path, headers={"Sec-Fetch-Site": "same-origin"}, timeout=10)
        return httpx.post(self.url + path, json=body, headers={"Origin": self.url}, timeout=10)

    def prompt(self, mode: str = "pin", timeout: float = 15) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.pad("/pinpad/state").json()
            if state["prompt"] is not None and state["mode"] == mode:
                return dict(state)
            time.sleep(0.05)
        raise AssertionError(f"no {mode} prompt; agent log:\n{self.log.read_text()[-2000:]}")

    def wait(self, login: str, states: tuple[str, ...] = ("done", "failed"), timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            view = self.get(f"/v1/login/{login}").json()
            if view["state"] in states:
                return dict(view)
            time.sleep(0.05)
        raise AssertionError(f"login stuck; agent log:\n{self.log.read_text()[-2000:]}")


def start_agent(lab: PcscLab, provider: StandInProvider, tmp_path: Path, *options: str) -> RunningAgent:
    log = tmp_path / f"agent-{secrets.token_hex(3)}.log"
    with log.open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "cardreader", "agent", "--provider", provider.issuer, "--port", "0", "--verbose",
             "--card-timeout", "5", *options],
            env=lab.env, stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
    assert match, (line, log.read_text())
    return RunningAgent(match[1], process, log, provider.issuer)


@pytest.fixture
def agent(lab: PcscLab, provider: StandInProvider, tmp_path: Path) -> Iterator[RunningAgent]:
    running = start_agent(lab, provider, tmp_path, "--pin-entry", "pinpad")
    yield running
    stop(running)


def auth_tries(profile: CardProfile) -> int:
    return int(json.loads(profile.state_path.read_text())["0018"])


def stop(running: RunningAgent) -> None:
    running.process.terminate()
    running.process.wait(10)


def login_with_pin(agent: RunningAgent, provider: StandInProvider, secret: str,
                   key: Purpose = Purpose.AUTH) -> tuple[dict[str, Any], PendingLogin]:
    token, pending = provider.add(key)
    started = agent.post("/v1/login", {"token": token})
    assert started.status_code == 202, started.text
    prompt = agent.prompt()
    assert agent.pad("/pinpad/answer", {"prompt": prompt["prompt"], "pin": secret}).status_code == 200
    return agent.wait(started.json()["login"]), pending


# --- gates -----------------------------------------------------------------------------------------------------


def test_status_and_cors_only_for_the_provider(agent: RunningAgent) -> None:
    status = agent.get("/v1/status")
    assert status.status_code == 200
    assert status.headers["Access-Control-Allow-Origin"] == agent.origin
    assert status.json() | {"state": "idle"} == {"agent": "mynacard-id card agent", "protocol": 1,
                                                 "provider": agent.origin, "kiosk": False, "pin_entry": "pinpad",
                                                 "state": "idle"}
    preflight = httpx.options(agent.url + "/v1/login", headers={
        "Origin": agent.origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type", "Access-Control-Request-Private-Network": "true"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Private-Network"] == "true"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    for origin in ("https://evil.example", "null", agent.origin + ".evil.example"):
        refused = agent.get("/v1/status", Origin=origin)
        assert refused.status_code == 403
        assert "Access-Control-Allow-Origin" not in refused.headers
        assert httpx.options(agent.url + "/v1/login", headers={"Origin": origin}).status_code == 403
    assert agent.get("/v1/status", Host="rebound.evil.example:" + agent.url.rsplit(":", 1)[1]).status_code == 421


def test_state_only_for_the_provider_and_the_pin_pad_page(reader: Slot, agent: RunningAgent,
                                                          provider: StandInProvider) -> None:
    """A request without an Origin (or, for the PIN pad's state, without ``Sec-Fetch-Site: same-origin``), or from
    another origin, reads nothing: not the agent's status, not a login's state, not the PIN pad's prompt."""
    token, _ = provider.add()
    started = agent.post("/v1/login", {"token": token})
    assert started.status_code == 202, started.text
    login = f"/v1/login/{started.json()['login']}"
    agent.prompt()  # the PIN pad has a prompt open
    for path in ("/v1/status", login):
        for headers in ({}, {"Origin": "https://evil.example"}, {"Origin": agent.url}, {"Origin": "null"}):
            refused = httpx.get(agent.url + path, headers=headers, timeout=10)
            assert refused.status_code == 403, (path, headers, refused.text)
            assert "state" not in refused.json()
            assert "Access-Control-Allow-Origin" not in refused.headers
        assert agent.get(path).status_code == 200
    for headers in ({}, {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}, {"Sec-Fetch-Site": "none"},
                    {"Origin": agent.origin}, {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"}):
        refused = httpx.get(agent.url + "/pinpad/state", headers=headers, timeout=10)
        assert refused.status_code == 403, (headers, refused.text)
        assert "prompt" not in refused.json()
    assert httpx.get(agent.url + "/pinpad/state", headers={"Origin": agent.url}).json()["prompt"]
    assert agent.pad("/pinpad/state").json()["prompt"]  # the page's own fetch: Sec-Fetch-Site same-origin
    port = agent.url.rsplit(":", 1)[1]
    for host in (f"rebound.evil.example:{port}", f"127.0.0.1:{int(port) + 1}", "127.0.0.1", f"localhost.:{port}"):
        assert agent.get(login, Host=host).status_code == 421, host


def test_only_the_provider_page_with_a_token_starts_a_login(agent: RunningAgent) -> None:
    token = secrets.token_urlsafe(32)
    assert httpx.post(agent.url + "/v1/login", json={"token": token}).status_code == 403  # no Origin
    assert agent.post("/v1/login", {"token": token}, Origin="https://evil.example").status_code == 403
    assert agent.post("/v1/login", {"token": token}, Origin=agent.url).status_code == 403  # the PIN pad's origin
    text = httpx.post(agent.url + "/v1/login", content=json.dumps({"token": token}),
                      headers={"Origin": agent.origin, "Content-Type": "text/plain"})
    assert text.status_code == 415  # a "simple" cross-origin request cannot start anything
    assert agent.post("/v1/login", {"token": "short"}).json()["reason"] == "bad_token"
    assert agent.post("/v1/login", {}).json()["reason"] == "bad_token"


# --- logins ----------------------------------------------------------------------------------------------------


def test_auth_login_through_the_pin_pad(reader: Slot, agent: RunningAgent, provider: StandInProvider,
                                        card_profile: CardProfile) -> None:
    token, pending = provider.add()
    started = agent.post("/v1/login", {"token": token})
    assert started.status_code == 202
    assert started.json()["pinpad_url"] == agent.url + "/pinpad"
    assert agent.post("/v1/login", {"token": token}).json()["reason"] == "busy"
    prompt = agent.prompt()
    assert (prompt["key"], prompt["tries_left"], prompt["last_try"]) == ("auth", 3, False)
    assert "Example RP" in prompt["headline"]
    # the login page (provider origin) can neither read nor answer the PIN pad
    assert agent.get("/pinpad/state").status_code == 403
    assert agent.post("/pinpad/answer", {"prompt": prompt["prompt"], "pin": AUTH_PIN}).status_code == 403
    assert httpx.post(agent.url + "/pinpad/answer", json={"prompt": prompt["prompt"], "pin": AUTH_PIN}
                      ).status_code == 403  # no Origin: not the PIN pad page
    assert agent.pad("/pinpad/answer", {"prompt": "x" * 22, "pin": AUTH_PIN}).status_code == 409
    wrong_format = agent.pad("/pinpad/answer", {"prompt": prompt["prompt"], "pin": "12a4"})
    assert wrong_format.json()["reason"] == "pin_format"  # no try spent; the prompt stays open
    assert agent.pad("/pinpad/answer", {"prompt": prompt["prompt"], "pin": AUTH_PIN}).status_code == 200
    view = agent.wait(started.json()["login"])
    assert view["state"] == "done", view
    assert view["error"] is None
    assert pending.prechecks == [("auth", True)]  # the certificate, read free, was checked before the PIN
    [result] = pending.verified
    certificate = x509.load_der_x509_certificate(card_profile.certificate("auth_certificate"))
    assert result.account_id == account_id_for(certificate.public_key(), Purpose.AUTH)  # type: ignore[arg-type]
    assert result.facts is None
    page = agent.pad("/pinpad")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert "Access-Control-Allow-Origin" not in page.headers


def test_sign_login_with_the_signing_password(reader: Slot, agent: RunningAgent, provider: StandInProvider) -> None:
    view, pending = login_with_pin(agent, provider, SIGN_PASSWORD.lower(), Purpose.SIGN)  # upper-cased locally
    assert view["state"] == "done", view
    assert pending.prechecks == [("sign", False)]  # the signing certificate is read only after its password
    [result] = pending.verified
    assert result.facts is not None
    assert result.facts.birth_date == "1980-04-01"


def test_a_refused_pin_is_never_retried(slot: Slot, fresh_profile: CardProfile, agent: RunningAgent,
                                        provider: StandInProvider) -> None:
    slot.use(fresh_profile)
    view, pending = login_with_pin(agent, provider, WRONG_PIN)
    assert view["state"] == "failed"
    assert view["error"]["reason"] == "pin_incorrect"
    assert view["error"]["tries_left"] == 2
    assert not pending.verified
    assert pending.fetches == 1
    assert auth_tries(fresh_profile) == 2  # one VERIFY, not three


def test_the_last_try_needs_confirmation(slot: Slot, fresh_profile: CardProfile, agent: RunningAgent,
                                         provider: StandInProvider) -> None:
    fresh_profile.state_path.write_text('{"0018": 1}')
    slot.use(fresh_profile)
    token, pending = provider.add()
    login = agent.post("/v1/login", {"token": token}).json()["login"]
    confirm = agent.prompt("confirm")
    assert confirm["last_try"] is True
    assert agent.pad("/pinpad/answer", {"prompt": confirm["prompt"], "confirm": False}).status_code == 200
    view = agent.wait(login)
    assert view["error"]["reason"] == "last_try_needs_confirmation"
    assert auth_tries(fresh_profile) == 1  # nothing was sent
    login = agent.post("/v1/login", {"token": token}).json()["login"]
    agent.pad("/pinpad/answer", {"prompt": agent.prompt("confirm")["prompt"], "confirm": True})
    prompt = agent.prompt()
    assert prompt["tries_left"] == 1
    agent.pad("/pinpad/answer", {"prompt": prompt["prompt"], "pin": AUTH_PIN})
    assert agent.wait(login)["state"] == "done"
    assert len(pending.verified) == 1
    assert auth_tries(fresh_profile) == 3


def test_a_blocked_pin_is_not_asked_for(slot: Slot, fresh_profile: CardProfile, agent: RunningAgent,
                                        provider: StandInProvider) -> None:
    fresh_profile.state_path.write_text('{"0018": 0}')
    slot.use(fresh_profile)
    token, _ = provider.add()
    view = agent.wait(agent.post("/v1/login", {"token": token}).json()["login"])
    assert view["error"]["reason"] == "pin_blocked"


def test_a_challenge_about_to_expire_is_fetched_again(reader: Slot, agent: RunningAgent,
                                                      provider: StandInProvider) -> None:
    provider.lifetime = dt.timedelta(seconds=10)  # less than the agent's refresh margin
    try:
        view, pending = login_with_pin(agent, provider, AUTH_PIN)
    finally:
        provider.lifetime = dt.timedelta(seconds=120)
    assert view["state"] == "done"
    assert pending.fetches == 2
    assert len(pending.verified) == 1


def test_a_provider_naming_another_issuer_is_refused_before_the_pin(reader: Slot, agent: RunningAgent,
                                                                    provider: StandInProvider) -> None:
    provider.answer_issuer = "https://evil.example"
    try:
        token, _ = provider.add()
        view = agent.wait(agent.post("/v1/login", {"token": token}).json()["login"])
    finally:
        provider.answer_issuer = None
    assert view["error"]["reason"] == "provider_answer"
    assert agent.pad("/pinpad/state").json()["prompt"] is None


@contextmanager
def precheck_answered(provider: StandInProvider, status: int, body: dict[str, Any]) -> Iterator[None]:
    """The stand-in answers ``/card-login/precheck`` with ``status`` and ``body`` instead of checking."""
    provider.precheck_answer = (status, body)
    try:
        yield
    finally:
        provider.precheck_answer = None


def unattended_login(agent: RunningAgent, provider: StandInProvider) -> tuple[dict[str, Any], PendingLogin]:
    """A login nobody types a PIN for: how it ended."""
    token, pending = provider.add()
    return agent.wait(agent.post("/v1/login", {"token": token}).json()["login"]), pending


def test_a_precheck_refusal_stops_before_the_pin_and_an_older_provider_is_not_asked(
        slot: Slot, fresh_profile: CardProfile, agent: RunningAgent, provider: StandInProvider) -> None:
    slot.use(fresh_profile)
    refusal = {"error": "certificate_expired", "message": "Your card's certificate has expired.",
               "message_ja": "電子証明書の有効期限が切れています。"}
    with precheck_answered(provider, 403, refusal):
        view, pending = unattended_login(agent, provider)
    assert view["state"] == "failed"
    assert view["error"] == {"reason": "certificate_expired", "message": refusal["message"],
                             "message_ja": refusal["message_ja"]}
    pad_state = agent.pad("/pinpad/state").json()
    assert (pad_state["prompt"], pad_state["reader"]) == (None, "idle")
    assert pad_state["notice"] == {"message": refusal["message"], "message_ja": refusal["message_ja"]}  # says why
    assert (pending.prechecks, pending.verified) == ([("auth", True)], [])
    # a provider that predates the route (a 404 that is not a refusal) logs in as before
    with precheck_answered(provider, 404, {"status_code": 404, "detail": "Not Found"}):
        view, pending = login_with_pin(agent, provider, AUTH_PIN)
    assert view["state"] == "done", view
    assert len(pending.verified) == 1
    # an answer that is neither ok nor a refusal stops the login too
    with precheck_answered(provider, 200, {"status": "maybe"}):
        view, _ = unattended_login(agent, provider)
    assert view["error"]["reason"] == "provider_answer"
    assert agent.pad("/pinpad/state").json()["prompt"] is None


def test_kiosk_mode_waits_for_the_card_to_leave(slot: Slot, card_profile: CardProfile, lab: PcscLab,
                                                provider: StandInProvider, tmp_path: Path) -> None:
    slot.use(card_profile)
    kiosk = start_agent(lab, provider, tmp_path, "--kiosk")
    try:
        view, _ = login_with_pin(kiosk, provider, AUTH_PIN)
        assert view["state"] == "done"
        assert view["remove_card"] is True
        deadline = time.monotonic() + 5
        while kiosk.get("/v1/status").json()["state"] != "remove_card":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        token, _ = provider.add()
        refused = kiosk.post("/v1/login", {"token": token})
        assert (refused.status_code, refused.json()["reason"]) == (409, "remove_card")
        assert kiosk.pad("/pinpad/state").json()["notice"]["message_ja"].startswith("カードを")
        slot.pull()
        while kiosk.get("/v1/status").json()["state"] != "idle":
            assert time.monotonic() < deadline + 5
            time.sleep(0.05)
        slot.use(card_profile)  # the next person
        view, pending = login_with_pin(kiosk, provider, AUTH_PIN)
        assert view["state"] == "done"
        assert len(pending.verified) == 1
        slot.pull()
        while kiosk.get("/v1/status").json()["state"] != "idle":
            assert time.monotonic() < deadline + 10
            time.sleep(0.05)
        slot.use(card_profile)  # a card the provider refuses before the PIN: the PIN pad keeps saying why
        with precheck_answered(provider, 403, {"error": "certificate_revoked", "message": "Revoked.",
                                               "message_ja": "失効しています。"}):
            assert unattended_login(kiosk, provider)[0]["state"] == "failed"
        deadline = time.monotonic() + 5  # the notice follows the outcome
        while not (notice := kiosk.pad("/pinpad/state").json()["notice"] or {}).get("message_ja", "").startswith(
                "失効"):
            assert time.monotonic() < deadline, notice
            time.sleep(0.05)
        assert notice["message_ja"].startswith("失効しています。カードを")
        assert notice["message"].startswith("Revoked. Please take your card")
    finally:
        stop(kiosk)


# --- cross-device, in a terminal -----------------------------------------------------------------------------


def _read_until(fd: int, pattern: str, timeout: float = 20) -> str:
    seen = b""
    deadline = time.monotonic() + timeout
    while pattern.encode() not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"no {pattern!r} in {seen.decode(errors='replace')!r}"
        try:
            seen += os.read(fd, 4096)
        except OSError:
            break
    return seen.decode(errors="replace")


def test_cross_device_login_in_a_terminal(reader: Slot, lab: PcscLab, provider: StandInProvider) -> None:
    _, pending = provider.add()
    code = f"{pending.code[:4].lower()}-{pending.code[4:]}"
    master, terminal = pty.openpty()

    def controlling_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        [sys.executable, "-m", "cardreader", "login", "--code", code, "--provider", provider.issuer, "--test-mode"],
        stdin=terminal, stdout=terminal, stderr=terminal, env=lab.env, cwd=ROOT, start_new_session=True,
        preexec_fn=controlling_terminal)  # getpass reads /dev/tty
    os.close(terminal)
    try:
        shown = _read_until(master, "PIN (4 digits")
        assert "Example RP" in shown
        assert "3" in shown.split("Tries left")[1][:20]
        os.write(master, AUTH_PIN.encode() + b"\n")
        shown = _read_until(master, "Logged in")
        assert AUTH_PIN not in shown  # no echo
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    assert len(pending.verified) == 1


# --- logs ----------------------------------------------------------------------------------------------------


def test_no_pin_in_any_agent_log_line(slot: Slot, fresh_profile: CardProfile, lab: PcscLab,
                                      provider: StandInProvider, tmp_path: Path) -> None:
    apdu_log = tmp_path / "apdu.log"
    slot.use(fresh_profile, apdu_log=apdu_log)
    agent = start_agent(lab, provider, tmp_path, "--pin-entry", "pinpad")
    try:
        login_with_pin(agent, provider, WRONG_PIN)
        assert login_with_pin(agent, provider, AUTH_PIN)[0]["state"] == "done"
        assert login_with_pin(agent, provider, SIGN_PASSWORD, Purpose.SIGN)[0]["state"] == "done"
    finally:
        stop(agent)
    text = agent.log.read_text() + apdu_log.read_text()
    assert "login_done" in text
    assert "80 2A" in text.upper() or "802A" in text.upper()
    for secret in (AUTH_PIN, WRONG_PIN, SIGN_PASSWORD):
        for form in forms(secret):
            assert form not in text, form


def test_deeply_nested_json_body_is_a_bad_request() -> None:
    """Found by fuzzing (tests/fuzz seed agent_http/regress-deep-json): a body nesting deeper than Python's
    recursion limit made json.loads raise RecursionError, which dropped the connection without an answer; it is
    400 bad_request like any other bad body. (An in-process agent; no card is needed.)"""
    import httpx as _httpx

    from cardreader.agent.pinpad import PinPad
    from cardreader.agent.server import Agent, AgentConfig, AgentServer
    from cardreader.login import Provider

    issuer = "https://id.example.jp"
    provider = Provider(issuer, test_mode=True,
                        transport=_httpx.MockTransport(lambda _: _httpx.Response(400, json={"error": "x"})))
    server = AgentServer(Agent(AgentConfig(issuer, port=0), provider, PinPad(timeout=0.1)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1/login"
        answer = _httpx.post(url, content=b"[" * 3000, headers={"Origin": issuer, "Content-Type": "application/json"})
        assert answer.status_code == 400
        assert answer.json()["reason"] == "bad_request"
    finally:
        server.shutdown()
        server.server_close()


def test_provider_answer_nested_deeper_than_the_stack_is_a_bad_answer() -> None:
    """Found by the fuzz seed provider_answer/regress-deep-json: httpx's json() raised RecursionError past the
    agent's ``except ValueError``; a too-deep answer is a LoginError like any other answer that is not JSON."""
    import httpx as _httpx

    from cardreader.login import LoginError, Provider, Ticket

    provider = Provider("https://id.example.jp", test_mode=True,
                        transport=_httpx.MockTransport(lambda _: _httpx.Response(200, content=b"[" * 3000)))
    with pytest.raises(LoginError):
        provider.challenge(Ticket.token("A" * 43))
