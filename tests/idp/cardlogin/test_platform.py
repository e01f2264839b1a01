"""The platform operator as a revocation source: the HTTP client against the stand-in operator process
(:mod:`tests.idp.cardlogin.platform_operator`, answering from the test PKI's CRLs), the pinned operator key, and the
cache in the database that every worker shares, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.serialization import Encoding

from idp.login.platform import CACHE_KIND, certificate_digest
from idp.login.verifier import CardVerifier, NotConfigured
from idp.settings import SettingsError
from idp.storage import Database, ObjectStore
from keys.cardlogin import LoginMessage, encode_login_message
from keys.errors import RevocationUnavailable, RevokedCertificate
from keys.jose import public_jwk
from keys.testpki import CardMaterial, TestPki
from keys.testpki.revocation import issue_crl
from keys.x509.profile import Purpose
from servicekit.outbound import IPAddress
from tests.idp.conftest import settings_for
from tests.support.drip import drip_server

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[3]
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
HOUR = dt.timedelta(hours=1)
OPERATOR = "stand-in-operator"


@pytest.fixture(scope="module")
def test_pki() -> TestPki:
    return TestPki.generate()


@pytest.fixture(scope="module")
def cards(test_pki: TestPki) -> tuple[CardMaterial, CardMaterial]:
    return test_pki.issue_card(now=NOW), test_pki.issue_card(now=NOW)


@pytest.fixture
def material(tmp_path: Path, test_pki: TestPki, cards: tuple[CardMaterial, CardMaterial]) -> dict[str, Path]:
    """Trust directory, the operator's CRLs (the second card revoked), its key and its public JWK Set."""
    trust = test_pki.write_trust_directory(tmp_path / "trust")
    crls = tmp_path / "operator-crls"
    crls.mkdir()
    revoked = cards[1]
    assert revoked.sign_certificate is not None
    serials = [revoked.auth_certificate.serial_number, revoked.sign_certificate.serial_number]
    for root in test_pki.roots():
        data = issue_crl(root, [(s, NOW - HOUR, None) for s in serials], this_update=NOW - HOUR,
                         next_update=NOW + 24 * HOUR, crl_number=1)
        (crls / f"{root.purpose.value}-gen{root.generation}.crl").write_bytes(data)
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "operator.key.pem").write_bytes(key.private_bytes(
        Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    jwks = {"keys": [public_jwk(key.public_key(), kid="operator-1", alg="ES256")]}
    (tmp_path / "operator.jwks.json").write_text(json.dumps(jwks))
    return {"trust": trust, "crls": crls, "key": tmp_path / "operator.key.pem", "jwks": tmp_path / "operator.jwks.json"}


@contextmanager
def operator(material: dict[str, Path], *options: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The stand-in operator process; yields its URL and the process (its stderr lists the answers)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.idp.cardlogin.platform_operator", "--trust", str(material["trust"]),
         "--crl-dir", str(material["crls"]), "--key", str(material["key"]), "--operator", OPERATOR, *options],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    match = re.search(r"listening on (http://\S+)", process.stdout.readline())
    try:
        assert match, process.stderr.read() if process.stderr else ""
        yield match[1], process
    finally:
        process.terminate()
        process.wait(10)


def verifier_for(tmp_path: Path, material: dict[str, Path], url: str, **extra: str) -> CardVerifier:
    settings = settings_for(tmp_path, MYNACARD_TEST_MODE="1", MYNACARD_CARD_LOGIN_TRUST_DIR=str(material["trust"]),
                            MYNACARD_CARD_LOGIN_PLATFORM_URL=url, MYNACARD_CARD_LOGIN_PLATFORM_OPERATOR=OPERATOR,
                            MYNACARD_CARD_LOGIN_PLATFORM_JWKS=str(material["jwks"]), **extra)
    return CardVerifier.from_settings(settings)


def login(card: CardMaterial, key: Purpose = Purpose.AUTH) -> tuple[bytes, bytes, LoginMessage]:
    message = LoginMessage("http://127.0.0.1:8000", "i" * 43, bytes(32), NOW, key)
    private, certificate = ((card.auth_key, card.auth_certificate) if key is Purpose.AUTH
                            else (card.sign_key, card.sign_certificate))
    assert private is not None
    assert certificate is not None
    signature = private.sign(encode_login_message(message), padding.PKCS1v15(), hashes.SHA256())
    return certificate.public_bytes(Encoding.DER), signature, message


async def verify(verifier: CardVerifier, objects: ObjectStore, card: CardMaterial, key: Purpose = Purpose.AUTH,
                 at: dt.datetime | None = None) -> str:
    """The verdict at ``at``, by default the real time: the stand-in operator answers with its real clock, and this
    module's NOW may be many minutes old when a long suite reaches it."""
    at = at or dt.datetime.now(dt.UTC)
    certificate, signature, message = login(card, key)
    platform = await verifier.platform_status(objects, certificate, key, at)
    result = verifier.verify(certificate, signature, message, at, dt.timedelta(days=1), platform=platform)
    return f"{result.revocation.status.value}/{result.revocation.source}"


async def test_the_operator_decides_without_any_crl_and_every_worker_shares_its_answer(
        tmp_path: Path, material: dict[str, Path], cards: tuple[CardMaterial, CardMaterial], db_url: str,
        db: Database) -> None:
    good, revoked = cards
    with operator(material) as (url, process):
        verifier = verifier_for(tmp_path, material, url)
        assert verifier.crls is None  # the operator is the only revocation source
        assert await verify(verifier, ObjectStore(db), good) == "good/platform"
        assert await verify(verifier, ObjectStore(db), good, Purpose.SIGN) == "good/platform"
        with pytest.raises(RevokedCertificate):
            await verify(verifier, ObjectStore(db), revoked)
    assert process.stderr is not None
    answers = process.stderr.read().splitlines()
    assert [line.split()[1] for line in answers] == ["status=good", "status=good", "status=revoked"]
    # the operator is gone; another worker (its own connection to the same database) still has the answers
    other = Database.connect(db_url)
    try:
        second_worker = verifier_for(tmp_path, material, url)
        assert await verify(second_worker, ObjectStore(other), good) == "good/platform"
        with pytest.raises(RevokedCertificate):  # a cached revocation refuses as well
            await verify(second_worker, ObjectStore(other), revoked)
        # past the freshness (300 s by default; the core allows 5 min of clock skew on top) nothing cached is used:
        # no fresh status, fail closed
        with pytest.raises(RevocationUnavailable):
            await verify(second_worker, ObjectStore(other), good,
                         at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15))
        stored = await ObjectStore(other).find(CACHE_KIND, certificate_digest(login(good)[0]),
                                               now=dt.datetime.now(dt.UTC))
    finally:
        await other.dispose()
    # what is kept: the status and the hash, never the certificate
    assert stored is not None
    assert stored.payload["status"] == "good"
    assert set(stored.payload) == {"operator", "certificate_sha256", "status", "checked_at", "next_update",
                                   "max_age", "revoked_at", "reason", "nonce"}
    assert stored.expires_at <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=301)


