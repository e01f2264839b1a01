"""Card login end to end over real HTTP: relying party → /authorize → the card login page → the card agent on
loopback → the virtual card in a real pcscd → the provider's verification → consent → code → tokens.

The test plays the browser (cookies, Origin headers) and the person (the PIN pad). Checked: an auth-cert login
gets a pairwise ``sub`` and no personal data; a sign-cert login releases only the claims approved on the consent
page; a replayed challenge fails, within one interaction and across two; a signature over another message fails;
a revoked card fails closed with a message a person understands; no PIN and no basic fact in any log line of
the provider or the agent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest

from cardreader.virtual.lab import PcscLab
from cardreader.virtual.profile import CardProfile
from keys.cardlogin import LoginMessage, encode_login_message
from keys.jose.b64 import b64url_decode_loose as b64decode
from keys.jose.b64 import b64url_encode as b64url
from keys.x509.profile import Purpose

from .conftest import AUTH_PIN, HOLDER, SIGN_PASSWORD, Agent, Pki, Provider, insert

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]
HARNESS = Path(__file__).with_name("page_harness.mjs")
RP1 = "https://rp1.example/cb"
RP2 = "https://rp2.example/cb"
_FACTS = (HOLDER.name, HOLDER.address, "照合", "三四郎", "札幌市中央区", "2000-03-15", "20000315", HOLDER.birth_date)
#: The facts as text and as JSON with \\u escapes (how a serialised payload would show them).
FACT_STRINGS = (*_FACTS, *(json.dumps(f)[1:-1] for f in _FACTS if not f.isascii()))


@pytest.fixture(scope="module")
def clients(provider: Provider) -> dict[str, str]:
    """Two public clients with different sectors (redirect hosts)."""
    for client_id, uri in (("rp1", RP1), ("rp2", RP2)):
        provider.idp("clients", "add", client_id, "--redirect-uri", uri, "--auth-method", "none")
    return {"rp1": RP1, "rp2": RP2}


@pytest.fixture
def card(lab: PcscLab, pki: Pki) -> CardProfile:
    """The adult's card in the reader."""
    insert(lab, pki.adult)
    return pki.adult


