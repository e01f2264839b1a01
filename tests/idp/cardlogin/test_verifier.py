"""The provider's card-login verifier: trust and CRLs from directories, fail-closed configuration."""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from idp.login import verifier as verifier_module
from idp.login.ocsp import CACHE_KIND as OCSP_CACHE_KIND
from idp.login.platform import certificate_digest
from idp.login.verifier import CardVerifier, NotConfigured
from idp.storage import Database, ObjectStore
from keys.cardlogin import LoginMessage, encode_login_message
from keys.errors import RevocationUnavailable, RevokedCertificate
from keys.testpki import CardMaterial, TestPki
from keys.testpki.hierarchy import new_rsa_key
from keys.testpki.revocation import issue_crl, issue_ocsp_response
from keys.x509.profile import Purpose
from servicekit.outbound import IPAddress
from tests.idp.conftest import settings_for
from tests.support.http import Peer, serve

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
HOUR = dt.timedelta(hours=1)


@pytest.fixture(scope="module")
def test_pki() -> TestPki:
    return TestPki.generate()


@pytest.fixture(scope="module")
def card(test_pki: TestPki) -> CardMaterial:
    return test_pki.issue_card(now=NOW, with_sign=False)


def write_crl(directory: Path, test_pki: TestPki, revoked: list[int], *, forged: bool = False) -> None:
    root = test_pki.root(Purpose.AUTH, 3)
    data = issue_crl(root, [(s, NOW - HOUR, None) for s in revoked], this_update=NOW - HOUR,
                     next_update=NOW + 24 * HOUR, crl_number=len(revoked) + 1,
                     signing_key=new_rsa_key() if forged else None)
    (directory / "auth-gen3.crl").write_bytes(data)


@pytest.fixture
def dirs(tmp_path: Path, test_pki: TestPki) -> tuple[Path, Path]:
    trust = test_pki.write_trust_directory(tmp_path / "trust")
    crls = tmp_path / "crls"
    crls.mkdir()
    return trust, crls


def login(card: CardMaterial) -> tuple[bytes, bytes, LoginMessage]:
    message = LoginMessage("http://127.0.0.1:8000", "i" * 43, bytes(32), NOW, Purpose.AUTH)
    signature = card.auth_key.sign(encode_login_message(message), padding.PKCS1v15(), hashes.SHA256())
    return card.auth_certificate.public_bytes(Encoding.DER), signature, message


def reload(verifier: CardVerifier) -> None:
    """Let the verifier see a changed CRL directory and wait for its background reload."""
    assert verifier.crls is not None
    verifier.crls.indexes(NOW)
    verifier.crls.wait_for_reload()


def test_crls_from_the_directory_decide_and_are_reloaded(tmp_path: Path, dirs: tuple[Path, Path], test_pki: TestPki,
                                                         card: CardMaterial, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verifier_module, "RESCAN_INTERVAL", 0.0)
    trust, crls = dirs
    settings = settings_for(tmp_path, MYNACARD_TEST_MODE="1", MYNACARD_CARD_LOGIN_TRUST_DIR=str(trust),
                            MYNACARD_CARD_LOGIN_CRL_DIR=str(crls))
    verifier = CardVerifier.from_settings(settings)
    certificate, signature, message = login(card)
    with pytest.raises(RevocationUnavailable):  # no CRL yet: fail closed
        verifier.verify(certificate, signature, message, NOW, dt.timedelta(minutes=2))
    write_crl(crls, test_pki, [])
    result = verifier.verify(certificate, signature, message, NOW, dt.timedelta(minutes=2))
    assert (result.revocation.status.value, result.revocation.source) == ("good", "crl")
    write_crl(crls, test_pki, [card.auth_certificate.serial_number])
    reload(verifier)
    with pytest.raises(RevokedCertificate):
        verifier.verify(certificate, signature, message, NOW, dt.timedelta(minutes=2))
    write_crl(crls, test_pki, [], forged=True)  # not signed by the root: skipped, so no status at all
    reload(verifier)
    with pytest.raises(RevocationUnavailable):
        verifier.verify(certificate, signature, message, NOW, dt.timedelta(minutes=2))