async def test_an_impostor_or_a_silent_operator_gives_no_status(tmp_path: Path, material: dict[str, Path],
                                                                cards: tuple[CardMaterial, CardMaterial],
                                                                db: Database) -> None:
    with operator(material, "--forge") as (url, _):
        verifier = verifier_for(tmp_path, material, url)
        with pytest.raises(RevocationUnavailable):  # signed with a key that is not pinned
            await verify(verifier, ObjectStore(db), cards[0])
    verifier = verifier_for(tmp_path, material, url)  # nobody listens there any more
    with pytest.raises(RevocationUnavailable):
        await verify(verifier, ObjectStore(db), cards[0])
    assert await ObjectStore(db).find(CACHE_KIND, certificate_digest(login(cards[0])[0]), now=NOW) is None


def test_platform_settings_are_checked(tmp_path: Path, material: dict[str, Path]) -> None:
    base = {"MYNACARD_TEST_MODE": "1", "MYNACARD_CARD_LOGIN_TRUST_DIR": str(material["trust"])}
    with pytest.raises(SettingsError, match=r"platform_operator and card_login\.platform_jwks"):
        settings_for(tmp_path, **base, MYNACARD_CARD_LOGIN_PLATFORM_URL="http://127.0.0.1:9/status")
    with pytest.raises(SettingsError, match="choose one online revocation source"):
        settings_for(tmp_path, **base, MYNACARD_CARD_LOGIN_PLATFORM_URL="http://127.0.0.1:9/status",
                     MYNACARD_CARD_LOGIN_PLATFORM_OPERATOR=OPERATOR,
                     MYNACARD_CARD_LOGIN_PLATFORM_JWKS=str(material["jwks"]), MYNACARD_CARD_LOGIN_OCSP="1")
    with pytest.raises(SettingsError, match="http is allowed only for loopback"):
        settings_for(tmp_path, MYNACARD_CARD_LOGIN_PLATFORM_URL="http://operator.example/status",
                     MYNACARD_CARD_LOGIN_PLATFORM_OPERATOR=OPERATOR,
                     MYNACARD_CARD_LOGIN_PLATFORM_JWKS=str(material["jwks"]))
    with pytest.raises(NotConfigured, match="platform_jwks"):
        CardVerifier.from_settings(settings_for(
            tmp_path, **base, MYNACARD_CARD_LOGIN_PLATFORM_URL="http://127.0.0.1:9/status",
            MYNACARD_CARD_LOGIN_PLATFORM_OPERATOR=OPERATOR, MYNACARD_CARD_LOGIN_PLATFORM_JWKS=str(tmp_path / "absent")))
    with pytest.raises(NotConfigured, match="no revocation source"):
        CardVerifier.from_settings(settings_for(tmp_path, **base))


