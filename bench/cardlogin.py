"""``python -m bench cardlogin``: complete card logins per second through the real provider and the virtual card.

One login is what a relying party, a browser and the card agent do together, with the authentication certificate
(the 4-digit PIN; no consent page after the first login, which is untimed warm-up):

1. ``GET /authorize`` (public client, PKCE S256) → the interaction; ``GET`` its card login page (the token);
2. the agent's work, :func:`cardreader.login.run_login` in this process: ``POST /card-login/challenge``, wait for
   the card, read it (select the JPKI AP, certificate, tries), the PIN, sign the login message, ``POST
   /card-login/response`` — where the provider verifies path, CRL and signature and records the login;
3. ``POST /interaction/{uid}/card/finish`` and the redirects to the code; ``POST /token``.

Parts, all real processes on loopback: ``idp serve`` (1 worker, SQLite, test mode, the test PKI's roots and a CRL
per root), a private pcscd with vpcd and the virtual card (:class:`cardreader.virtual.lab.PcscLab`), this process
as browser, relying party and agent. Logins run one after the other.

Reported (one JSON line): ``logins_per_s`` (timed logins over their wall time); ``login_p50_ms``/``p99``;
``card_p50_ms`` — the card's own time (reading it and signing, steps ``waiting_for_card`` to ``waiting_for_pin``
and ``signing`` to ``sending``), reported apart from ``provider_p50_ms``, the rest of the login (every HTTP
exchange with the provider, our client's share included); ``verify_p50_ms``/``verify_p99_ms`` — the provider-side
verification as the agent sees it: the ``/card-login/response`` round trip (body parsing, challenge consumed,
path to the pinned root, CRL lookup, signature, login recorded). The machine is shared: ``loadavg_at_start``.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx

from cardreader.jpki import Key
from cardreader.login import CardOptions, PinRequest, Provider, Step, Ticket, run_login
from cardreader.pin import Pin
from cardreader.virtual.lab import PcscLab
from cardreader.virtual.profile import create_profile
from conformance.oidc_targets import free_port
from keys.service import KeyEncryptionKeys
from keys.testpki import TestPki
from keys.testpki.revocation import issue_crl

AUTH_PIN = "5820"
SIGN_PASSWORD = "BENCH2026"
REDIRECT_URI = "http://127.0.0.1:9/cb"  # never contacted: the code is read from the redirect


class _Prompt:
    """The person at the reader: types the PIN at once."""

    def confirm_last_try(self, request: PinRequest) -> bool:
        return False

    def ask_pin(self, request: PinRequest) -> Pin:
        return Pin(Key.AUTH, AUTH_PIN)


@contextmanager
def _provider(workdir: Path, trust: Path, crls: Path) -> Iterator[str]:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MYNACARD_DATA_DIR": str(workdir / "var"), "MYNACARD_ISSUER": issuer,
           "MYNACARD_TEST_MODE": "1", "MYNACARD_KEYS_KEKS": KeyEncryptionKeys.generate(),
           "MYNACARD_LOGGING_LEVEL": "WARNING", "MYNACARD_LOGGING_REQUESTS": "0",
           "MYNACARD_CARD_LOGIN_TRUST_DIR": str(trust), "MYNACARD_CARD_LOGIN_CRL_DIR": str(crls)}
    subprocess.run([sys.executable, "-m", "idp", "clients", "add", "bench", "--redirect-uri", REDIRECT_URI,
                    "--auth-method", "none"], env=env, check=True, capture_output=True, timeout=120)
    with (workdir / "idp.log").open("ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "idp", "serve", "--port", str(port)], env=env,
                                   stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{issuer}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit("bench cardlogin: idp serve did not start")
            time.sleep(0.1)
        yield issuer
    finally:
        process.terminate()
        process.wait(20)


def pcscd_missing(bench: str) -> bool:
    """Whether the card parts are missing (then says so)."""
    if shutil.which("pcscd") is None:
        print(f"bench {bench}: needs pcscd and vsmartcard-vpcd", file=sys.stderr)
        return True
    return False


@contextmanager
def card_and_provider(bench: str) -> Iterator[tuple[str, Provider]]:
    """The parts of a card bench, in a temporary directory: the test PKI with a card (:data:`AUTH_PIN`,
    :data:`SIGN_PASSWORD`) inserted into a private pcscd, the pinned roots, an empty CRL per root, ``idp serve``
    with a public client ``bench``; yields the issuer URL and the agent's client of the provider."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{bench}-") as tmp, _parts(Path(tmp)) as issuer:
        provider = Provider(issuer, test_mode=True)
        try:
            yield issuer, provider
        finally:
            provider.close()