def test_a_replaced_crl_is_indexed_in_the_background_while_the_old_one_answers(
        tmp_path: Path, dirs: tuple[Path, Path], test_pki: TestPki, card: CardMaterial,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verifier_module, "RESCAN_INTERVAL", 0.0)
    trust, crls = dirs
    write_crl(crls, test_pki, [7, 8])
    settings = settings_for(tmp_path, MYNACARD_TEST_MODE="1", MYNACARD_CARD_LOGIN_TRUST_DIR=str(trust),
                            MYNACARD_CARD_LOGIN_CRL_DIR=str(crls))
    verifier = CardVerifier.from_settings(settings)
    assert verifier.crls is not None
    assert verifier.crls.index_dir == crls / ".index"
    certificate, signature, message = login(card)
    assert verifier.verify(certificate, signature, message, NOW, dt.timedelta(minutes=2)).revocation.source == "crl"
    assert len(list((crls / ".index").glob("*.idx"))) == 1  # the shared index file of the first CRL
    write_crl(crls, test_pki, [card.auth_certificate.serial_number])
    new_crl = (crls / "auth-gen3.crl").read_bytes()
    (crls / ".index").mkdir(exist_ok=True)
    with (crls / ".index" / f"{hashlib.sha256(new_crl).hexdigest()}.lock").open("wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as if another worker were building the new index right now
        old = verifier.crls.indexes(NOW)
        assert verifier.crls._loading is not None
        assert verifier.crls._loading.is_alive()
        # logins go on with the previous CRL meanwhile
        result = verifier.verify(certificate, signature, message, NOW, dt.timedelta(minutes=2))
        assert result.revocation.source == "crl"
        assert verifier.crls.indexes(NOW) is old
    verifier.crls.wait_for_reload(30)
    reload(verifier)
    with pytest.raises(RevokedCertificate):
        verifier.verify(certificate, signature, message, NOW, dt.timedelta(minutes=2))


class Responder:
    """An OCSP responder for the test PKI's auth root (RFC 6960 §A.1 POST), answering ``status`` with the nonce."""

    def __init__(self, test_pki: TestPki) -> None:
        self.status = "good"
        self.asked = 0
        self.this_update = NOW - HOUR
        responder = self

        class Handler(Peer):
            def do_POST(self) -> None:
                responder.asked += 1
                request = ocsp.load_der_ocsp_request(self.body())
                nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
                body = issue_ocsp_response(responder.certificate, test_pki.root(Purpose.AUTH, 3),
                                           status=responder.status,  # type: ignore[arg-type]
                                           this_update=responder.this_update, next_update=NOW + HOUR,
                                           nonce=nonce,
                                           revoked_at=NOW - 2 * HOUR)
                self.answer(200, body, "application/ocsp-response")

        self.certificate: x509.Certificate
        self.server, base = serve(Handler)
        self.url = f"{base}/ocsp"


def test_ocsp_answers_for_authentication_certificates(tmp_path: Path, dirs: tuple[Path, Path], test_pki: TestPki,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verifier_module, "RESCAN_INTERVAL", 0.0)
    responder = Responder(test_pki)
    card = test_pki.issue_card(now=NOW, with_sign=False, ocsp_url=responder.url)
    responder.certificate = card.auth_certificate
    trust, crls = dirs
    settings = settings_for(tmp_path, MYNACARD_TEST_MODE="1", MYNACARD_CARD_LOGIN_TRUST_DIR=str(trust),
                            MYNACARD_CARD_LOGIN_CRL_DIR=str(crls), MYNACARD_CARD_LOGIN_OCSP="1")
    verifier = CardVerifier.from_settings(settings)
    certificate, signature, message = login(card)
    try:
        result = verifier.verify(certificate, signature, message, NOW, dt.timedelta(minutes=2))  # no CRL at all
        assert (result.revocation.status.value, result.revocation.source) == ("good", "ocsp")
        write_crl(crls, test_pki, [])
        responder.status = "revoked"  # a good CRL does not outweigh a revocation the responder reports
        with pytest.raises(RevokedCertificate):
            verifier.verify(certificate, signature, message, NOW, dt.timedelta(minutes=2))
        assert responder.asked == 2
    finally:
        responder.server.shutdown()
        responder.server.server_close()
    # the responder is gone: the CRL decides
    assert verifier.verify(certificate, signature, message, NOW, dt.timedelta(minutes=2)).revocation.source == "crl"


@pytest.mark.anyio
async def test_ocsp_verdicts_are_shared_by_every_worker_within_the_freshness(
        tmp_path: Path, dirs: tuple[Path, Path], test_pki: TestPki, db: Database, db_url: str) -> None:
    responder = Responder(test_pki)
    responder.this_update = NOW - dt.timedelta(minutes=1)
    good = test_pki.issue_card(now=NOW, with_sign=False, ocsp_url=responder.url)
    revoked = test_pki.issue_card(now=NOW, with_sign=False, ocsp_url=responder.url)
    trust, _crls = dirs
    settings = settings_for(tmp_path, MYNACARD_TEST_MODE="1", MYNACARD_CARD_LOGIN_TRUST_DIR=str(trust),
                            MYNACARD_CARD_LOGIN_OCSP="1")
    first, second = CardVerifier.from_settings(settings), CardVerifier.from_settings(settings)
    other = Database.connect(db_url)
    minute = dt.timedelta(minutes=2)
    try:
        for card in (good, revoked):
            responder.status, responder.certificate = ("good" if card is good else "revoked"), card.auth_certificate
            for verifier, objects in ((first, ObjectStore(db)), (second, ObjectStore(other)), (first, ObjectStore(db))):
                if card is good:
                    result = await verifier.verify_login(objects, *login(card), NOW, minute)
                    assert (result.revocation.status.value, result.revocation.source) == ("good", "ocsp")
                else:
                    with pytest.raises(RevokedCertificate):  # a kept revocation refuses as well
                        await verifier.verify_login(objects, *login(card), NOW, minute)
        assert responder.asked == 2  # once per certificate, whichever worker asks
        stored = await ObjectStore(other).find(OCSP_CACHE_KIND, certificate_digest(login(good)[0]), now=NOW)
        assert stored is not None
        # what is kept: status, times and the hash as the key, never the response or the certificate
        assert set(stored.payload) == {"status", "this_update", "next_update", "revoked_at", "reason"}
        assert stored.expires_at == responder.this_update + dt.timedelta(seconds=300)  # the freshness setting
        # past it, the responder is asked again
        later = NOW + dt.timedelta(minutes=10)
        responder.status, responder.certificate = "good", good.auth_certificate
        responder.this_update = later - dt.timedelta(minutes=1)
        result = await second.verify_login(ObjectStore(other), *login(good), later, dt.timedelta(minutes=20))
        assert result.revocation.source == "ocsp"
        assert responder.asked == 3
    finally:
        await other.dispose()
        responder.server.shutdown()
        responder.server.server_close()


def test_an_ocsp_responder_name_resolving_to_a_non_public_address_is_not_asked(
        tmp_path: Path, dirs: tuple[Path, Path], test_pki: TestPki, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verifier_module, "RESCAN_INTERVAL", 0.0)
    card = test_pki.issue_card(now=NOW, with_sign=False, ocsp_url="http://ocsp.jpki.example/ocsp")
    trust, crls = dirs
    write_crl(crls, test_pki, [])
    verifier = CardVerifier.from_settings(settings_for(
        tmp_path, MYNACARD_TEST_MODE="1", MYNACARD_CARD_LOGIN_TRUST_DIR=str(trust),
        MYNACARD_CARD_LOGIN_CRL_DIR=str(crls), MYNACARD_CARD_LOGIN_OCSP="1"))
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[IPAddress]:
        asked.append(host)
        return [ipaddress.ip_address("192.168.7.7")]

    verifier.outbound.resolver = resolve
    certificate, signature, message = login(card)
    result = verifier.verify(certificate, signature, message, NOW, dt.timedelta(minutes=2))
    assert result.revocation.source == "crl"  # no OCSP answer: the CRL decides
    assert asked == ["ocsp.jpki.example"]


def test_configuration_problems_refuse_card_login(tmp_path: Path, dirs: tuple[Path, Path]) -> None:
    trust, crls = dirs
    cases = [
        {},
        {"MYNACARD_CARD_LOGIN_TRUST_DIR": str(trust)},
        {"MYNACARD_CARD_LOGIN_TRUST_DIR": str(tmp_path / "absent"), "MYNACARD_CARD_LOGIN_CRL_DIR": str(crls)},
        {"MYNACARD_CARD_LOGIN_TRUST_DIR": str(trust), "MYNACARD_CARD_LOGIN_CRL_DIR": str(crls)},  # test roots
    ]
    for env in cases:
        with pytest.raises(NotConfigured):
            CardVerifier.from_settings(settings_for(tmp_path, **env))
