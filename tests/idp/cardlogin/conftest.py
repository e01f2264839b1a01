"""Card login end to end: the provider (``idp serve``, test mode), the card agent (``python -m cardreader agent``),
a private pcscd with the virtual card, the test PKI's roots as the trust directory and its CRLs as the revocation
source. Everything runs as real processes over real HTTP; the test plays the person and the browser."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from cardreader.virtual.lab import PcscLab
from cardreader.virtual.profile import CardProfile, create_profile
from keys.service import KeyEncryptionKeys
from keys.testpki import HolderFacts, TestPki
from keys.testpki.revocation import issue_crl
from tests.support.pcsc import pcsc_lab
from tests.support.processes import ROOT, free_port, serving

AUTH_PIN = "6183"
SIGN_PASSWORD = "MQ4ZT7XW"
#: Distinctive facts, so that the log test can look for them.
HOLDER = HolderFacts(name="照合\u3000三四郎", sex="1", birth_date="420000315",
                     address="北海道札幌市中央区北一条西２丁目１番地ログ確認用")
NOW = dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Pki:
    directory: Path
    trust: Path
    crls: Path
    adult: CardProfile
    revoked: CardProfile
    expired: CardProfile


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """The test PKI, two cards (one revoked in the CRLs), the trust directory and the CRL directory."""
    base = tmp_path_factory.mktemp("cardlogin-pki")
    directory = base / "pki"
    adult = create_profile(base / "adult" / "card.json", pki_dir=directory, now=NOW, auth_pin=AUTH_PIN,
                           sign_password=SIGN_PASSWORD, holder=HOLDER)
    revoked = create_profile(base / "revoked" / "card.json", pki_dir=directory, now=NOW, auth_pin=AUTH_PIN,
                             sign_password=SIGN_PASSWORD, holder=HOLDER)
    expired = create_profile(base / "expired" / "card.json", pki_dir=directory, now=NOW, auth_pin=AUTH_PIN,
                             sign_password=SIGN_PASSWORD, holder=HOLDER, not_before=NOW - dt.timedelta(days=400),
                             lifetime=dt.timedelta(days=30))
    test_pki = TestPki.open(directory)
    trust = test_pki.write_trust_directory(base / "trust")
    crls = base / "crls"
    crls.mkdir()
    revoked_serials = {x509.load_der_x509_certificate(revoked.certificate(role)).serial_number
                       for role in ("auth_certificate", "sign_certificate")}
    for root in test_pki.roots():
        listed = [(serial, NOW - dt.timedelta(days=1), x509.ReasonFlags.key_compromise) for serial in revoked_serials]
        data = issue_crl(root, listed, this_update=NOW - dt.timedelta(hours=1),
                         next_update=NOW + dt.timedelta(days=1), crl_number=1)
        (crls / f"{root.purpose.value}-gen{root.generation}.crl").write_bytes(data)
    return Pki(directory, trust, crls, adult, revoked, expired)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PcscLab]:
    """A private pcscd with the vpcd driver (as in tests/cardreader/conftest.py)."""
    with pcsc_lab(tmp_path_factory.mktemp("cardlogin-lab")) as running:
        yield running


def insert(lab: PcscLab, profile: CardProfile, timeout: float = 15, apdu_log: Path | None = None) -> None:
    """Put ``profile``'s card in the lab's reader and wait until a separate process sees it (this process may be
    bound to another test module's pcscd: pcsc-lite reads its socket variable once per process)."""
    lab.insert(profile.path, wait=False, apdu_log=apdu_log)
    deadline = time.monotonic() + timeout
    while True:
        run = subprocess.run([sys.executable, "-m", "cardreader", "info", "--json"], env=lab.env, capture_output=True,
                             text=True, cwd=ROOT, timeout=30, check=False)
        if run.returncode == 0:
            return
        assert time.monotonic() < deadline, run.stdout + run.stderr
        time.sleep(0.1)


@dataclass
class Provider:
    url: str
    log: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]

    def idp(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "idp", *args], env=self.env, capture_output=True, text=True,
                              cwd=ROOT, timeout=60, check=True)


@dataclass
class Agent:
    url: str
    log: Path
    process: subprocess.Popen[str]


@pytest.fixture(scope="module")
def agent_port() -> int:
    return free_port()


@contextmanager
def running_provider(base: Path, pki: Pki, agent_port: int, **env: str) -> Iterator[Provider]:
    """``idp serve`` with card login configured (test mode and the test PKI's CRLs unless ``env`` says otherwise),
    logging at DEBUG, in ``base``; stopped by PID."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environ = {**os.environ, "MYNACARD_DATA_DIR": str(base / "var"), "MYNACARD_ISSUER": url,
               "MYNACARD_TEST_MODE": "1", "MYNACARD_KEYS_KEKS": KeyEncryptionKeys.generate(),
               "MYNACARD_LOGGING_LEVEL": "DEBUG", "MYNACARD_CARD_LOGIN_TRUST_DIR": str(pki.trust),
               "MYNACARD_CARD_LOGIN_CRL_DIR": str(pki.crls),
               "MYNACARD_CARD_LOGIN_AGENT_URL": f"http://127.0.0.1:{agent_port}", **env}
    environ = {k: v for k, v in environ.items() if v != ""}
    log = base / "provider.log"
    with serving([sys.executable, "-m", "idp", "serve", "--port", str(port)], env=environ, log=log,
                 url=url) as process:
        yield Provider(url, log, environ, process)


@pytest.fixture(scope="module")
def provider(pki: Pki, agent_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    """``idp serve`` in test mode, card login configured, logging at DEBUG."""
    with running_provider(tmp_path_factory.mktemp("provider"), pki, agent_port) as running:
        yield running


@contextmanager
def running_agent(provider: Provider, lab: PcscLab, port: int, log: Path, *options: str) -> Iterator[Agent]:
    """The card agent for ``provider`` on ``port``, PIN pad entry, verbose logging (``options`` added)."""
    with log.open("a") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "cardreader", "agent", "--provider", provider.url, "--port", str(port),
             "--pin-entry", "pinpad", "--card-timeout", "5", "--verbose", *options],
            env=lab.env, stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
    try:
        assert match, (line, log.read_text())
        yield Agent(match[1], log, process)
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def agent(provider: Provider, lab: PcscLab, agent_port: int, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Agent]:
    """The card agent for that provider, PIN pad entry, verbose logging."""
    with running_agent(provider, lab, agent_port, tmp_path_factory.mktemp("agent") / "agent.log") as running:
        yield running