@contextmanager
def _parts(workdir: Path) -> Iterator[str]:
    now = dt.datetime.now(dt.UTC)
    profile = create_profile(workdir / "card.json", pki_dir=workdir / "pki", now=now, auth_pin=AUTH_PIN,
                             sign_password=SIGN_PASSWORD)
    pki = TestPki.open(workdir / "pki")
    trust = pki.write_trust_directory(workdir / "trust")
    crls = workdir / "crls"
    crls.mkdir()
    for root in pki.roots():
        (crls / f"{root.purpose.value}-gen{root.generation}.crl").write_bytes(issue_crl(
            root, [], this_update=now - dt.timedelta(minutes=5), next_update=now + dt.timedelta(days=1),
            crl_number=1))
    with PcscLab(workdir / "lab") as lab, _provider(workdir, trust, crls) as issuer:
        lab.insert(profile.path)
        yield issuer


def follow_to_code(browser: httpx.Client, issuer: str, location: str) -> str:
    """After the card step: finish it, allow the claims consent page if it comes (first visit), follow the
    redirects to the relying party; the authorization code."""
    answer = browser.post(f"{location}/card/finish", headers={"Origin": issuer})
    for _ in range(6):
        target = urljoin(issuer, answer.headers["location"])
        if target.startswith(REDIRECT_URI):
            break
        if target.endswith("/consent"):
            answer = browser.post(target, content="decision=allow", headers={
                "Content-Type": "application/x-www-form-urlencoded", "Origin": issuer})
        else:
            answer = browser.get(target)
    return parse_qs(urlsplit(target).query)["code"][0]


def card_token(page: str) -> Ticket:
    """The card login ticket on a card login page."""
    token = re.search(r'data-token="([A-Za-z0-9_-]{43})"', page)
    assert token, page[:300]
    return Ticket.token(token[1])


def pkce() -> tuple[str, str]:
    """A PKCE S256 verifier and its challenge (RFC 7636 §4.1, §4.2)."""
    verifier = secrets.token_urlsafe(32)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def card_time(marks: dict[Step, float]) -> float:
    """The card's own time in one agent run: reading it, and signing (the APDUs)."""
    return (marks[Step.WAITING_FOR_PIN] - marks[Step.WAITING_FOR_CARD]) + (marks[Step.SENDING] - marks[Step.SIGNING])


def ms(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (seconds) in milliseconds."""
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 3)


def _login(issuer: str, provider: Provider) -> dict[str, float]:
    """One complete login; its timings in seconds."""
    marks: dict[Step, float] = {}
    started = time.perf_counter()
    with httpx.Client(base_url=issuer, timeout=20, follow_redirects=False) as browser:
        verifier, challenge = pkce()
        query = urlencode({"response_type": "code", "client_id": "bench", "redirect_uri": REDIRECT_URI,
                           "scope": "openid", "state": "s", "nonce": "n", "code_challenge": challenge,
                           "code_challenge_method": "S256", "prompt": "login"})
        location = browser.get(f"/authorize?{query}").headers["location"]
        run_login(provider, card_token(browser.get(location).text), _Prompt(), CardOptions(test_mode=True),
                  on_step=lambda step: marks.__setitem__(step, time.perf_counter()))
        code = follow_to_code(browser, issuer, location)
        tokens = browser.post("/token", data={"grant_type": "authorization_code", "code": code,
                                              "redirect_uri": REDIRECT_URI, "client_id": "bench",
                                              "code_verifier": verifier})
        assert tokens.status_code == 200, tokens.text
    total = time.perf_counter() - started
    card = card_time(marks)
    return {"total": total, "card": card, "provider": total - card, "verify": marks[Step.DONE] - marks[Step.SENDING]}


def main(argv: list[str]) -> int:
    """Run the benchmark and print one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench cardlogin", description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=100, help="timed logins")
    parser.add_argument("--warmup", type=int, default=5, help="untimed logins first (the first one consents)")
    args = parser.parse_args(argv)
    if pcscd_missing("cardlogin"):
        return 1
    loadavg = os.getloadavg()[0]
    with card_and_provider("cardlogin") as (issuer, provider):
        for _ in range(args.warmup):
            _login(issuer, provider)
        started = time.perf_counter()
        runs = [_login(issuer, provider) for _ in range(args.iterations)]
        wall = time.perf_counter() - started

    def column(name: str) -> list[float]:
        return [run[name] for run in runs]

    print(json.dumps({
        "bench": "cardlogin",
        "iterations": args.iterations,
        "logins_per_s": round(args.iterations / wall, 2),
        "login_p50_ms": ms(column("total"), 0.5),
        "login_p99_ms": ms(column("total"), 0.99),
        "card_p50_ms": ms(column("card"), 0.5),
        "card_share": round(sum(column("card")) / sum(column("total")), 3),
        "provider_p50_ms": ms(column("provider"), 0.5),
        "verify_p50_ms": ms(column("verify"), 0.5),
        "verify_p99_ms": ms(column("verify"), 0.99),
        "mean_ms": round(1000 * statistics.fmean(column("total")), 3),
        "loadavg_at_start": round(loadavg, 2),
        "python": platform.python_version(),
    }))
    return 0


__all__ = ["AUTH_PIN", "REDIRECT_URI", "SIGN_PASSWORD", "card_and_provider", "card_time", "card_token",
           "follow_to_code", "main", "ms", "pcscd_missing", "pkce"]
