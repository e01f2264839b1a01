"""The parts, steps and ``main`` shared by the card benchmarks (``python -m bench cardlogin``, ``python -m bench
sign``): the test PKI with a card in a private pcscd, ``idp serve`` trusting its roots, the steps of a browser and a
relying party around the agent's :func:`cardreader.login.run_login`, and the JSON line they print.

Example (a benchmark module's ``main``)::

    def main(argv: list[str]) -> int:
        return run_bench("cardlogin", argv, __doc__, measure, iterations=100, warmup=5)

where ``measure(parts, args)`` runs the timed work against :class:`Parts` and returns the figures.
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
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from cardreader.jpki import Key
from cardreader.login import PinRequest, Provider, Step, Ticket
from cardreader.pin import Pin
from cardreader.virtual.lab import PcscLab
from cardreader.virtual.profile import create_profile
from conformance.oidc_targets import free_port
from keys.service import KeyEncryptionKeys
from keys.testpki import TestPki
from keys.testpki.revocation import issue_crl
from tests.support.postgres import Cluster, install

AUTH_PIN = "5820"
SIGN_PASSWORD = "BENCH2026"
REDIRECT_URI = "http://127.0.0.1:9/cb"  # never contacted: the code is read from the redirect


class TypingPrompt:
    """The person at the reader: types ``key``'s PIN at once (``check``: what the prompt must show first)."""

    def __init__(self, key: Key, check: Callable[[PinRequest], None] | None = None) -> None:
        self.key, self.check = key, check

    def confirm_last_try(self, request: PinRequest) -> bool:
        return False

    def ask_pin(self, request: PinRequest) -> Pin:
        if self.check is not None:
            self.check(request)
        return Pin(self.key, AUTH_PIN if self.key is Key.AUTH else SIGN_PASSWORD)


@dataclass(frozen=True)
class Parts:
    """A running card bench: the issuer's URL, the agent's client of it, and the provider's log (JSON lines)."""

    issuer: str
    provider: Provider
    log: Path


@contextmanager
def _database(kind: str) -> Iterator[dict[str, str]]:
    """The provider's database settings: SQLite in its data directory (none), or a private PostgreSQL cluster."""
    if kind == "sqlite":
        yield {}
        return
    problem = install()
    if problem is not None:
        raise SystemExit(f"bench: {problem}")
    cluster = Cluster.start()
    try:
        yield {"MYNACARD_DATABASE_URL": cluster.create_database()}
    finally:
        cluster.stop()


@contextmanager
def _provider(workdir: Path, trust: Path, crls: Path, workers: int, database: dict[str, str]) -> Iterator[str]:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MYNACARD_DATA_DIR": str(workdir / "var"), "MYNACARD_ISSUER": issuer,
           "MYNACARD_TEST_MODE": "1", "MYNACARD_KEYS_KEKS": KeyEncryptionKeys.generate(),
           "MYNACARD_LOGGING_LEVEL": "INFO", "MYNACARD_LOGGING_REQUESTS": "0",
           "MYNACARD_CARD_LOGIN_TRUST_DIR": str(trust), "MYNACARD_CARD_LOGIN_CRL_DIR": str(crls), **database}
    subprocess.run([sys.executable, "-m", "idp", "clients", "add", "bench", "--redirect-uri", REDIRECT_URI,
                    "--auth-method", "none"], env=env, check=True, capture_output=True, timeout=120)
    with (workdir / "idp.log").open("ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "idp", "serve", "--port", str(port), "--workers",
                                    str(workers)], env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{issuer}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit("bench: idp serve did not start")
            time.sleep(0.1)
        yield issuer
    finally:
        process.terminate()
        process.wait(20)


@contextmanager
def card_and_provider(bench: str, workers: int = 1, database: str = "sqlite") -> Iterator[Parts]:
    """The parts of a card bench, in a temporary directory: the test PKI with a card (:data:`AUTH_PIN`,
    :data:`SIGN_PASSWORD`) inserted into a private pcscd, the pinned roots, an empty CRL per root, ``idp serve``
    (``workers``, on ``database``: ``sqlite`` or ``postgresql``, a private cluster; logging at INFO) with a public
    client ``bench``."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{bench}-") as tmp:
        workdir = Path(tmp)
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
        with PcscLab(workdir / "lab") as lab, _database(database) as settings, \
                _provider(workdir, trust, crls, workers, settings) as issuer:
            lab.insert(profile.path)
            provider = Provider(issuer, test_mode=True)
            try:
                yield Parts(issuer, provider, workdir / "idp.log")
            finally:
                provider.close()


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


def redeem(browser: httpx.Client, code: str, verifier: str) -> dict[str, Any]:
    """The relying party's token request (public client, PKCE); the tokens."""
    tokens = browser.post("/token", data={"grant_type": "authorization_code", "code": code,
                                          "redirect_uri": REDIRECT_URI, "client_id": "bench",
                                          "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.text
    answer: dict[str, Any] = tokens.json()
    return answer


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


def run_bench(name: str, argv: list[str], doc: str | None, measure: Callable[[Parts, argparse.Namespace],
                                                                             dict[str, Any]],
              *, iterations: int, warmup: int) -> int:
    """A card benchmark's ``main``: its options (``--iterations``, ``--warmup``, ``--workers``, ``--database``), the
    parts, and one JSON line: ``bench``, ``iterations``, ``workers``, ``database``, what ``measure`` returns,
    ``loadavg_at_start``, ``python``."""
    parser = argparse.ArgumentParser(prog=f"python -m bench {name}", description=(doc or name).splitlines()[0])
    parser.add_argument("--iterations", type=int, default=iterations, help="timed runs")
    parser.add_argument("--warmup", type=int, default=warmup, help="untimed runs first (the first one consents)")
    parser.add_argument("--workers", type=int, default=1, help="idp serve's worker processes")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite",
                        help="the provider's database (postgresql: a private cluster, as tests/support/postgres.py)")
    args = parser.parse_args(argv)
    if shutil.which("pcscd") is None:
        print(f"bench {name}: needs pcscd and vsmartcard-vpcd", file=sys.stderr)
        return 1
    loadavg = os.getloadavg()[0]
    with card_and_provider(name, args.workers, args.database) as parts:
        figures = measure(parts, args)
    print(json.dumps({"bench": name, "iterations": args.iterations, "workers": args.workers,
                      "database": args.database, **figures,
                      "loadavg_at_start": round(loadavg, 2), "python": platform.python_version()}))
    return 0


__all__ = ["AUTH_PIN", "REDIRECT_URI", "SIGN_PASSWORD", "Parts", "TypingPrompt", "card_and_provider", "card_time",
           "card_token", "follow_to_code", "ms", "pkce", "redeem", "run_bench"]
