"""Credentials from a real card login: the virtual My Number card in a private pcscd, the card agent with its PIN
pad, the provider verifying the signing certificate against the test PKI's roots and CRLs — then the wallet.

Both credentials through both grants; the signing certificate's revocation (a new CRL listing it) turning the
issued credentials INVALID on their status list and the verifier refusing them; and deferred issuance while no
fresh CRL of the certificate's issuer is at hand."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from cardreader.virtual.lab import PcscLab
from cardreader.virtual.profile import CardProfile, create_profile
from credentials.errors import CredentialReason, CredentialRevoked
from credentials.oid4vci.offer import CredentialOffer
from credentials.sdjwt import HeldSdJwt
from credentials.status import StatusReference
from credentials.wallet.http import DpopSession
from credentials.wallet.issuance import Issuer, ReceiveOptions, obtain_token
from credentials.wallet.keys import HolderKey
from credentials.wallet.login import CardAgentLogin
from keys.testpki import HolderFacts, TestPki
from keys.testpki.revocation import issue_crl
from tests.idp.cardlogin.conftest import Agent, Pki, agent, agent_port, insert, lab  # noqa: F401 (fixtures)

from .conftest import CLIENT_ID, REDIRECT_URI, Granted, Provider, make_provider
from .test_issuance import proofs, request_body, status_checker, verified
from .test_pre_authorized import pc_login

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]
SIGN_PASSWORD = "K7Q2MX9P"
NOW = dt.datetime.now(dt.UTC)
HOLDER = HolderFacts(name="発行\u3000一子", sex="2", birth_date="419990707",
                     address="大阪府大阪市北区中之島１丁目３番２０号発行確認用")


def _write_crls(pki: Pki, revoked: set[int], number: int) -> None:
    for root in TestPki.open(pki.directory).roots():
        listed = [(serial, NOW - dt.timedelta(minutes=5), x509.ReasonFlags.key_compromise) for serial in revoked]
        data = issue_crl(root, listed, this_update=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
                         next_update=NOW + dt.timedelta(days=1), crl_number=number)
        (pki.crls / f"{root.purpose.value}-gen{root.generation}.crl").write_bytes(data)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A test PKI of this module: ``adult`` for issuance, ``revoked`` for the revocation test (not listed yet)."""
    base = tmp_path_factory.mktemp("vci-pki")
    directory = base / "pki"
    adult = create_profile(base / "adult" / "card.json", pki_dir=directory, now=NOW, sign_password=SIGN_PASSWORD,
                           holder=HOLDER)
    later = create_profile(base / "later" / "card.json", pki_dir=directory, now=NOW, sign_password=SIGN_PASSWORD,
                           holder=HOLDER)
    trust = TestPki.open(directory).write_trust_directory(base / "trust")
    crls = base / "crls"
    crls.mkdir()
    made = Pki(directory, trust, crls, adult, later, later)  # no expired card is needed here
    _write_crls(made, set(), 1)
    return made


