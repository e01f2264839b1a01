"""RFC 8628 with openid-client (npm) as the client, over real HTTP against ``idp serve`` (test mode, the TEST
authenticator for the person's login on the verification page): approval with slow_down on the way, denial and
expiry, each as openid-client reports it. (CIBA with the card at a counter reader is
tests/idp/cardlogin/test_counter_ciba.py.)"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from conformance.oidc_driver import OpenIdClient, RpError
from keys.service import KeyEncryptionKeys
from tests.support.processes import ROOT, free_port, serving

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("node") is None, reason="needs node")]
_TEST_LOGIN = re.compile(r'<form method="post" action="([^"]*/test-login)"')
_CONSENT = re.compile(r'<form method="post" action="([^"]*/consent)"')


@dataclass
class Served:
    url: str
    rp: OpenIdClient


@contextmanager
def served(base: Path, **env: str) -> Iterator[Served]:
    """``idp serve`` (test mode, TEST authenticator) with a public client ``tv``; openid-client configured for it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environ = {**os.environ, "MYNACARD_DATA_DIR": str(base / "var"), "MYNACARD_ISSUER": url,
               "MYNACARD_TEST_MODE": "1", "MYNACARD_KEYS_KEKS": KeyEncryptionKeys.generate(),
               "MYNACARD_LOGIN_AUTHENTICATOR": "test", **env}
    with serving([sys.executable, "-m", "idp", "serve", "--port", str(port)], env=environ, log=base / "idp.log",
                 url=url):
        subprocess.run([sys.executable, "-m", "idp", "clients", "add", "tv", "--redirect-uri", "https://tv.example/cb",
                        "--auth-method", "none"], env=environ, cwd=ROOT, check=True, capture_output=True, timeout=60)
        with OpenIdClient(base / "rp.log", "decoupled.mjs") as rp:
            rp.call("configure", issuer=url, clients={"tv": {"client_id": "tv", "auth": "none"}})
            yield Served(url, rp)


@pytest.fixture(scope="module")
def op(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served(tmp_path_factory.mktemp("device"), MYNACARD_AUTHORIZATION_POLL_INTERVAL="1") as running:
        yield running


def in_background(call: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """Run ``call`` (an openid-client poll, which blocks until it ends) in a thread; the returned function waits
    for its result (or raises its error)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except RpError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def result() -> dict[str, Any]:
        thread.join(60)
        assert not thread.is_alive(), "openid-client is still polling"
        if "error" in outcome:
            raise outcome["error"]
        return dict(outcome["result"])
    return result


def person(op: Served, verification_uri_complete: str, decision: str, account: str = "tv-viewer") -> str:
    """The person at a browser: opens the verification URI (the QR code's), confirms, logs in; the final page."""
    with httpx.Client(base_url=op.url, timeout=20, follow_redirects=False) as browser:
        target = urlsplit(verification_uri_complete)
        assert f"{target.scheme}://{target.netloc}" == op.url
        page = browser.get(f"{target.path}?{target.query}")
        user_code = re.search(r'name="user_code" value="([^"]+)"', page.text)
        assert page.status_code == 200
        assert user_code
        confirm = browser.post("/device", data={"user_code": user_code[1]})
        assert confirm.status_code == 200
        assert "tv" in confirm.text
        answer = browser.post("/device", data={"user_code": user_code[1], "decision": decision})
        if decision != "allow":
            return answer.text
        assert answer.status_code == 303
        login = browser.get(answer.headers["location"])
        action = _TEST_LOGIN.search(login.text)
        assert action, login.text[:500]
        step = browser.post(action[1], data={"account_id": account})
        for _ in range(6):
            consent = _CONSENT.search(step.text) if step.status_code == 200 else None
            if consent is not None:
                step = browser.post(consent[1], data={"decision": "allow"})
            elif step.status_code == 303:
                step = browser.get(step.headers["location"])
            else:
                break
        assert "mynacard_session" not in browser.cookies  # a device login opens no session
        return step.text


def test_openid_client_gets_tokens_after_slow_down(op: Served) -> None:
    started = op.rp.call("device_start", client="tv", params={"scope": "openid"})
    assert started["verification_uri"] == op.url + "/device"
    # a client that polls at once and again at once (interval 0) is told slow_down, adds 5 s and then succeeds
    tokens = in_background(lambda: op.rp.call("device_poll", client="tv", device_code=started["device_code"],
                                              interval=0))
    page = person(op, started["verification_uri_complete"], "allow")
    assert "go back to the device" in page or "機器に戻って" in page
    result = tokens()
    assert result["seen"][:2] == ["authorization_pending", "slow_down"], result["seen"]
    claims = result["claims"]
    assert claims["iss"] == op.url
    assert claims["aud"] == "tv"
    assert isinstance(claims["auth_time"], int)
    assert claims["acr"] == "urn:mynacard:acr:test"
    assert result.get("refresh_token") is None


def test_openid_client_reports_a_denial(op: Served) -> None:
    started = op.rp.call("device_start", client="tv", params={"scope": "openid"})
    outcome = in_background(lambda: op.rp.call("device_poll", client="tv", device_code=started["device_code"]))
    person(op, started["verification_uri_complete"], "deny")
    with pytest.raises(RpError) as denied:
        outcome()
    assert denied.value.error == "access_denied"


def test_openid_client_reports_expiry(tmp_path: Path) -> None:
    with served(tmp_path, MYNACARD_AUTHORIZATION_POLL_INTERVAL="1", MYNACARD_AUTHORIZATION_DEVICE_CODE_TTL="2") as op:
        started = op.rp.call("device_start", client="tv", params={"scope": "openid"})
        assert started["expires_in"] == 2
        with pytest.raises(RpError) as expired:
            op.rp.call("device_poll", client="tv", device_code=started["device_code"], timeout=30)
        assert expired.value.error == "expired_token"
        assert expired.value.details["seen"][-1] == "expired_token"
