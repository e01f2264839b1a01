"""Card login: the domain-separated message, its verification with the test PKI, and the account identifier."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from typing import Any

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from hypothesis import given
from hypothesis import strategies as st

from keys.cardlogin import (
    CONTEXT,
    LoginMessage,
    RevocationInputs,
    account_id_for,
    check_card_certificate,
    encode_login_message,
    login_digest_info,
    verify_card_login,
)
from keys.errors import InvalidSignature, Reason, RevocationUnavailable, RevokedCertificate, UntrustedCertificate
from keys.revocation import RevocationPolicy, load_crl
from keys.revocation.crl import CrlIndex
from keys.revocation.status import CertStatus
from keys.signatures import SHA256_DIGEST_INFO_PREFIX
from keys.testpki import CardMaterial, HolderFacts, Root, TestPki
from keys.testpki.revocation import issue_crl
from keys.trust import TrustStore
from keys.x509.profile import Purpose

from .conftest import NOW, der

HOUR = dt.timedelta(hours=1)
ISSUER = "https://id.example.jp"
CHALLENGE = bytes(range(32))
FACTS = HolderFacts(name="署名\u3000花子", sex="2", birth_date="420000229",
                    address="大阪府大阪市北区中之島１丁目３番２０号")


def message(key: Purpose = Purpose.AUTH, **changes: Any) -> LoginMessage:
    base = LoginMessage(ISSUER, "uid-0123456789", CHALLENGE, NOW - dt.timedelta(seconds=20), key)
    return dataclasses.replace(base, **changes)


def sign(key: rsa.RSAPrivateKey | None, data: bytes) -> bytes:
    assert key is not None
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


@pytest.fixture(scope="module")
def adult(pki: TestPki) -> CardMaterial:
    return pki.issue_card(now=NOW, facts=FACTS)


def _crl(root: Root, revoked: list[int] | None = None) -> CrlIndex:
    data = issue_crl(root, [(s, NOW - 24 * HOUR, x509.ReasonFlags.key_compromise) for s in revoked or []],
                     this_update=NOW - HOUR, next_update=NOW + 23 * HOUR, crl_number=7)
    return load_crl(data, issuer=root.certificate, at=NOW)


@pytest.fixture(scope="module")
def crls(adult: CardMaterial) -> RevocationInputs:
    return RevocationInputs(crls=[_crl(adult.auth_root), _crl(adult.sign_root)])


def login(card: CardMaterial, msg: LoginMessage, signature: bytes, trust: TrustStore, revocation: RevocationInputs,
          *, at: dt.datetime = NOW, certificate: x509.Certificate | None = None) -> Any:
    cert = certificate or (card.auth_certificate if msg.key is Purpose.AUTH else card.sign_certificate)
    assert cert is not None
    return verify_card_login(der(cert), signature, expected=msg, trust=trust, revocation=revocation, at=at)


# --- the message ---------------------------------------------------------------------------------------------


def test_encoding_is_length_prefixed_fields_after_the_context() -> None:
    msg = message()
    expected = b"".join(len(p).to_bytes(4, "big") + p for p in (
        b"mynacard-id card login v1", b"https://id.example.jp", b"uid-0123456789", CHALLENGE,
        int((NOW - dt.timedelta(seconds=20)).timestamp()).to_bytes(8, "big"), b"auth"))
    assert encode_login_message(msg) == expected
    assert expected.startswith(bytes.fromhex("00000019") + CONTEXT)
    assert login_digest_info(msg) == SHA256_DIGEST_INFO_PREFIX + hashlib.sha256(expected).digest()


@given(st.text(alphabet="ab/:.", min_size=1, max_size=6), st.text(alphabet="ab/:.", min_size=1, max_size=6),
       st.text(alphabet="ab/:.", min_size=1, max_size=6), st.text(alphabet="ab/:.", min_size=1, max_size=6))
def test_distinct_fields_never_encode_alike(issuer_a: str, uid_a: str, issuer_b: str, uid_b: str) -> None:
    a = encode_login_message(message(issuer=issuer_a, interaction=uid_a))
    b = encode_login_message(message(issuer=issuer_b, interaction=uid_b))
    assert (a == b) == ((issuer_a, uid_a) == (issuer_b, uid_b))


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"challenge": bytes(31)}, "32 octets"),
        ({"issued_at": dt.datetime(2026, 11, 22, 12, 0)}, "aware"),  # naive on purpose
        ({"issued_at": NOW.replace(microsecond=5)}, "whole seconds"),
        ({"key": Purpose.GENERIC}, "auth or sign"),
        ({"interaction": ""}, "interaction"),
        ({"issuer": "https://例え.jp"}, "ASCII"),
    ],
)
def test_messages_outside_the_format_are_refused(changes: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        message(**changes)


# --- verification --------------------------------------------------------------------------------------------


def test_auth_login_verifies_without_personal_data(adult: CardMaterial, test_store: TrustStore,
                                                   crls: RevocationInputs) -> None:
    msg = message()
    result = login(adult, msg, sign(adult.auth_key, encode_login_message(msg)), test_store, crls)
    assert result.key is Purpose.AUTH
    assert result.facts is None
    assert result.revocation.status is CertStatus.GOOD
    assert result.certificate_sha256 == hashlib.sha256(der(adult.auth_certificate)).hexdigest()
    assert result.account_id == account_id_for(adult.auth_certificate.public_key(), Purpose.AUTH)  # type: ignore[arg-type]
    assert len(result.account_id) == 43


def test_sign_login_returns_the_basic_facts(adult: CardMaterial, test_store: TrustStore,
                                            crls: RevocationInputs) -> None:
    msg = message(Purpose.SIGN)
    result = login(adult, msg, sign(adult.sign_key, encode_login_message(msg)), test_store, crls)
    assert result.facts is not None
    assert (result.facts.name, result.facts.birth_date, result.facts.sex.value) == ("署名\u3000花子", "2000-02-29", "2")
    assert result.facts.address == FACTS.address
    assert "花子" not in repr(result)


def test_account_id_is_stable_per_key_and_differs_between_keys(adult: CardMaterial, pki: TestPki,
                                                               test_store: TrustStore,
                                                               crls: RevocationInputs) -> None:
    first, second = message(), message(challenge=bytes(32), interaction="another")
    a = login(adult, first, sign(adult.auth_key, encode_login_message(first)), test_store, crls)
    b = login(adult, second, sign(adult.auth_key, encode_login_message(second)), test_store, crls)
    msg = message(Purpose.SIGN)
    c = login(adult, msg, sign(adult.sign_key, encode_login_message(msg)), test_store, crls)
    assert a.account_id == b.account_id != c.account_id
    # a certificate re-issued for the same card key keeps the account; a new key (renewal) does not
    same_key = pki.issue_card(now=NOW, auth_key=adult.auth_key, with_sign=False)
    renewed = pki.issue_card(now=NOW, with_sign=False)
    crl = RevocationInputs(crls=[_crl(adult.auth_root)])
    assert same_key.auth_certificate.serial_number != adult.auth_certificate.serial_number
    assert login(same_key, first, sign(adult.auth_key, encode_login_message(first)), test_store, crl).account_id \
        == a.account_id
    assert login(renewed, first, sign(renewed.auth_key, encode_login_message(first)), test_store, crl).account_id \
        != a.account_id


@pytest.mark.parametrize(
    "changes",
    [
        {"issuer": "https://evil.example"},
        {"interaction": "uid-other"},
        {"challenge": bytes(32)},
        {"issued_at": NOW - dt.timedelta(seconds=21)},
        {"key": Purpose.SIGN},
    ],
    ids=["issuer", "interaction", "challenge", "time", "key"],
)
def test_a_signature_over_other_fields_fails(adult: CardMaterial, test_store: TrustStore, crls: RevocationInputs,
                                             changes: dict[str, Any]) -> None:
    signed = message(**changes)
    with pytest.raises(InvalidSignature) as caught:
        login(adult, message(), sign(adult.auth_key, encode_login_message(signed)), test_store, crls)
    assert caught.value.reason is Reason.BAD_SIGNATURE


def test_the_login_is_no_signing_oracle(adult: CardMaterial, test_store: TrustStore, crls: RevocationInputs) -> None:
    """A relying party cannot pass off a signature over data of its choosing as a login, nor use a login
    signature as a signature over a document."""
    msg = message()
    document = b"I owe 1,000,000 yen"
    digest = hashlib.sha256(encode_login_message(msg)).digest()
    for signature in (sign(adult.auth_key, document), sign(adult.auth_key, digest)):  # plain SHA-256 of data
        with pytest.raises(InvalidSignature) as caught:
            login(adult, msg, signature, test_store, crls)
        assert caught.value.reason is Reason.BAD_SIGNATURE
    genuine = adult.auth_key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    login(adult, msg, genuine, test_store, crls)
    public_key = adult.auth_certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    with pytest.raises(CryptoInvalidSignature):
        public_key.verify(genuine, document, padding.PKCS1v15(), hashes.SHA256())


def test_a_certificate_of_the_other_key_fails(adult: CardMaterial, test_store: TrustStore,
                                              crls: RevocationInputs) -> None:
    msg = message(Purpose.SIGN)
    signature = sign(adult.sign_key, encode_login_message(msg))
    with pytest.raises(UntrustedCertificate):  # an auth certificate offered for a signing-key login
        login(adult, msg, signature, test_store, crls, certificate=adult.auth_certificate)
    auth_msg = message()
    with pytest.raises(UntrustedCertificate):
        login(adult, auth_msg, sign(adult.sign_key, encode_login_message(auth_msg)), test_store, crls,
              certificate=adult.sign_certificate)


@pytest.mark.parametrize(
    ("at", "reason"),
    [(NOW + dt.timedelta(minutes=5), Reason.LOGIN_EXPIRED),
     (NOW - dt.timedelta(minutes=2), Reason.LOGIN_ISSUED_IN_FUTURE)],
)
def test_stale_and_future_logins_fail(adult: CardMaterial, test_store: TrustStore, crls: RevocationInputs,
                                      at: dt.datetime, reason: Reason) -> None:
    msg = message()
    with pytest.raises(InvalidSignature) as caught:
        login(adult, msg, sign(adult.auth_key, encode_login_message(msg)), test_store, crls, at=at)
    assert caught.value.reason is reason


def test_a_revoked_card_fails_closed(adult: CardMaterial, test_store: TrustStore) -> None:
    msg = message()
    signature = sign(adult.auth_key, encode_login_message(msg))
    revoked = RevocationInputs(crls=[_crl(adult.auth_root, [adult.auth_certificate.serial_number])])
    with pytest.raises(RevokedCertificate) as caught:
        login(adult, msg, signature, test_store, revoked)
    assert caught.value.reason is Reason.REVOKED


def test_missing_or_foreign_revocation_data_fails_closed(adult: CardMaterial, pki: TestPki,
                                                         test_store: TrustStore) -> None:
    msg = message()
    signature = sign(adult.auth_key, encode_login_message(msg))
    for inputs in (RevocationInputs(), RevocationInputs(crls=[_crl(pki.root(Purpose.AUTH, 2))])):
        with pytest.raises(RevocationUnavailable):
            login(adult, msg, signature, test_store, inputs)
    unchecked = login(adult, msg, signature, test_store, RevocationInputs(policy=RevocationPolicy(required=False)))
    assert unchecked.revocation.status is CertStatus.UNCHECKED


def test_test_cards_are_refused_outside_test_mode(adult: CardMaterial, pki: TestPki, crls: RevocationInputs) -> None:
    production = TrustStore.build([(f"r{i}", der(r.certificate)) for i, r in enumerate(pki.roots())])
    msg = message()
    with pytest.raises(UntrustedCertificate):
        login(adult, msg, sign(adult.auth_key, encode_login_message(msg)), production, crls)


# --- the certificate alone, before the PIN (check_card_certificate) --------------------------------------------


def _outcome(check: Any) -> tuple[type, Reason] | None:
    try:
        check()
    except (InvalidSignature, RevocationUnavailable, RevokedCertificate, UntrustedCertificate) as exc:
        return type(exc), exc.reason
    return None


@pytest.mark.parametrize(("case", "reason"), [
    ("auth", None), ("sign", None), ("revoked", Reason.REVOKED), ("no revocation data", Reason.REVOCATION_UNAVAILABLE),
    ("other key's certificate", Reason.WRONG_POLICY), ("test root refused", Reason.TEST_ROOT_REFUSED),
    ("expired", Reason.EXPIRED)])
def test_the_certificate_check_gives_the_logins_verdict_on_path_and_revocation(
        adult: CardMaterial, pki: TestPki, test_store: TrustStore, crls: RevocationInputs, case: str,
        reason: Reason | None) -> None:
    """Whatever the login's path and revocation checks say, the certificate check says the same (same error class
    and reason, or both pass): it runs the same steps, without the signature."""
    key = Purpose.SIGN if case == "sign" else Purpose.AUTH
    certificate = adult.sign_certificate if case in ("sign", "other key's certificate") else adult.auth_certificate
    assert certificate is not None
    trust = TrustStore.build([(f"r{i}", der(r.certificate)) for i, r in enumerate(pki.roots())]) if (
        case == "test root refused") else test_store
    revocation = {"revoked": RevocationInputs(crls=[_crl(adult.auth_root, [adult.auth_certificate.serial_number])]),
                  "no revocation data": RevocationInputs()}.get(case, crls)
    at = NOW + dt.timedelta(days=20 * 365) if case == "expired" else NOW
    msg = message(key, issued_at=at - dt.timedelta(seconds=20))
    signature = sign(adult.auth_key if key is Purpose.AUTH else adult.sign_key, encode_login_message(msg))
    login_verdict = _outcome(lambda: verify_card_login(der(certificate), signature, expected=msg, trust=trust,
                                                       revocation=revocation, at=at))
    certificate_verdict = _outcome(lambda: check_card_certificate(der(certificate), key=key, trust=trust,
                                                                  revocation=revocation, at=at))
    assert certificate_verdict == login_verdict
    assert (certificate_verdict or (None, None))[1] == reason
    if reason is None:
        standing = check_card_certificate(der(certificate), key=key, trust=trust, revocation=revocation, at=at)
        assert standing.certificate_sha256 == hashlib.sha256(der(certificate)).hexdigest()
        assert standing.revocation.status is CertStatus.GOOD