# the operator is asked through the outbound client (issue 15): address policy, whole-request deadline


def test_an_operator_name_resolving_to_a_non_public_address_is_not_asked(
        tmp_path: Path, material: dict[str, Path], cards: tuple[CardMaterial, CardMaterial]) -> None:
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[IPAddress]:
        asked.append(host)
        return [ipaddress.ip_address("10.0.0.8")]

    verifier = verifier_for(tmp_path, material, "https://operator.example.jp/status")
    verifier.outbound.resolver = resolve
    assert verifier.platform is not None
    certificate = login(cards[0])[0]
    with pytest.raises(RevocationUnavailable) as caught:
        verifier.platform.check(certificate, Purpose.AUTH, nonce=bytes(32))
    assert caught.value.detail == "platform operator: refused_address"
    assert asked == ["operator.example.jp"]
    # an operator on an internal network is admitted once its network is named
    allowed = verifier_for(tmp_path, material, "https://operator.example.jp/status",
                           MYNACARD_HTTP_OUTBOUND_ALLOW="10.0.0.0/24")
    assert allowed.outbound.policy.admits(ipaddress.ip_address("10.0.0.8"))


def test_a_slow_operator_is_cut_at_the_deadline(tmp_path: Path, material: dict[str, Path],
                                                cards: tuple[CardMaterial, CardMaterial]) -> None:
    with drip_server(b"x" * 100, media_type="application/jose") as base:
        verifier = verifier_for(tmp_path, material, base + "/status", MYNACARD_CARD_LOGIN_PLATFORM_TIMEOUT="1")
        assert verifier.platform is not None
        started = time.monotonic()
        with pytest.raises(RevocationUnavailable) as caught:
            verifier.platform.check(login(cards[0])[0], Purpose.AUTH, nonce=bytes(32))
    assert caught.value.detail == "platform operator: timeout"
    assert time.monotonic() - started < 5  # the answer would take 20 s, each octet well within 1 s


def test_a_non_public_operator_address_must_be_allowed(tmp_path: Path, material: dict[str, Path]) -> None:
    base = {"MYNACARD_CARD_LOGIN_TRUST_DIR": str(material["trust"]), "MYNACARD_CARD_LOGIN_PLATFORM_OPERATOR": OPERATOR,
            "MYNACARD_CARD_LOGIN_PLATFORM_JWKS": str(material["jwks"])}
    for url in ("http://127.0.0.1:8300/status", "https://10.1.2.3/status", "https://[fd00::5]/status"):
        with pytest.raises(SettingsError, match="platform_url: its address is not public"):
            settings_for(tmp_path, **base, MYNACARD_CARD_LOGIN_PLATFORM_URL=url)
        settings_for(tmp_path, **base, MYNACARD_CARD_LOGIN_PLATFORM_URL=url,
                     MYNACARD_HTTP_OUTBOUND_ALLOW="127.0.0.1/32,10.1.0.0/16,fd00::/8")
    with pytest.raises(SettingsError, match=r"http\.outbound_allow: 'intranet'"):
        settings_for(tmp_path, MYNACARD_HTTP_OUTBOUND_ALLOW="10.0.0.0/8,intranet")
