"""``idp demo``: the whole service on embedded defaults, on one machine, for a person to try.

It runs what a deployment runs, with test material in place of production material:

* a JPKI-profile **test PKI** (``O=JPKI-TEST`` roots, admitted because the provider runs in test mode) and a
  virtual My Number card issued from it, under ``<data_dir>/demo`` (created once, kept between runs);
* a private **pcscd** with the vsmartcard ``vpcd`` driver and the **virtual card** in its reader
  (:class:`cardreader.virtual.lab.PcscLab`), when pcscd and vpcd are installed;
* the **card agent** on loopback, with its PIN pad page (the PIN is typed there, never in the provider's page);
* the **provider** (``idp serve``: SQLite and a development KEK in the data directory, generated signing keys);
* a tiny **relying party** on loopback (a public client with PKCE) that starts a login and shows what it
  received: the ID token's claims and the UserInfo answer.

Everything is a separate process over real HTTP, stopped by PID on Ctrl-C (SIGINT) and on SIGTERM (what a service
manager or ``timeout`` sends), also when the demo fails half-way through starting. The virtual card's PINs are
printed because the person trying the demo has to type them into the PIN pad; they are test PINs of a
virtual card, not anybody's secret.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from PIL import Image, ImageDraw

from cardreader.virtual.lab import VPCD_DRIVER, PcscLab
from cardreader.virtual.profile import (
    DEFAULT_AUTH_PIN,
    DEFAULT_SIGN_PASSWORD,
    CardProfile,
    create_profile,
    load_profile,
)
from idp.web.pages import TEMPLATES
from keys.jose.b64 import b64url_decode_loose, b64url_encode
from keys.testpki import TestPki
from keys.testpki.revocation import issue_crl

CLIENT_ID = "demo-rp"
#: The login buttons of the demo relying party: (label, scope).
LOGINS = (("Log in with the card (authentication certificate: no personal data)", "openid"),
          ("Log in and share name and birth date (signing certificate, with consent)", "openid name birthdate"))


def run(data_dir: Path, *, port: int, rp_port: int, agent_port: int) -> int:
    """Run the demo until interrupted (SIGINT or SIGTERM); 0 on a clean stop."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop)
    try:
        _run(data_dir, port=port, rp_port=rp_port, agent_port=agent_port)
    except _Stopped:
        pass
    except subprocess.CalledProcessError as exc:
        print(f"the demo could not start: {' '.join(exc.cmd[1:])} failed:\n{exc.stderr}", file=sys.stderr)
        return 1
    print("stopped", flush=True)
    return 0


class _Stopped(BaseException):
    """SIGINT or SIGTERM arrived: unwind, stopping every process started so far (a BaseException, so that no
    ``except Exception`` on the way swallows it)."""


def _stop(signum: int, frame: FrameType | None) -> None:
    """The handler of SIGINT and SIGTERM: later signals are ignored, so that they cannot cut the stopping short."""
    for other in (signal.SIGINT, signal.SIGTERM):
        signal.signal(other, signal.SIG_IGN)
    print("\nstopping", flush=True)
    raise _Stopped


def _run(data_dir: Path, *, port: int, rp_port: int, agent_port: int) -> None:
    base = (data_dir / "demo").resolve()
    issuer = f"http://127.0.0.1:{port}"
    with ExitStack() as stack:
        profile, trust, crls = _material(base)
        env = {**os.environ, "MYNACARD_DATA_DIR": str(data_dir), "MYNACARD_ISSUER": issuer,
               "MYNACARD_TEST_MODE": "1",
               "MYNACARD_CARD_LOGIN_TRUST_DIR": str(trust), "MYNACARD_CARD_LOGIN_CRL_DIR": str(crls),
               "MYNACARD_CARD_LOGIN_AGENT_URL": f"http://127.0.0.1:{agent_port}"}
        lab = stack.enter_context(_card_lab(base / "pcsc", profile))
        serve = [sys.executable, "-m", "idp", "serve", "--port", str(port)]
        stack.enter_context(_process(serve, env, base / "idp.log"))
        _wait_healthy(issuer)
        registered = threading.Event()
        server = stack.enter_context(_relying_party(issuer, rp_port, registered))  # registration fetches its logo
        _register_client(env, rp_port)
        registered.set()
        if lab is not None:
            stack.enter_context(_process(
                [sys.executable, "-m", "cardreader", "agent", "--provider", issuer, "--port", str(agent_port),
                 "--pin-entry", "pinpad", "--test-mode"], lab.env, base / "agent.log"))
        _print_welcome(server, lab is not None, base, agent_port)
        while True:
            time.sleep(3600)


