"""Trust store: every real J-LIS root loads by pin; unpinned twins and test roots are refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from keys.errors import Reason
from keys.testpki import TestPki
from keys.trust import PINNED_JLIS_ROOTS, TrustStore, fingerprint, jpki_purpose_of
from keys.trust_files import load_trust_directory
from keys.x509.profile import Purpose
from tests.support import vectors

from .conftest import der

JPKI_ROOTS = vectors.jlis_roots()
pytestmark = pytest.mark.skipif(not JPKI_ROOTS.is_dir(), reason=vectors.missing("jlis_roots"))

REAL = {
    "auth_ca_2015.pem": (Purpose.AUTH, "auth gen 1 (2015)"),
    "auth_ca_2023.pem": (Purpose.AUTH, "auth gen 3 (2023)"),
    "sign_ca_2015.pem": (Purpose.SIGN, "sign gen 1 (2015)"),
    "sign_ca_2019.pem": (Purpose.SIGN, "sign gen 2 (2019)"),
    "sign_ca_2023.pem": (Purpose.SIGN, "sign gen 3 (2023)"),
}


def test_every_real_root_is_pinned_and_loads() -> None:
    store = load_trust_directory(JPKI_ROOTS)
    assert store.refused == ()
    assert sorted(a.label for a in store.anchors) == sorted(label for _, label in REAL.values())
    assert len(PINNED_JLIS_ROOTS) == len(REAL)


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_root_is_self_signed_with_its_purpose(name: str) -> None:
    cert = x509.load_pem_x509_certificate((JPKI_ROOTS / name).read_bytes())
    cert.verify_directly_issued_by(cert)  # raises if the self-signature is bad
    purpose, label = REAL[name]
    assert jpki_purpose_of(cert.subject) is purpose
    assert PINNED_JLIS_ROOTS[fingerprint(cert)] == label


def test_generations_share_a_dn_and_differ_by_key_id() -> None:
    store = load_trust_directory(JPKI_ROOTS)
    signing = [a for a in store.anchors if a.purpose is Purpose.SIGN]
    assert len({a.certificate.subject for a in signing}) == 1
    assert len({a.key_id for a in signing}) == 3


def _twin(cert: x509.Certificate) -> x509.Certificate:
    """Same DN and extensions as a real root, our key: must not be trusted."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    builder = (
        x509.CertificateBuilder()
        .subject_name(cert.subject)
        .issuer_name(cert.issuer)
        .public_key(key.public_key())
        .serial_number(cert.serial_number)
        .not_valid_before(cert.not_valid_before_utc)
        .not_valid_after(cert.not_valid_after_utc)
    )
    for ext in cert.extensions:
        value = ext.value
        if isinstance(value, x509.SubjectKeyIdentifier):
            value = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        builder = builder.add_extension(value, ext.critical)
    return builder.sign(key, hashes.SHA256())


def test_twin_of_real_root_is_refused() -> None:
    real = x509.load_pem_x509_certificate((JPKI_ROOTS / "auth_ca_2023.pem").read_bytes())
    store = TrustStore.build([("twin", der(_twin(real)))])
    assert store.anchors == ()
    assert store.refused[0].reason is Reason.UNTRUSTED_ROOT


def test_extra_pin_admits_a_checked_root() -> None:
    real = x509.load_pem_x509_certificate((JPKI_ROOTS / "auth_ca_2023.pem").read_bytes())
    twin = _twin(real)
    pin = ":".join(f"{b:02X}" for b in bytes.fromhex(fingerprint(twin)))
    store = TrustStore.build([("twin", der(twin))], extra_pins={pin: "operator-added"})
    assert [a.label for a in store.anchors] == ["operator-added"]


def test_test_roots_need_test_mode(pki: TestPki, tmp_path: Path) -> None:
    pki.write_trust_directory(tmp_path)
    production = load_trust_directory(tmp_path)
    assert production.anchors == ()
    assert {r.reason for r in production.refused} == {Reason.TEST_ROOT_REFUSED}
    test_mode = load_trust_directory(tmp_path, allow_test_roots=True)
    assert len(test_mode.anchors) == 6
    assert all(a.is_test for a in test_mode.anchors)


def test_a_pinned_fingerprint_never_admits_a_test_named_root(pki: TestPki) -> None:
    root = pki.root(Purpose.AUTH).certificate
    store = TrustStore.build([("r", der(root))], extra_pins={fingerprint(root): "pinned by mistake"})
    assert store.anchors == ()


def test_non_ca_and_bad_self_signature_are_refused(pki: TestPki, card: object) -> None:
    from keys.testpki import CardMaterial

    assert isinstance(card, CardMaterial)
    leaf = card.auth_certificate
    root = pki.root(Purpose.AUTH).certificate
    tampered = bytearray(der(root))
    tampered[-5] ^= 0x01  # inside the signature
    store = TrustStore.build([("leaf", der(leaf)), ("tampered", bytes(tampered))], allow_test_roots=True)
    assert store.anchors == ()
    assert [r.reason for r in store.refused] == [Reason.UNTRUSTED_ROOT, Reason.BAD_SIGNATURE]


def test_garbage_and_oversize_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "garbage.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    (tmp_path / "big.der").write_bytes(b"\x30\x84" + b"\x00" * 20000)
    store = load_trust_directory(tmp_path)
    assert store.anchors == ()
    assert sorted(r.reason for r in store.refused) == sorted([Reason.MALFORMED, Reason.TOO_LARGE])


def test_candidates_are_picked_by_authority_key_id(pki: TestPki, test_store: TrustStore) -> None:
    for generation in (1, 2, 3):
        card = pki.issue_card(now=dt.datetime(2020, 1, 1, tzinfo=dt.UTC) if generation < 3 else
                              dt.datetime(2026, 1, 1, tzinfo=dt.UTC), generation=generation, with_sign=False)
        (candidate,) = test_store.candidates_for(card.auth_certificate)
        assert candidate.certificate == pki.root(Purpose.AUTH, generation).certificate


def test_pem_bundle_directory(pki: TestPki, tmp_path: Path) -> None:
    bundle = b"".join(r.certificate.public_bytes(serialization.Encoding.PEM) for r in pki.roots())
    (tmp_path / "bundle.pem").write_bytes(bundle)
    assert len(load_trust_directory(tmp_path, allow_test_roots=True).anchors) == 6


def test_certificate_of_an_unknown_version_is_malformed(pki: TestPki) -> None:
    """Found by fuzzing (seed x509_path/regress-version): cryptography raises InvalidVersion, which is not a
    ValueError, for a certificate version other than v1/v3; parse_certificate makes it MalformedInput."""
    from keys.errors import MalformedInput
    from keys.trust import parse_certificate

    cert = pki.roots()[0].certificate.public_bytes(serialization.Encoding.DER)
    broken = cert.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x2b", 1)  # version v3 (2) -> 43
    assert broken != cert
    with pytest.raises(MalformedInput):
        parse_certificate(broken)