@dataclass
class Browser:
    """A browser at the provider (its own cookie jar)."""

    provider: Provider
    http: httpx.Client

    @classmethod
    def open(cls, provider: Provider) -> Browser:
        return cls(provider, httpx.Client(base_url=provider.url, timeout=20, follow_redirects=False))

    def authorize(self, client_id: str, scope: str, **extra: str) -> tuple[str, str]:
        """Start an authorization: the interaction uid and the PKCE verifier."""
        verifier = secrets.token_urlsafe(32)
        params = {"response_type": "code", "client_id": client_id, "redirect_uri": RP1 if client_id == "rp1" else RP2,
                  "scope": scope, "state": "st", "nonce": "nn", "code_challenge_method": "S256",
                  "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()), **extra}
        answer = self.http.get("/authorize?" + urlencode(params))
        assert answer.status_code in (302, 303), answer.text[:500]
        match = re.fullmatch(r"/interaction/([A-Za-z0-9_-]{43})", answer.headers["location"])
        assert match, answer.headers["location"]
        return match[1], verifier

    def check_login_page(self, page: httpx.Response) -> dict[str, str]:
        """The login page's essentials: no PIN field, a CSP that lets it reach the agent, token, code, QR code."""
        assert page.status_code == 200, page.text[:500]
        assert 'type="password"' not in page.text  # no PIN on the provider's page
        assert "connect-src 'self' http://127.0.0.1:" in page.headers["content-security-policy"]
        token = re.search(r'data-token="([A-Za-z0-9_-]{43})"', page.text)
        code = re.search(r'class="code">([A-Z0-9]{4}-[A-Z0-9]{4})<', page.text)
        assert token
        assert code
        assert "<svg" in page.text  # the QR code
        return {"token": token[1], "code": code[1]}

    def login_page(self, uid: str) -> dict[str, str]:
        return self.check_login_page(self.http.get(f"/interaction/{uid}"))

    def wait_status(self, uid: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.http.get(f"/interaction/{uid}/card/status").json()
            if status["state"] != "pending":
                return dict(status)
            time.sleep(0.1)
        raise AssertionError("the card login stayed pending")

    def finish(self, uid: str) -> str:
        answer = self.http.post(f"/interaction/{uid}/card/finish", headers={"Origin": self.provider.url})
        assert answer.status_code == 303, answer.text[:500]
        return str(answer.headers["location"])

    def follow_to_code(self, location: str, approve: tuple[str, ...] | None = None) -> str:
        """From the step after the login to the code sent to the client (approving ``approve`` on consent)."""
        for _ in range(5):
            if location.startswith("https://"):
                query = parse_qs(urlsplit(location).query)
                assert query["state"] == ["st"]
                assert query["iss"] == [self.provider.url]
                return query["code"][0]
            if location.endswith("/consent"):
                page = self.http.get(location)
                assert page.status_code == 200
                form = [("decision", "allow"), *[("claim", c) for c in approve or ()]]
                answer = self.http.post(location, content=urlencode(form), headers={
                    "Content-Type": "application/x-www-form-urlencoded", "Origin": self.provider.url})
            else:
                answer = self.http.get(location)
            assert answer.status_code in (302, 303), answer.text[:500]
            location = answer.headers["location"]
        raise AssertionError("no code")

    def tokens(self, client_id: str, code: str, verifier: str) -> dict[str, Any]:
        answer = self.http.post("/token", data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": RP1 if client_id == "rp1" else RP2,
            "client_id": client_id, "code_verifier": verifier})
        assert answer.status_code == 200, answer.text
        tokens = dict(answer.json())
        jwks_uri = self.http.get("/.well-known/openid-configuration").json()["jwks_uri"]
        header = jwt.get_unverified_header(tokens["id_token"])
        key = next(k for k in self.http.get(jwks_uri).json()["keys"] if k["kid"] == header["kid"])
        tokens["claims"] = jwt.decode(tokens["id_token"], jwt.PyJWK(key).key, algorithms=[header["alg"]],
                                      audience=client_id, issuer=self.provider.url)
        return tokens

    def userinfo(self, access_token: str) -> dict[str, Any]:
        answer = self.http.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


def answer_pinpad(agent: Agent, secret: str, stop: threading.Event, typing: float = 0.0) -> None:
    """The person at the reader: types ``secret`` into the agent's PIN pad once it asks (taking ``typing`` s)."""
    while not stop.is_set():
        state = httpx.get(f"{agent.url}/pinpad/state", headers={"Origin": agent.url}).json()
        if state["prompt"] is not None:
            time.sleep(typing)
            httpx.post(f"{agent.url}/pinpad/answer", json={"prompt": state["prompt"], "pin": secret},
                       headers={"Origin": agent.url})
            return
        time.sleep(0.05)


def agent_login(agent: Agent, provider: Provider, ticket: dict[str, str], secret: str | None) -> dict[str, Any]:
    """What the pages' script does, step by step: hand the agent the ticket, then follow the agent's progress."""
    started = httpx.post(f"{agent.url}/v1/login", json=ticket, headers={"Origin": provider.url}, timeout=10)
    assert started.status_code == 202, started.text
    stop = threading.Event()
    person = threading.Thread(target=answer_pinpad, args=(agent, secret, stop), daemon=True) if secret else None
    if person:
        person.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            view = httpx.get(f"{agent.url}/v1/login/{started.json()['login']}", headers={"Origin": provider.url})
            if view.json()["state"] in ("done", "failed"):
                return dict(view.json())
            time.sleep(0.05)
    finally:
        stop.set()
    raise AssertionError(f"agent login stuck:\n{agent.log.read_text()[-2000:]}")


def run_page(browser: Browser, agent: Agent, path: str, html: str, secret: str, tmp_path: Path) -> list[dict[str, Any]]:
    """Run the page's own script (served by the provider) in Node as the browser would, while the person answers
    the PIN pad; the page's reports, up to the finish form's submission or the message it ends with."""
    if shutil.which("node") is None:
        pytest.skip("needs node to run the login page's script")
    page, script = tmp_path / "page.html", tmp_path / "login.js"
    page.write_text(html, encoding="utf-8")
    served = browser.http.get("/card-login/login.js")
    assert served.headers["content-type"].startswith("text/javascript")
    script.write_text(served.text, encoding="utf-8")
    cookies = "; ".join(f"{c.name}={c.value}" for c in browser.http.cookies.jar)
    stop = threading.Event()
    person = threading.Thread(target=answer_pinpad, args=(agent, secret, stop, 1.5), daemon=True)
    person.start()
    try:
        run = subprocess.run(["node", str(HARNESS), str(page), browser.provider.url + path, str(script), cookies],
                             capture_output=True, text=True, timeout=60, check=False)
    finally:
        stop.set()
    assert run.returncode == 0, (run.stdout, run.stderr)
    return [json.loads(line) for line in run.stdout.splitlines()]


def card_login(browser: Browser, agent: Agent, client_id: str, scope: str, secret: str, tmp_path: Path,
               approve: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A whole login as a person does it: the relying party's request, the login page and its script, the agent's
    PIN pad, consent; then the relying party's token request."""
    uid, verifier = browser.authorize(client_id, scope, prompt="login")
    page = browser.http.get(f"/interaction/{uid}")
    browser.check_login_page(page)
    events = run_page(browser, agent, f"/interaction/{uid}", page.text, secret, tmp_path)
    assert events[-1] == {"submitted": True}, events
    assert any(re.search("(暗証番号|署名用パスワード)を入力", e.get("text", "")) for e in events)  # where the PIN goes
    code = browser.follow_to_code(browser.finish(uid), approve)
    return browser.tokens(client_id, code, verifier)


# --- logins ----------------------------------------------------------------------------------------------------


def test_auth_cert_login_gets_a_pairwise_sub_and_no_personal_data(provider: Provider, agent: Agent, card: CardProfile,
                                                                   clients: dict[str, str], tmp_path: Path) -> None:
    first = card_login(Browser.open(provider), agent, "rp1", "openid", AUTH_PIN, tmp_path)
    claims = first["claims"]
    assert claims["acr"] == "urn:mynacard:acr:auth-cert"
    assert claims["amr"] == ["sc", "pin"]
    assert not {"name", "birthdate", "gender", "address", "age_over_18", "age_over_20"} & set(claims)
    assert set(Browser.open(provider).userinfo(first["access_token"])) == {"sub"}
    again = card_login(Browser.open(provider), agent, "rp1", "openid", AUTH_PIN, tmp_path)
    other = card_login(Browser.open(provider), agent, "rp2", "openid", AUTH_PIN, tmp_path)
    assert again["claims"]["sub"] == claims["sub"]  # stable for the card at one relying party
    assert other["claims"]["sub"] != claims["sub"]  # pairwise: unlinkable across relying parties


def test_sign_cert_login_releases_only_approved_claims(provider: Provider, agent: Agent, card: CardProfile,
                                                       clients: dict[str, str], tmp_path: Path) -> None:
    browser = Browser.open(provider)
    tokens = card_login(browser, agent, "rp1", "openid profile address", SIGN_PASSWORD, tmp_path,
                        approve=("name", "birthdate"))
    assert tokens["claims"]["acr"] == "urn:mynacard:acr:sign-cert"
    userinfo = browser.userinfo(tokens["access_token"])
    assert userinfo["name"] == HOLDER.name
    assert userinfo["birthdate"] == "2000-03-15"
    assert "address" not in userinfo
    assert "gender" not in userinfo


def test_the_cross_device_code_works_through_the_device_page(provider: Provider, agent: Agent, card: CardProfile,
                                                             clients: dict[str, str], tmp_path: Path) -> None:
    """The first device shows a code and a QR code; on the machine with the reader the QR code's page hands the
    code to the agent; the first device's page sees the login verified and goes on."""
    first = Browser.open(provider)
    uid, verifier = first.authorize("rp1", "openid", prompt="login")
    code = first.login_page(uid)["code"]
    second = Browser.open(provider)
    device = second.http.get("/card-login/device")
    assert device.status_code == 200
    events = run_page(second, agent, f"/card-login/device#{code.lower()}", device.text, AUTH_PIN, tmp_path)
    assert events[-1]["text"].endswith("もう一方の端末で続けてください"), events
    assert first.wait_status(uid)["state"] == "verified"
    tokens = first.tokens("rp1", first.follow_to_code(first.finish(uid)), verifier)
    assert tokens["claims"]["acr"] == "urn:mynacard:acr:auth-cert"


# --- the agent-facing endpoints, with the test playing the agent ----------------------------------------------


def _sign(lab: PcscLab, message: bytes, tmp_path: Path, key: str = "auth", secret: str = AUTH_PIN
          ) -> tuple[bytes, bytes]:
    """The card in the reader signs ``message`` with ``key`` (``secret`` its PIN), through ``python -m cardreader
    sign`` (its own process: pcsc-lite binds a process to one pcscd, and other test modules may have started
    another)."""
    data = tmp_path / f"message-{secrets.token_hex(4)}"
    data.write_bytes(message)
    read, write = os.pipe()
    os.write(write, secret.encode() + b"\n")
    os.close(write)
    try:
        run = subprocess.run([sys.executable, "-m", "cardreader", "sign", "--key", key, "--data-file", str(data),
                              "--json", "--pin-fd", str(read)], env=lab.env, capture_output=True, text=True,
                             pass_fds=(read,), timeout=60, check=False)
    finally:
        os.close(read)
    assert run.returncode == 0, run.stderr
    evidence = json.loads(run.stdout)
    return b64decode(evidence["certificate"]), b64decode(evidence["signature"])


def test_replays_and_other_messages_fail(provider: Provider, lab: PcscLab, card: CardProfile,
                                         clients: dict[str, str], tmp_path: Path) -> None:
    browser = Browser.open(provider)
    uid, _ = browser.authorize("rp1", "openid", prompt="login")
    ticket = {"token": browser.login_page(uid)["token"]}
    api = httpx.Client(base_url=provider.url, timeout=20)

    def challenge() -> tuple[dict[str, Any], bytes]:
        fields = api.post("/card-login/challenge", json=ticket).json()
        message = LoginMessage(provider.url, fields["interaction"], b64decode(fields["challenge"]),
                               dt.datetime.fromtimestamp(fields["issued_at"], dt.UTC), Purpose(fields["key"]))
        return fields, encode_login_message(message)

    def respond(fields: dict[str, Any], certificate: bytes, signature: bytes) -> httpx.Response:
        return api.post("/card-login/response", json={**ticket, "challenge": fields["challenge"],
                                                      "certificate": b64url(certificate),
                                                      "signature": b64url(signature)})

    fields, message = challenge()
    # a relying party trying the login as a signing oracle: the card signed data of its choosing
    certificate, other = _sign(lab, b"transfer 1,000,000 yen to account 1234567", tmp_path)
    refused = respond(fields, certificate, other)
    assert (refused.status_code, refused.json()["error"]) == (400, "bad_signature")
    assert refused.json()["message_ja"]
    assert browser.http.get(f"/interaction/{uid}/card/status").json()["state"] == "failed"
    # the right signature, but the challenge was used up by the failed attempt: a replay
    _, genuine = _sign(lab, message, tmp_path)
    replay = respond(fields, certificate, genuine)
    assert (replay.status_code, replay.json()["error"]) == (400, "challenge_invalid")
    fields, message = challenge()
    _, genuine = _sign(lab, message, tmp_path)
    assert respond(fields, certificate, genuine).json() == {"status": "verified"}
    again = respond(fields, certificate, genuine)
    assert (again.status_code, again.json()["error"]) == (409, "already_verified")
    assert browser.wait_status(uid)["state"] == "verified"
    # another browser cannot see or finish it
    stranger = Browser.open(provider)
    assert stranger.http.get(f"/interaction/{uid}/card/status").status_code == 404
    assert "/interaction/" not in stranger.http.post(f"/interaction/{uid}/card/finish").headers.get("location", "")
    unknown = api.post("/card-login/challenge", json={"token": secrets.token_urlsafe(32)})
    assert (unknown.status_code, unknown.json()["error"]) == (404, "unknown_login")


def test_cross_interaction_replay_fails(provider: Provider, lab: PcscLab, card: CardProfile,
                                        clients: dict[str, str], tmp_path: Path) -> None:
    """A challenge, or a card signature, of one interaction never completes another one."""
    api = httpx.Client(base_url=provider.url, timeout=20)
    tickets = []
    for _ in range(2):
        browser = Browser.open(provider)
        uid, _ = browser.authorize("rp1", "openid", prompt="login")
        tickets.append((browser, uid, {"token": browser.login_page(uid)["token"]}))
    (first, first_uid, ticket_a), (second, second_uid, ticket_b) = tickets
    fields = api.post("/card-login/challenge", json=ticket_a).json()
    message = LoginMessage(provider.url, fields["interaction"], b64decode(fields["challenge"]),
                           dt.datetime.fromtimestamp(fields["issued_at"], dt.UTC), Purpose.AUTH)
    certificate, signature = _sign(lab, encode_login_message(message), tmp_path)
    # A's challenge and A's genuine signature, sent for B: B does not know the challenge
    other = api.post("/card-login/response", json={**ticket_b, "challenge": fields["challenge"],
                                                   "certificate": b64url(certificate), "signature": b64url(signature)})
    assert (other.status_code, other.json()["error"]) == (400, "challenge_invalid")
    # A's signature with a challenge B was given: the message B expects differs, so the signature does not verify
    fields_b = api.post("/card-login/challenge", json=ticket_b).json()
    crossed = api.post("/card-login/response", json={**ticket_b, "challenge": fields_b["challenge"],
                                                     "certificate": b64url(certificate),
                                                     "signature": b64url(signature)})
    assert (crossed.status_code, crossed.json()["error"]) == (400, "bad_signature")
    assert second.http.get(f"/interaction/{second_uid}/card/status").json()["state"] == "failed"
    # A's challenge, once presented anywhere, is used up: not even A can use it now; a fresh one works
    burnt = api.post("/card-login/response", json={**ticket_a, "challenge": fields["challenge"],
                                                   "certificate": b64url(certificate), "signature": b64url(signature)})
    assert (burnt.status_code, burnt.json()["error"]) == (400, "challenge_invalid")
    fields = api.post("/card-login/challenge", json=ticket_a).json()
    message = LoginMessage(provider.url, fields["interaction"], b64decode(fields["challenge"]),
                           dt.datetime.fromtimestamp(fields["issued_at"], dt.UTC), Purpose.AUTH)
    _, signature = _sign(lab, encode_login_message(message), tmp_path)
    assert api.post("/card-login/response", json={**ticket_a, "challenge": fields["challenge"],
                                                  "certificate": b64url(certificate),
                                                  "signature": b64url(signature)}).json() == {"status": "verified"}
    assert first.wait_status(first_uid)["state"] == "verified"


def test_a_revoked_card_fails_closed(provider: Provider, agent: Agent, lab: PcscLab, pki: Pki,
                                     clients: dict[str, str]) -> None:
    insert(lab, pki.revoked)
    browser = Browser.open(provider)
    uid, _ = browser.authorize("rp1", "openid", prompt="login")
    view = agent_login(agent, provider, {"token": browser.login_page(uid)["token"]}, AUTH_PIN)
    assert view["state"] == "failed"
    assert view["error"]["reason"] == "certificate_revoked"
    assert "失効" in view["error"]["message_ja"]
    status = browser.wait_status(uid)
    assert status["state"] == "failed"
    assert status["error"]["error"] == "certificate_revoked"
    assert browser.finish(uid) == f"/interaction/{uid}"  # no login: back to the login page


# --- logs (keep last: it reads everything the module's logins wrote) -------------------------------------------


def _forms(secret: str) -> list[str]:
    raw = secret.encode()
    return [secret, raw.hex(), raw.hex().upper(), raw.hex(" "), raw.hex(" ").upper()]


def check_logs(provider: Provider, agent: Agent) -> None:
    """The provider's and the agent's logs saw logins and refusals, and carry no PIN and no basic fact."""
    logs = provider.log.read_text(encoding="utf-8") + agent.log.read_text(encoding="utf-8")
    assert "card_login_verified" in logs
    assert "card_login_refused" in logs or "card_login_precheck_refused" in logs  # at the response or before the PIN
    assert "login_done" in logs
    for line in logs.splitlines():
        for secret in (AUTH_PIN, SIGN_PASSWORD):
            for form in _forms(secret):
                assert form not in line, line
        for fact in FACT_STRINGS:
            assert fact not in line, line
        if line.startswith("{"):
            json.loads(line)  # the provider's logs stay structured


def test_no_pin_and_no_basic_fact_in_any_log_line(provider: Provider, agent: Agent) -> None:
    check_logs(provider, agent)