def _material(base: Path) -> tuple[CardProfile, Path, Path]:
    """The test PKI and the virtual card (kept between runs), the trust directory, and a fresh empty CRL per root."""
    now = dt.datetime.now(dt.UTC)
    card = base / "card" / "card.json"
    profile = load_profile(card) if card.exists() else create_profile(card, pki_dir=base / "pki", now=now)
    pki = TestPki.open(base / "pki")
    trust = pki.write_trust_directory(base / "trust")
    crls = base / "crls"
    shutil.rmtree(crls, ignore_errors=True)
    crls.mkdir(parents=True)
    for root in pki.roots():
        crl = issue_crl(root, [], this_update=now - dt.timedelta(minutes=5), next_update=now + dt.timedelta(days=7),
                        crl_number=int(now.timestamp()))
        (crls / f"{root.purpose.value}-gen{root.generation}.crl").write_bytes(crl)
    return profile, trust, crls


@contextmanager
def _card_lab(workdir: Path, profile: CardProfile) -> Iterator[PcscLab | None]:
    """pcscd + vpcd with the virtual card inserted, or None (with a note) where they are not installed."""
    if shutil.which("pcscd") is None or not VPCD_DRIVER.exists():
        print("note: pcscd or vsmartcard-vpcd is not installed: the provider runs without a card reader "
              "(`./dev setup` installs them)", file=sys.stderr)
        yield None
        return
    with PcscLab(workdir) as lab:
        lab.insert(profile.path)
        yield lab


@contextmanager
def _process(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=out)  # noqa: S603 (our own commands)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_healthy(issuer: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{issuer}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the provider did not start; see its log under the demo directory ({issuer})")


