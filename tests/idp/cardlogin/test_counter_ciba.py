"""CIBA at a counter, end to end: openid-client (npm) is the staff client, ``idp serve`` the provider, the card agent
(``--counter-reader``) the authentication device with a private pcscd and the virtual card, the test the person at the
reader (the agent's PIN pad). Poll and ping modes, denial at the PIN pad, expiry, a busy reader, unknown readers,
bad binding messages, and an agent that is not the registered one."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from cardreader.virtual.lab import PcscLab
from conformance.oidc_driver import OpenIdClient, RpError
from tests.idp.test_device_openid_client import in_background
from tests.support.processes import ROOT, free_port

from .conftest import AUTH_PIN, Agent, Pki, Provider, insert, running_agent, running_provider

pytestmark = [pytest.mark.pcsc, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("node") is None, reason="needs node")]
READER = "counter-1"
BINDING = "受付 42番"


class Notifications(BaseHTTPRequestHandler):
    """The staff system's ping endpoint (CIBA Core §10.2): records what the provider POSTs."""

    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append({"authorization": self.headers.get("Authorization"), "body": json.loads(body)})
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Counter:
    provider: Provider
    agent: Agent
    rp: OpenIdClient
    key_file: Path
    notifications: list[dict[str, Any]]


@pytest.fixture(scope="module")
def counter(pki: Pki, lab: PcscLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Counter]:
    base = tmp_path_factory.mktemp("counter")
    agent_port = free_port()
    hook = ThreadingHTTPServer(("127.0.0.1", 0), Notifications)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    with running_provider(base, pki, agent_port, MYNACARD_AUTHORIZATION_POLL_INTERVAL="1") as provider:
        key_file = base / "agent-key.pem"
        jwk = subprocess.run([sys.executable, "-m", "cardreader", "counter-key", str(key_file)], capture_output=True,
                             text=True, cwd=ROOT, check=True, timeout=60).stdout
        (base / "agent.jwk").write_text(jwk)
        provider.idp("counter", "add", READER, "--jwk", str(base / "agent.jwk"))
        secrets_of = {}
        for client_id in ("staff", "staff-ping", "kiosk-public"):
            auth = "none" if client_id == "kiosk-public" else "client_secret_basic"
            added = json.loads(provider.idp("clients", "add", client_id, "--redirect-uri", "https://staff.example/cb",
                                            "--auth-method", auth).stdout)
            secrets_of[client_id] = added["client_secret"]
        provider.idp("counter", "client", "staff-ping", "--mode", "ping", "--notification-endpoint",
                     f"http://127.0.0.1:{hook.server_address[1]}/ciba")
        with running_agent(provider, lab, agent_port, base / "agent.log", "--counter-reader", READER,
                           "--counter-key", str(key_file)) as agent, \
                OpenIdClient(base / "rp.log", "decoupled.mjs") as rp:
            rp.call("configure", issuer=provider.url, clients={
                name: {"client_id": name, "auth": "client_secret_basic", "secret": secrets_of[name]}
                for name in ("staff", "staff-ping")} | {"kiosk-public": {"client_id": "kiosk-public", "auth": "none"}})
            yield Counter(provider, agent, rp, key_file, Notifications.received)
    hook.shutdown()