@pytest.fixture(scope="module")
def provider(pki: Pki, agent_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:  # noqa: F811
    """The provider with card login, sweeping the CRLs every second."""
    made = make_provider(tmp_path_factory.mktemp("vci-card"), MYNACARD_LOGIN_AUTHENTICATOR="card",
                         MYNACARD_CARD_LOGIN_TRUST_DIR=str(pki.trust), MYNACARD_CARD_LOGIN_CRL_DIR=str(pki.crls),
                         MYNACARD_CARD_LOGIN_AGENT_URL=f"http://127.0.0.1:{agent_port}",
                         MYNACARD_CREDENTIALS_REVOCATION_CHECK_INTERVAL="1")
    made.start()
    try:
        yield made
    finally:
        made.stop()


class Person:
    """The person at the reader: types the signing password into the agent's PIN pad whenever it asks."""

    def __init__(self, agent: Agent) -> None:  # noqa: F811
        self.agent, self.stop = agent, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            prompt = httpx.get(f"{self.agent.url}/pinpad/state", headers={"Origin": self.agent.url},
                               timeout=5).json()["prompt"]
            if prompt is not None:
                httpx.post(f"{self.agent.url}/pinpad/answer", json={"prompt": prompt, "pin": SIGN_PASSWORD},
                           headers={"Origin": self.agent.url}, timeout=5)
                time.sleep(0.5)
            time.sleep(0.05)

    def __enter__(self) -> Person:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(5)


def card_grant(provider: Provider, agent: Agent, configurations: list[str]) -> Granted:  # noqa: F811
    session = DpopSession()
    issuer = Issuer.discover(session, provider.url)
    options = ReceiveOptions(client_id=CLIENT_ID, redirect_uri=REDIRECT_URI, login=CardAgentLogin(agent.url),
                             allow_http=True)
    with Person(agent):
        token = obtain_token(session, issuer, CredentialOffer(provider.url, tuple(configurations),
                                                              authorization_code=True), options)
    return Granted(session, issuer, token)


def _sign_certificate(card: CardProfile) -> x509.Certificate:
    return x509.load_der_x509_certificate(card.certificate("sign_certificate"))


def test_card_login_to_wallet_both_credentials(provider: Provider, agent: Agent, lab: PcscLab,  # noqa: F811
                                               pki: Pki, tmp_path: Path) -> None:
    insert(lab, pki.adult)
    wallet = tmp_path / "wallet.json"
    offer = json.dumps({"credential_issuer": provider.url, "credential_configuration_ids": ["jp_age", "jp_basic4"],
                        "grants": {"authorization_code": {}}})
    with Person(agent):
        result = provider.wallet(wallet, "accept", offer, "--client-id", CLIENT_ID, "--redirect-uri", REDIRECT_URI,
                                 "--login", "agent", "--agent-url", agent.url, "--batch", "2", "--trust-root",
                                 str(provider.data / "credential-ca" / "root.pem"))
    assert len(result["credentials"]) == 4
    not_after = int(_sign_certificate(pki.adult).not_valid_after_utc.timestamp())
    for entry in json.loads(wallet.read_text())["credentials"]:
        claims = HeldSdJwt.parse(entry["credential"]).claims
        assert claims["exp"] <= not_after
        if entry["configuration_id"] == "jp_age":
            assert claims["age_equal_or_over"] == {"18": True, "20": True}
            assert "birthdate" not in claims
        else:
            assert claims["name"] == HOLDER.name
            assert claims["birthdate"] == "1999-07-07"
            assert claims["address"] == {"formatted": HOLDER.address}
            assert "sex" not in claims
            serial = str(_sign_certificate(pki.adult).serial_number)
            assert serial not in entry["credential"]
    log = provider.log.read_text()
    assert HOLDER.name not in log
    assert HOLDER.address not in log


def test_pc_login_phone_wallet(provider: Provider, agent: Agent, lab: PcscLab, pki: Pki,  # noqa: F811
                               tmp_path: Path) -> None:
    insert(lab, pki.adult)
    with Person(agent):
        link, tx_code = pc_login(provider, ["jp_basic4"], with_sex=True, driver=CardAgentLogin(agent.url))
    received = provider.wallet(tmp_path / "phone.json", "accept", link, "--tx-code", tx_code)
    assert len(received["credentials"]) == 1
    stored = json.loads((tmp_path / "phone.json").read_text())["credentials"][0]
    assert HeldSdJwt.parse(stored["credential"]).claims["sex"] == 2


def _status(provider: Provider, credential: str) -> int:
    reference = HeldSdJwt.parse(credential).claims["status"]["status_list"]
    return status_checker(provider).status(StatusReference(reference["idx"], reference["uri"]),
                                           dt.datetime.now(dt.UTC))


def test_revoking_the_signing_certificate_revokes_the_credentials(provider: Provider, agent: Agent,  # noqa: F811
                                                                   lab: PcscLab, pki: Pki) -> None:  # noqa: F811
    insert(lab, pki.revoked)
    granted = card_grant(provider, agent, ["jp_age", "jp_basic4"])
    issued: list[tuple[str, HolderKey]] = []
    for configuration in ("jp_age", "jp_basic4"):
        keys, jwts = proofs(granted)
        answer = granted.post("credential_endpoint", request_body(granted, configuration, jwts))
        assert answer.status_code == 200, answer.text
        issued.append((answer.json()["credentials"][0]["credential"], keys[0]))
    assert [_status(provider, c) for c, _ in issued] == [0, 0]
    verified(provider, issued[0][0], issued[0][1], [("age_equal_or_over", "18")])
    _write_crls(pki, {_sign_certificate(pki.revoked).serial_number}, 2)  # J-LIS revokes the certificate
    deadline = time.monotonic() + 40
    while [_status(provider, c) for c, _ in issued] != [1, 1]:
        assert time.monotonic() < deadline, "the credentials were not revoked with their certificate"
        time.sleep(0.5)
    with pytest.raises(CredentialRevoked) as refused:
        verified(provider, issued[1][0], issued[1][1], [("name",)])
    assert refused.value.reason is CredentialReason.STATUS_INVALID
    assert any(line.get("message") == "credentials_revoked_with_certificate" for line in provider.log_lines())


def test_deferred_until_revocation_data_is_fresh(provider: Provider, agent: Agent, lab: PcscLab,  # noqa: F811
                                                 pki: Pki, tmp_path: Path) -> None:
    insert(lab, pki.adult)
    granted = card_grant(provider, agent, ["jp_age"])
    kept = tmp_path / "crls"
    shutil.copytree(pki.crls, kept)
    for crl in pki.crls.glob("sign-*.crl"):
        crl.unlink()  # the signing root's CRL is gone: no statement about the certificate can be made
    time.sleep(6)  # the provider re-reads the CRL directory every 5 s
    keys, jwts = proofs(granted, 2)
    first = granted.post("credential_endpoint", request_body(granted, "jp_age", jwts))
    assert first.status_code == 202, first.text
    transaction = first.json()["transaction_id"]
    assert first.json()["interval"] >= 1
    again = granted.post("deferred_credential_endpoint", {"transaction_id": transaction})
    assert again.status_code == 202
    assert granted.post("deferred_credential_endpoint", {"transaction_id": "unknown"}).json()["error"] == \
        "invalid_transaction_id"
    for crl in kept.glob("sign-*.crl"):
        shutil.copy(crl, pki.crls / crl.name)
    deadline = time.monotonic() + 30
    while (answer := granted.post("deferred_credential_endpoint", {"transaction_id": transaction})).status_code == 202:
        assert time.monotonic() < deadline, "the deferred issuance never completed"
        time.sleep(1)
    assert answer.status_code == 200, answer.text
    credentials = [c["credential"] for c in answer.json()["credentials"]]
    bound = {HeldSdJwt.parse(c).claims["cnf"]["jwk"]["x"] for c in credentials}
    assert bound == {k.public_jwk["x"] for k in keys}  # bound to the keys proved in the first request