def _register_client(env: dict[str, str], rp_port: int) -> None:
    """The demo relying party: a public client (PKCE, no secret), registered once."""
    def idp(*args: str) -> str:
        command = [sys.executable, "-m", "idp", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout  # noqa: S603

    if CLIENT_ID in idp("clients", "list"):
        idp("clients", "remove", CLIENT_ID)
    rp = f"http://127.0.0.1:{rp_port}"
    idp("clients", "add", CLIENT_ID, "--auth-method", "none", "--redirect-uri", f"{rp}/callback",
        "--client-name", "Demo service", "--client-name", "ja=デモサービス", "--logo-uri", f"{rp}/logo.png",
        "--policy-uri", f"{rp}/privacy", "--tos-uri", f"{rp}/terms",
        "--purpose", "name birthdate=会員登録の際の本人確認と年齢確認のため",
        "--purpose", "name birthdate#en=To confirm who you are and your age when you sign up",
        "--purpose", "openid=ログインした人を見分けるため", "--purpose", "openid#en=To recognise you when you log in")


class _QuietServer(ThreadingHTTPServer):
    """A browser that gave up waiting (closed its connection) is no error worth a traceback on the console."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def _relying_party(issuer: str, port: int, registered: threading.Event) -> Iterator[ThreadingHTTPServer]:
    """A minimal relying party: starts the code flow with PKCE and shows the claims it received; until the client
    is ``registered`` it serves only its logo (which registration fetches)."""
    pending: dict[str, tuple[str, str]] = {}
    redirect_uri = f"http://127.0.0.1:{port}/callback"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path != "/logo.png" and not registered.wait(120):  # no login before the client exists
                self.send_error(503)
                return
            if url.path == "/":
                self._page(_demo_page("start", logins=LOGINS))
            elif url.path == "/login":
                asked = parse_qs(url.query)
                scope = asked.get("scope", ["openid"])[0]
                state, verifier = secrets.token_urlsafe(16), secrets.token_urlsafe(48)
                pending[state] = (verifier, secrets.token_urlsafe(16))
                digest = hashlib.sha256(verifier.encode()).digest()
                challenge = b64url_encode(digest)
                params = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": redirect_uri,
                          "scope": scope, "state": state, "nonce": pending[state][1],
                          "code_challenge": challenge, "code_challenge_method": "S256"}
                if "prompt" in asked:  # prompt=consent asks again (the screenshots, in each language)
                    params["prompt"] = asked["prompt"][0]
                query = urlencode(params)
                self._redirect(f"{issuer}/authorize?{query}")
            elif url.path == "/callback":
                self._page(_finish(issuer, redirect_uri, parse_qs(url.query), pending))
            elif url.path == "/logo.png":
                self._send(_LOGO, "image/png")
            elif url.path in ("/privacy", "/terms"):
                self._page(_demo_page(url.path[1:]))
            else:
                self.send_error(404)

        def _redirect(self, location: str) -> None:
            self.send_response(303)
            self.send_header("Location", location)
            self.end_headers()

        def _page(self, body: str) -> None:
            self._send(body.encode(), "text/html; charset=utf-8")

        def _send(self, data: bytes, media_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return  # the demo relying party logs nothing: claims may be personal data

    server = _QuietServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _finish(issuer: str, redirect_uri: str, params: dict[str, list[str]], pending: dict[str, tuple[str, str]]) -> str:
    """Redeem the code (RFC 6749 §4.1.3 with PKCE), check ``iss`` (RFC 9207) and show the claims."""
    first = {name: values[0] for name, values in params.items()}
    if "error" in first:
        description = first.get("error_description", "")
        return _demo_page("refused", error=first["error"], description=description)
    state = pending.pop(first.get("state", ""), None)
    if state is None or first.get("iss") != issuer:
        return _demo_page("unexpected")
    verifier, nonce = state
    token = httpx.post(f"{issuer}/token", data={"grant_type": "authorization_code", "code": first.get("code", ""),
                                                "redirect_uri": redirect_uri, "client_id": CLIENT_ID,
                                                "code_verifier": verifier}, timeout=10)
    if token.status_code != 200:
        return _demo_page("token_failed", answer=token.text)
    tokens = token.json()
    claims = json.loads(b64url_decode_loose(tokens["id_token"].split(".")[1]))
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    userinfo = httpx.get(f"{issuer}/userinfo", headers=bearer, timeout=10)
    return _demo_page("claims", nonce_matches=claims.get("nonce") == nonce, claims=_pretty(claims),
                      userinfo=_pretty(userinfo.json()))


def _logo() -> bytes:
    """The demo relying party's logo: a blue disc on white (what the provider fetches once and serves itself)."""
    image = Image.new("RGB", (128, 128), (255, 255, 255))
    ImageDraw.Draw(image).ellipse((8, 8, 120, 120), fill=(0, 23, 193))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


_LOGO = _logo()


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _demo_page(view: str, **context: Any) -> str:
    """The demo relying party's page ``view`` (``idp/templates/demo.html``; English only, ``lang`` for ``t``)."""
    return TEMPLATES.render("demo.html", lang="en", view=view, **context)


def _print_welcome(server: ThreadingHTTPServer, with_card: bool, base: Path, agent_port: int) -> None:
    host, port = server.server_address[:2]
    lines = [f"demo relying party: http://{host!s}:{port}/  (open it in a browser on this machine)",
             f"logs and test material: {base}"]
    if with_card:
        lines.append(f"virtual card in the reader 'Virtual PCD': PIN {DEFAULT_AUTH_PIN} (authentication), "
                     f"password {DEFAULT_SIGN_PASSWORD} (signing); type them into the card agent's PIN pad, "
                     f"http://127.0.0.1:{agent_port}/pinpad (the login page links to it once the login starts); "
                     "the second login asks on a consent page which facts to share")
        lines.append(f"a login page on another device: type its code into the card agent's page, "
                     f"http://127.0.0.1:{agent_port}/")
    lines.append("Ctrl-C stops everything")
    print("\n".join(lines), flush=True)