def start(counter: Counter, client: str = "staff", **params: str) -> dict[str, Any]:
    """A CIBA request; the first ones wait until the agent has shown itself to the provider (it asks every
    second)."""
    deadline = time.monotonic() + 15
    while True:
        try:
            return counter.rp.call("ciba_start", client=client, params={
                "scope": "openid", "login_hint": f"reader:{READER}", "binding_message": BINDING, **params})
        except RpError as exc:
            if "offline" not in str(exc.details.get("error_description")) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def pinpad(agent: Agent, timeout: float = 20) -> dict[str, Any]:
    """The PIN pad's open prompt, once there is one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = httpx.get(f"{agent.url}/pinpad/state", headers={"Origin": agent.url}).json()
        if state["prompt"] is not None:
            return dict(state)
        time.sleep(0.05)
    raise AssertionError(f"no PIN prompt:\n{agent.log.read_text()[-2000:]}")


def answer(agent: Agent, prompt: str, **body: Any) -> None:
    answered = httpx.post(f"{agent.url}/pinpad/answer", json={"prompt": prompt, **body},
                          headers={"Origin": agent.url})
    assert answered.status_code in (200, 204), answered.text


def enter_pin(counter: Counter, typing: float = 0.0) -> dict[str, Any]:
    """The person: reads the binding message on the PIN pad and types the PIN (taking ``typing`` seconds)."""
    state = pinpad(counter.agent)
    assert BINDING in state["headline_ja"]
    assert BINDING in state["headline"]
    time.sleep(typing)
    answer(counter.agent, state["prompt"], pin=AUTH_PIN)
    return state


def wait_idle(counter: Counter) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = httpx.get(f"{counter.agent.url}/v1/status", headers={"Origin": counter.provider.url}).json()
        if status["state"] == "idle":
            return
        time.sleep(0.05)
    raise AssertionError("the agent stayed busy")


def test_poll_mode_gives_the_staff_client_tokens(counter: Counter, lab: PcscLab, pki: Pki) -> None:
    insert(lab, pki.adult)
    started = start(counter)
    assert started["interval"] == 1
    assert started["expires_in"] == 120
    tokens = in_background(lambda: counter.rp.call("ciba_poll", client="staff", auth_req_id=started["auth_req_id"]))
    before = int(time.time())
    enter_pin(counter, typing=2.5)  # longer than the interval: openid-client polls meanwhile
    result = tokens()
    claims = result["claims"]
    assert claims["aud"] == "staff"
    assert claims["acr"] == "urn:mynacard:acr:auth-cert"
    assert claims["amr"] == ["sc", "pin"]
    assert before - 2 <= claims["auth_time"] <= int(time.time())
    assert "authorization_pending" in result["seen"]
    assert "name" not in claims
    wait_idle(counter)


def test_ping_mode_notifies_then_the_client_collects(counter: Counter, lab: PcscLab, pki: Pki) -> None:
    insert(lab, pki.adult)
    notification_token = secrets.token_urlsafe(32)
    counter.notifications.clear()
    started = start(counter, "staff-ping", client_notification_token=notification_token)
    enter_pin(counter)
    deadline = time.monotonic() + 20
    while not counter.notifications and time.monotonic() < deadline:
        time.sleep(0.05)
    assert counter.notifications == [{"authorization": f"Bearer {notification_token}",
                                      "body": {"auth_req_id": started["auth_req_id"]}}]
    result = counter.rp.call("ciba_poll", client="staff-ping", auth_req_id=started["auth_req_id"], interval=0)
    assert result["seen"] == []  # notified first, so the first token request already succeeds
    assert result["claims"]["acr"] == "urn:mynacard:acr:auth-cert"
    wait_idle(counter)


def test_ping_clients_must_send_a_notification_token(counter: Counter) -> None:
    with pytest.raises(RpError) as refused:
        start(counter, "staff-ping")
    assert refused.value.error == "invalid_request"


def test_cancel_at_the_pin_pad_is_access_denied(counter: Counter, lab: PcscLab, pki: Pki) -> None:
    insert(lab, pki.adult)
    started = start(counter)
    outcome = in_background(lambda: counter.rp.call("ciba_poll", client="staff", auth_req_id=started["auth_req_id"]))
    state = pinpad(counter.agent)
    answer(counter.agent, state["prompt"], cancel=True)
    with pytest.raises(RpError) as denied:
        outcome()
    assert denied.value.error == "access_denied"
    wait_idle(counter)


def test_taking_the_card_out_at_the_pin_pad_is_access_denied(counter: Counter, lab: PcscLab, pki: Pki) -> None:
    insert(lab, pki.adult)
    started = start(counter)
    outcome = in_background(lambda: counter.rp.call("ciba_poll", client="staff", auth_req_id=started["auth_req_id"]))
    pinpad(counter.agent)
    lab.remove()
    with pytest.raises(RpError) as denied:
        outcome()
    assert denied.value.error == "access_denied"
    wait_idle(counter)


def test_a_busy_reader_refuses_a_second_request_and_expiry_ends_the_first(counter: Counter, lab: PcscLab,
                                                                          pki: Pki) -> None:
    insert(lab, pki.adult)
    first = start(counter, requested_expiry="3")
    assert first["expires_in"] == 3
    with pytest.raises(RpError) as busy:
        start(counter)
    assert (busy.value.error, busy.value.status) == ("access_denied", 403)
    pinpad(counter.agent)  # the person never types the PIN
    with pytest.raises(RpError) as expired:
        counter.rp.call("ciba_poll", client="staff", auth_req_id=first["auth_req_id"], timeout=30)
    assert expired.value.error == "expired_token"
    wait_idle(counter)  # the agent closes the prompt of an expired request by itself: the reader is free again
    assert httpx.get(f"{counter.agent.url}/pinpad/state", headers={"Origin": counter.agent.url}).json()["prompt"] \
        is None
    second = start(counter)
    state = pinpad(counter.agent)
    answer(counter.agent, state["prompt"], cancel=True)
    with pytest.raises(RpError) as denied:
        counter.rp.call("ciba_poll", client="staff", auth_req_id=second["auth_req_id"])
    assert denied.value.error == "access_denied"
    wait_idle(counter)


@pytest.mark.parametrize(("params", "error"), [
    ({"login_hint": "reader:counter-9"}, "unknown_user_id"),
    ({"login_hint": "taro@example.jp"}, "unknown_user_id"),
    ({"binding_message": "a\u0007b"}, "invalid_binding_message"),
    ({"binding_message": "受付\n42"}, "invalid_binding_message"),
    ({"binding_message": "長" * 41}, "invalid_binding_message"),
    ({"binding_message": ""}, "invalid_binding_message"),
    ({"scope": "openid name"}, "invalid_scope"),
    ({"scope": "profile"}, "invalid_scope"),
    ({"requested_expiry": "0"}, "invalid_request"),
])
def test_bad_requests_are_refused_in_the_spec_shape(counter: Counter, params: dict[str, str], error: str) -> None:
    with pytest.raises(RpError) as refused:
        start(counter, **params)
    assert refused.value.error == error


def test_public_clients_cannot_use_ciba(counter: Counter) -> None:
    with pytest.raises(RpError) as refused:
        start(counter, "kiosk-public")
    assert refused.value.error == "unauthorized_client"


def test_discovery_advertises_ciba(counter: Counter) -> None:
    metadata = httpx.get(counter.provider.url + "/.well-known/openid-configuration").json()
    assert metadata["backchannel_authentication_endpoint"] == counter.provider.url + "/backchannel"
    assert metadata["backchannel_token_delivery_modes_supported"] == ["poll", "ping"]
    assert metadata["backchannel_user_code_parameter_supported"] is False
    assert "urn:openid:params:grant-type:ciba" in metadata["grant_types_supported"]


def test_only_the_registered_agent_key_gets_work(counter: Counter) -> None:
    url = counter.provider.url + "/card-agent/counter/next"
    now = int(time.time())
    claims = {"iss": READER, "aud": url, "iat": now, "exp": now + 30, "jti": secrets.token_urlsafe(8)}
    forged = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")
    assert httpx.post(url, json={"assertion": forged}).status_code == 403
    assert httpx.post(url, json={"assertion": jwt.encode(claims, "x" * 32, algorithm="HS256")}).status_code == 403
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    key = load_pem_private_key(counter.key_file.read_bytes(), None)
    genuine = jwt.encode(claims, key, algorithm="ES256")
    assert httpx.post(url, json={"assertion": genuine}).status_code == 204
    assert httpx.post(url, json={"assertion": genuine}).status_code == 403  # replayed
    other = jwt.encode({**claims, "aud": counter.provider.url + "/card-agent/counter/result",
                        "jti": secrets.token_urlsafe(8)}, key, algorithm="ES256")
    assert httpx.post(url, json={"assertion": other}).status_code == 403  # for another endpoint
