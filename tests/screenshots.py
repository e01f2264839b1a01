"""Screenshots of every page a person sees, from the real pages: ``python -m tests.screenshots [OUT_DIR]``.

It runs ``idp demo`` (the provider, the card agent, the virtual card in a private pcscd, the demo relying party) on
free ports in a temporary directory and walks through it in headless Chromium, in Japanese and in English, at a
phone's width (360 px) and a desktop's (1280 px): the card login page, the card agent's code page and PIN pad,
the consent page, the logout confirmation and the logged-out page, the cross-device page, the error page and the
expired page. Full-page PNGs go to ``docs/screenshots/<page>-<lang>-<width>.png`` (the README shows some), so
they stay true: run it again after changing a page.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from cardreader.virtual.profile import DEFAULT_SIGN_PASSWORD
from tests.support.processes import ROOT, free_port

WIDTHS = (360, 1280)
LOCALES = {"ja": "ja-JP", "en": "en-US"}
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def _wait(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise SystemExit("idp demo stopped early")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} never answered") from None
            time.sleep(0.3)


class Shooter:
    """Saves a page at every width as ``<name>-<lang>-<width>.png``."""

    def __init__(self, out: Path) -> None:
        self.out = out
        out.mkdir(parents=True, exist_ok=True)

    def __call__(self, page: Any, name: str, lang: str, *, ready: Callable[[], None] | None = None) -> None:
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            if ready is not None:
                ready()
            page.screenshot(path=str(self.out / f"{name}-{lang}-{width}.png"), full_page=True)
        print(f"{name}-{lang}", flush=True)


def _walk(browser: Any, shoot: Shooter, lang: str, provider: str, rp: str, agent: str) -> None:
    """One language: the signing login with consent, the agent's pages, logout, and the other pages."""
    context = browser.new_context(locale=LOCALES[lang], device_scale_factor=1)
    page = context.new_page()
    page.goto(f"{rp}/")  # the demo's start page; its second login shares facts (signing certificate, consent)
    page.goto(f"{rp}/login?scope=openid+name+birthdate&prompt=consent")  # consent asked in each language
    page.wait_for_url("**/interaction/*")
    page.locator("#pinpad-link").wait_for(state="visible", timeout=30_000)
    shoot(page, "login", lang)
    pad = context.new_page()
    pad.goto(f"{agent}/pinpad")
    pad.locator("#secret").wait_for(state="visible", timeout=30_000)
    shoot(pad, "agent-pinpad", lang)
    pad.keyboard.type(DEFAULT_SIGN_PASSWORD)
    pad.keyboard.press("Enter")
    page.wait_for_url("**/consent", timeout=30_000)
    shoot(page, "consent", lang)
    page.locator("input[value=name]").check()
    page.locator("input[value=birthdate]").check()
    page.locator("button[value=allow]").click()
    page.wait_for_url(f"{rp}/callback*", timeout=30_000)
    page.goto(f"{provider}/logout?client_id=demo-rp")
    shoot(page, "logout", lang)
    page.locator("button[value=yes]").click()
    page.wait_for_load_state()
    shoot(page, "logged-out", lang)
    code_page = context.new_page()
    code_page.goto(f"{agent}/")
    shoot(code_page, "agent-code", lang)
    for name, path in (("device", "/card-login/device"), ("expired", f"/interaction/{'x' * 43}"),
                       ("error", "/authorize?client_id=nobody&response_type=code&scope=openid")):
        page.goto(f"{provider}{path}")
        shoot(page, name, lang)
    context.close()


def main(argv: list[str]) -> int:
    """Take every screenshot into ``argv[0]`` (default ``docs/screenshots``)."""
    from playwright.sync_api import sync_playwright

    out = Path(argv[0]) if argv else ROOT / "docs" / "screenshots"
    port, rp_port, agent_port = free_port(), free_port(), free_port()
    provider, rp, agent = (f"http://127.0.0.1:{p}" for p in (port, rp_port, agent_port))
    with tempfile.TemporaryDirectory(prefix="screenshots-") as data:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("MYNACARD_")}, "MYNACARD_DATA_DIR": data}
        demo = subprocess.Popen(
            [sys.executable, "-m", "idp", "demo", "--port", str(port), "--rp-port", str(rp_port),
             "--agent-port", str(agent_port)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
        try:
            _wait(f"{rp}/", demo)
            _wait(f"{agent}/", demo)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
                for lang in LOCALES:
                    _walk(browser, Shooter(out), lang, provider, rp, agent)
                browser.close()
        finally:
            demo.send_signal(signal.SIGTERM)
            demo.wait(60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
