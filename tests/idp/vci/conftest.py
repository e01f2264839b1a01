"""The credential issuer as a real process: ``idp serve`` in test mode on loopback HTTP, talked to by the test
wallet (``python -m credentials wallet`` as a process, or its library over the same HTTP)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from credentials.oid4vci.offer import CredentialOffer
from credentials.wallet.http import DpopSession
from credentials.wallet.issuance import Issuer, ReceiveOptions, obtain_token
from credentials.wallet.login import LoginDriver, TestLogin
from keys.service import KeyEncryptionKeys
from keys.trust import TrustStore, fingerprint
from tests.support.processes import ROOT, free_port, start, stop, wait_healthy

REDIRECT_URI = "https://wallet.test/cb"
CLIENT_ID = "wallet"
NAME = "試験\u3000花子"
NOT_AFTER = int((dt.datetime.now(dt.UTC) + dt.timedelta(days=4 * 365)).timestamp())
#: The four facts a signing certificate would give (test login), and the OIDC claims of the same login.
FACTS = {"name": NAME, "name_substitution": "00000", "birth_date": "2001-04-05",
         "address": "東京都千代田区霞が関１－１－１検査用", "address_substitution": "0" * 19, "sex": 2,
         "not_after": NOT_AFTER}
CLAIMS = {"name": NAME, "birthdate": "2001-04-05", "address": {"formatted": FACTS["address"]}, "gender": "female",
          "age_over_18": True, "age_over_20": True}


@dataclass
class Provider:
    """One ``idp serve`` process (restartable on the same data and database)."""

    url: str
    port: int
    env: dict[str, str]
    data: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None
    runs: int = field(default=0)

    def start(self, **extra: str) -> None:
        env = {**self.env, **extra}
        self.runs += 1
        self.process = start([sys.executable, "-m", "idp", "serve", "--port", str(self.port)], env=env, log=self.log)
        wait_healthy(self.url, self.process, self.log)

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            os.kill(self.process.pid, signal.SIGKILL)
        stop(self.process)
        self.process = None

    def idp(self, *args: str) -> Any:
        run = subprocess.run([sys.executable, "-m", "idp", *args], env=self.env, capture_output=True, text=True,
                             cwd=ROOT, timeout=120, check=False)
        assert run.returncode == 0, run.stdout + run.stderr
        return json.loads(run.stdout) if run.stdout.strip() else None

    @property
    def root(self) -> x509.Certificate:
        """The development credential root (what a verifier in test mode pins)."""
        return x509.load_pem_x509_certificate((self.data / "credential-ca" / "root.pem").read_bytes())

    def trust(self) -> TrustStore:
        root = self.root
        return TrustStore.build([("root", root.public_bytes(Encoding.DER))], allow_test_roots=True,
                                extra_pins={fingerprint(root): "credential root"})

    def wallet(self, wallet: Path, *args: str, check: bool = True) -> dict[str, Any]:
        run = subprocess.run([sys.executable, "-m", "credentials", "wallet", "--file", str(wallet), "--test-mode",
                              *args], capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
        if check:
            assert run.returncode == 0, run.stdout + run.stderr + self.log.read_text()[-3000:]
        result: dict[str, Any] = json.loads(run.stdout)
        return result

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    lines.append(json.loads(line))
        return lines


def make_provider(base: Path, *, database_url: str | None = None, **env: str) -> Provider:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environ = {**os.environ, "MYNACARD_DATA_DIR": str(base / "var"), "MYNACARD_ISSUER": url,
               "MYNACARD_TEST_MODE": "1", "MYNACARD_KEYS_KEKS": KeyEncryptionKeys.generate(),
               "MYNACARD_LOGIN_AUTHENTICATOR": "test", "MYNACARD_LOGGING_LEVEL": "DEBUG",
               "MYNACARD_CREDENTIALS_STATUS_LIST_TTL": "2", "MYNACARD_CREDENTIALS_REVOCATION_CHECK_INTERVAL": "0",
               "MYNACARD_CREDENTIALS_STATUS_LIST_SIZE": "4096", **env}
    if database_url is not None:
        environ["MYNACARD_DATABASE_URL"] = database_url
    provider = Provider(url, port, environ, base / "var", base / "provider.log")
    provider.idp("clients", "add", CLIENT_ID, "--redirect-uri", REDIRECT_URI, "--auth-method", "none")
    return provider


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    """The provider (SQLite, test login) with the test wallet registered as a public client."""
    provider = make_provider(tmp_path_factory.mktemp("issuer"))
    provider.start()
    try:
        yield provider
    finally:
        provider.stop()


def login_as(account: str = "holder-1", facts: dict[str, Any] | None = None) -> TestLogin:
    return TestLogin(account, CLAIMS, FACTS if facts is None else facts)


@dataclass
class Granted:
    """A DPoP session with an access token for some configurations."""

    session: DpopSession
    issuer: Issuer
    token: dict[str, Any]

    @property
    def identifiers(self) -> dict[str, str]:
        return {d["credential_configuration_id"]: d["credential_identifiers"][0]
                for d in self.token.get("authorization_details", [])}

    def nonce(self) -> str:
        return str(self.session.json("POST", self.issuer.metadata["nonce_endpoint"])["c_nonce"])

    def post(self, endpoint: str, body: Any) -> httpx.Response:
        return self.session.request("POST", self.issuer.metadata[endpoint], access_token=self.token["access_token"],
                                    json=body)


def grant(provider: Provider, configurations: Sequence[str], *, login: LoginDriver | None = None,
          use_scope: bool = False, with_sex: bool = False) -> Granted:
    """The authorization code flow with the test login, as the wallet does it."""
    session = DpopSession()
    issuer = Issuer.discover(session, provider.url)
    offer = CredentialOffer(provider.url, tuple(configurations), authorization_code=True)
    options = ReceiveOptions(client_id=CLIENT_ID, redirect_uri=REDIRECT_URI, login=login or login_as(),
                             allow_http=True, use_scope=use_scope, with_sex=with_sex)
    return Granted(session, issuer, obtain_token(session, issuer, offer, options))
