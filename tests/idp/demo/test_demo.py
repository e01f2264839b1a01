"""``idp demo`` (what ``./dev serve`` runs): every part starts, the demo relying party's login reaches the
provider's card login page, and Ctrl-C stops every process it started."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[3]


def _wait(url: str, process: subprocess.Popen[str], timeout: float = 90, **headers: str) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, "idp demo stopped early"
        try:
            return httpx.get(url, headers=headers, timeout=2)
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{url} never answered"
            time.sleep(0.3)


def _demo(tmp_path: Path) -> tuple[subprocess.Popen[str], int, int, int]:
    """``idp demo`` on free ports: the process and its provider, relying party and agent ports."""
    port, rp_port, agent_port = free_port(), free_port(), free_port()
    env = {**os.environ, "MYNACARD_DATA_DIR": str(tmp_path / "var")}
    process = subprocess.Popen(
        [sys.executable, "-m", "idp", "demo", "--port", str(port), "--rp-port", str(rp_port),
         "--agent-port", str(agent_port)], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    return process, port, rp_port, agent_port


@pytest.mark.pcsc
def test_demo_runs_and_stops(tmp_path: Path) -> None:
    process, port, rp_port, agent_port = _demo(tmp_path)
    try:
        home = _wait(f"http://127.0.0.1:{rp_port}/", process)
        assert "Log in with the card" in home.text
        with httpx.Client(follow_redirects=True, timeout=10) as browser:
            page = browser.get(f"http://127.0.0.1:{rp_port}/login?scope=openid")
            script = browser.get(f"http://127.0.0.1:{port}/card-login/login.js")
        assert page.status_code == 200
        assert str(page.url).startswith(f"http://127.0.0.1:{port}/interaction/")
        assert f"127.0.0.1:{agent_port}" in page.text + script.text
        status = _wait(f"http://127.0.0.1:{agent_port}/v1/status", process, Origin=f"http://127.0.0.1:{port}")
        assert status.status_code == 200, status.text
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "PIN 1234" in output
    left = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True, check=False).stdout
    assert not re.findall(r"\d+", left), "processes of the demo survived it"


@pytest.mark.pcsc
@pytest.mark.slow
def test_the_demo_signing_login_releases_the_facts_after_consent(tmp_path: Path) -> None:
    """The README's main command as a person uses it, in headless Chromium: the second button of the demo relying
    party, the signing password typed into the agent's PIN pad, the consent page, the facts shown by the RP."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("needs Debian's chromium")
    process, port, rp_port, agent_port = _demo(tmp_path)
    try:
        _wait(f"http://127.0.0.1:{rp_port}/", process)
        _wait(f"http://127.0.0.1:{agent_port}/v1/status", process, Origin=f"http://127.0.0.1:{port}")
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
            context = browser.new_context(locale="en-US")
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{rp_port}/")
            page.get_by_role("link", name="share name and birth date").click()
            page.locator("#pinpad-link").wait_for(state="visible", timeout=30_000)
            pad = context.new_page()
            pad.goto(f"http://127.0.0.1:{agent_port}/pinpad")
            pad.locator("#secret").wait_for(state="visible", timeout=30_000)
            pad.keyboard.type("ABC123")
            pad.keyboard.press("Enter")
            page.wait_for_url("**/consent", timeout=30_000)
            page.get_by_role("checkbox").first.check()
            page.get_by_role("checkbox").nth(1).check()
            page.get_by_role("button", name="Allow").click()
            page.wait_for_url(f"http://127.0.0.1:{rp_port}/callback*", timeout=30_000)
            shown = str(page.text_content("body"))
            browser.close()
        assert "Logged in. The nonce matches." in shown
        assert '"acr": "urn:mynacard:acr:sign-cert"' in shown
        assert '"name":' in shown
        assert '"birthdate":' in shown
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert f"http://127.0.0.1:{agent_port}/pinpad" in output
