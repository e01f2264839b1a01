"""Credentials follow their certificate whichever source reports the revocation (idp.vci.watch): after issuance
from a real card login (virtual card in a private pcscd, the card agent, the provider), the signing certificate is
revoked *only* at the platform operator (the stand-in, tests.idp.cardlogin.platform_operator, answering from its own
CRLs) or *only* at a loopback OCSP responder — the provider's own CRL directory never lists it — and the credentials'
status bits flip to INVALID within the stated bound (online_recheck_interval + revocation_check_interval: 1 s + 1 s
here; the test allows for a loaded machine). The CRL path: test_card.py."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from cardreader.virtual.lab import PcscLab
from cardreader.virtual.profile import CardProfile, create_profile
from keys.jose import public_jwk
from keys.testpki import TestPki
from keys.testpki.revocation import issue_crl, issue_ocsp_response
from keys.x509.profile import Purpose
from tests.idp.cardlogin.conftest import Agent, agent_port, insert, lab, running_agent  # noqa: F401 (fixtures)
from tests.support.http import Peer, serve

from .conftest import Provider, make_provider
from .test_card import HOLDER, SIGN_PASSWORD, _status, card_grant
from .test_issuance import proofs, request_body

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]
NOW = dt.datetime.now(dt.UTC)
ROOT = Path(__file__).resolve().parents[3]
OPERATOR = "stand-in-operator"
#: online_recheck_interval + revocation_check_interval of the providers below, in seconds.
BOUND = 2


def wait_until(condition: Callable[[], bool], timeout: float, failure: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.25)


def write_crls(pki_dir: Path, directory: Path, revoked: set[int], number: int) -> None:
    """Fresh CRLs of every test root into ``directory``, listing ``revoked``."""
    directory.mkdir(exist_ok=True)
    for root in TestPki.open(pki_dir).roots():
        listed = [(serial, NOW - dt.timedelta(minutes=5), x509.ReasonFlags.key_compromise) for serial in revoked]
        data = issue_crl(root, listed, this_update=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
                         next_update=NOW + dt.timedelta(days=1), crl_number=number)
        (directory / f"{root.purpose.value}-gen{root.generation}.crl").write_bytes(data)


class Responder:
    """A loopback OCSP responder for one signing certificate, answering with the nonce it was sent."""

    def __init__(self) -> None:
        self.status = "good"
        self.asked = 0
        self.certificate: x509.Certificate | None = None
        self.pki: TestPki | None = None
        outer = self

        class Handler(Peer):
            def do_POST(self) -> None:
                request = ocsp.load_der_ocsp_request(self.body())
                nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
                assert outer.certificate is not None
                assert outer.pki is not None
                assert request.serial_number == outer.certificate.serial_number
                outer.asked += 1
                now = dt.datetime.now(dt.UTC).replace(microsecond=0)
                body = issue_ocsp_response(outer.certificate, outer.pki.root(Purpose.SIGN, 3), status=outer.status,
                                           this_update=now - dt.timedelta(minutes=1),
                                           next_update=now + dt.timedelta(hours=1), nonce=nonce,
                                           revoked_at=now - dt.timedelta(minutes=1))
                self.answer(200, body, "application/ocsp-response")

        self.server, base = serve(Handler)
        self.url = f"{base}/ocsp"


@dataclass(frozen=True)
class Setup:
    pki_dir: Path
    trust: Path
    crls: Path
    platform_card: CardProfile
    ocsp_card: CardProfile
    responder: Responder


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    base = tmp_path_factory.mktemp("online-revocation")
    pki_dir = base / "pki"
    responder = Responder()
    platform_card = create_profile(base / "platform" / "card.json", pki_dir=pki_dir, now=NOW,
                                   sign_password=SIGN_PASSWORD, holder=HOLDER)
    ocsp_card = create_profile(base / "ocsp" / "card.json", pki_dir=pki_dir, now=NOW, sign_password=SIGN_PASSWORD,
                               holder=HOLDER, sign_ocsp_url=responder.url)
    responder.pki = TestPki.open(pki_dir)
    responder.certificate = x509.load_der_x509_certificate(ocsp_card.certificate("sign_certificate"))
    trust = TestPki.open(pki_dir).write_trust_directory(base / "trust")
    write_crls(pki_dir, base / "crls", set(), 1)  # the provider's CRLs: fresh, and they never list the cards
    try:
        yield Setup(pki_dir, trust, base / "crls", platform_card, ocsp_card, responder)
    finally:
        responder.server.shutdown()
        responder.server.server_close()


def _serial(card: CardProfile) -> int:
    return x509.load_der_x509_certificate(card.certificate("sign_certificate")).serial_number


@pytest.fixture(scope="module")
def operator(setup: Setup, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    """The stand-in operator answering from its own CRL directory: its URL, that directory and its JWK Set."""
    base = tmp_path_factory.mktemp("operator")
    write_crls(setup.pki_dir, base / "crls", set(), 1)
    key = ec.generate_private_key(ec.SECP256R1())
    (base / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
    (base / "jwks.json").write_text(json.dumps({"keys": [public_jwk(key.public_key(), kid="operator-1",
                                                                   alg="ES256")]}))
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.idp.cardlogin.platform_operator", "--trust", str(setup.trust),
         "--crl-dir", str(base / "crls"), "--key", str(base / "key.pem"), "--operator", OPERATOR],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    url = process.stdout.readline().split("listening on ")[-1].strip()
    try:
        yield url, base / "crls", base / "jwks.json"
    finally:
        process.terminate()
        process.wait(10)


def _provider(base: Path, setup: Setup, agent_port: int, **env: str) -> Provider:  # noqa: F811
    return make_provider(base, MYNACARD_LOGIN_AUTHENTICATOR="card", MYNACARD_CARD_LOGIN_TRUST_DIR=str(setup.trust),
                         MYNACARD_CARD_LOGIN_CRL_DIR=str(setup.crls),
                         MYNACARD_CARD_LOGIN_AGENT_URL=f"http://127.0.0.1:{agent_port}",
                         MYNACARD_HTTP_OUTBOUND_ALLOW="127.0.0.0/8",
                         MYNACARD_CREDENTIALS_REVOCATION_CHECK_INTERVAL="1",
                         MYNACARD_CREDENTIALS_ONLINE_RECHECK_INTERVAL="1", **env)


def _issue(provider: Provider, agent: Agent) -> list[str]:
    granted = card_grant(provider, agent, ["jp_age", "jp_basic4"])
    issued = []
    for configuration in ("jp_age", "jp_basic4"):
        _, jwts = proofs(granted)
        answer = granted.post("credential_endpoint", request_body(granted, configuration, jwts))
        assert answer.status_code == 200, answer.text
        issued.append(answer.json()["credentials"][0]["credential"])
    assert [_status(provider, c) for c in issued] == [0, 0]
    return issued


def _online_revocations(provider: Provider) -> list[dict[str, object]]:
    return [line for line in provider.log_lines()
            if line.get("message") == "credentials_revoked_with_certificate" and line.get("source") == "online"]


@contextmanager
def running(provider: Provider, lab: PcscLab, agent_port: int, log: Path) -> Iterator[Agent]:  # noqa: F811
    """The provider started, and a card agent for it."""
    provider.start()
    try:
        with running_agent(provider, lab, agent_port, log) as started:  # type: ignore[arg-type]
            yield started
    finally:
        provider.stop()


def test_a_revocation_only_the_platform_operator_reports_ends_the_credentials(
        setup: Setup, operator: tuple[str, Path, Path], lab: PcscLab, agent_port: int,  # noqa: F811
        tmp_path: Path) -> None:
    url, operator_crls, jwks = operator
    provider = _provider(tmp_path, setup, agent_port, MYNACARD_CARD_LOGIN_PLATFORM_URL=url,
                         MYNACARD_CARD_LOGIN_PLATFORM_OPERATOR=OPERATOR, MYNACARD_CARD_LOGIN_PLATFORM_JWKS=str(jwks))
    with running(provider, lab, agent_port, tmp_path / "agent.log") as agent:
        insert(lab, setup.platform_card)
        issued = _issue(provider, agent)
        write_crls(setup.pki_dir, operator_crls, {_serial(setup.platform_card)}, 2)  # J-LIS data at the operator only
        wait_until(lambda: [_status(provider, c) for c in issued] == [1, 1], 20 * BOUND,
                   "the operator's revocation did not reach the credentials")
        assert _online_revocations(provider)
        assert str(_serial(setup.platform_card)) not in provider.log.read_text()


def test_a_revocation_only_the_ocsp_responder_reports_ends_the_credentials(
        setup: Setup, lab: PcscLab, agent_port: int, tmp_path: Path) -> None:  # noqa: F811
    provider = _provider(tmp_path, setup, agent_port, MYNACARD_CARD_LOGIN_OCSP="1")
    with running(provider, lab, agent_port, tmp_path / "agent.log") as agent:
        insert(lab, setup.ocsp_card)
        issued = _issue(provider, agent)
        asked = setup.responder.asked
        wait_until(lambda: setup.responder.asked > asked, 20 * BOUND, "the responder was never asked again")
        assert [_status(provider, c) for c in issued] == [0, 0]  # good answers keep them valid
        setup.responder.status = "revoked"
        wait_until(lambda: [_status(provider, c) for c in issued] == [1, 1], 20 * BOUND,
                   "the responder's revocation did not reach the credentials")
        assert _online_revocations(provider)
