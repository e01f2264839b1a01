"""JPKI path validation: the one success path, and a precise reason for every deviation from the profile."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from keys.errors import LimitExceeded, MalformedInput, Reason, UntrustedCertificate, VerificationError
from keys.limits import Limits
from keys.testpki import CardMaterial, TestPki
from keys.testpki.hierarchy import HolderFacts
from keys.trust import TrustStore
from keys.x509 import strict
from keys.x509.path import validate_path
from keys.x509.profile import AUTH_POLICY_OID, JPKI_AUTH, JPKI_SIGN, SIGN_POLICY_OID, TEST_SIGN_POLICY_OID, Purpose

from .conftest import NOW, LeafBuilder, der


def _reason(exc: pytest.ExceptionInfo[VerificationError]) -> Reason:
    return exc.value.reason


def test_auth_and_sign_certificates_validate(card: CardMaterial, test_store: TrustStore) -> None:
    auth = validate_path(card.auth_certificate, profile=JPKI_AUTH, trust=test_store, at=NOW)
    assert auth.policy_oid == AUTH_POLICY_OID
    assert auth.chain == (card.auth_certificate, card.auth_root.certificate)
    assert card.sign_certificate is not None
    sign = validate_path(der(card.sign_certificate), profile=JPKI_SIGN, trust=test_store, at=NOW)
    assert sign.policy_oid == TEST_SIGN_POLICY_OID
    assert sign.issuer == card.sign_root.certificate


@pytest.mark.parametrize("generation", [1, 2, 3])
def test_each_generation_chains_to_its_own_root(pki: TestPki, test_store: TrustStore, generation: int) -> None:
    start = {1: dt.datetime(2016, 1, 1, tzinfo=dt.UTC), 2: dt.datetime(2020, 1, 1, tzinfo=dt.UTC), 3: NOW}[generation]
    card = pki.issue_card(now=start, generation=generation, with_sign=False, lifetime=dt.timedelta(days=400))
    path = validate_path(card.auth_certificate, profile=JPKI_AUTH, trust=test_store, at=start)
    assert path.anchor.certificate == pki.root(Purpose.AUTH, generation).certificate


def test_same_dn_other_generation_signature_is_refused(build_leaf: LeafBuilder, pki: TestPki,
                                                       test_store: TrustStore) -> None:
    # AKI names generation 3, but generation 2 (same DN) signed it: the signature check must catch it.
    leaf = build_leaf(signer=pki.root(Purpose.AUTH, 2))
    with pytest.raises(UntrustedCertificate) as exc:
        validate_path(leaf, profile=JPKI_AUTH, trust=test_store, at=NOW)
    assert _reason(exc) is Reason.NO_VALID_PATH


def test_profiles_do_not_cross(card: CardMaterial, test_store: TrustStore) -> None:
    assert card.sign_certificate is not None
    with pytest.raises(UntrustedCertificate) as exc:
        validate_path(card.sign_certificate, profile=JPKI_AUTH, trust=test_store, at=NOW)
    assert _reason(exc) is Reason.WRONG_POLICY
    with pytest.raises(UntrustedCertificate) as exc:
        validate_path(card.auth_certificate, profile=JPKI_SIGN, trust=test_store, at=NOW)
    assert _reason(exc) is Reason.WRONG_POLICY


def test_test_hierarchy_refused_outside_test_mode(card: CardMaterial, pki: TestPki) -> None:
    production = TrustStore.build([(f"r{i}", der(r.certificate)) for i, r in enumerate(pki.roots())])
    with pytest.raises(UntrustedCertificate) as exc:
        validate_path(card.auth_certificate, profile=JPKI_AUTH, trust=production, at=NOW)
    assert _reason(exc) is Reason.TEST_ROOT_REFUSED


def test_real_roots_do_not_validate_test_cards(card: CardMaterial, jlis_roots: Path) -> None:
    from keys.trust_files import load_trust_directory

    store = load_trust_directory(jlis_roots, allow_test_roots=True)
    with pytest.raises(UntrustedCertificate) as exc:
        validate_path(card.auth_certificate, profile=JPKI_AUTH, trust=store, at=NOW)
    assert _reason(exc) is Reason.UNTRUSTED_ROOT


@pytest.mark.parametrize(
    ("offset", "reason"),
    [
        (dt.timedelta(0), None),
        (dt.timedelta(seconds=1), Reason.EXPIRED),
    ],
)
def test_not_after_boundary(card: CardMaterial, test_store: TrustStore, offset: dt.timedelta,
                            reason: Reason | None) -> None:
    at = card.auth_certificate.not_valid_after_utc + offset
    if reason is None:
        validate_path(card.auth_certificate, profile=JPKI_AUTH, trust=test_store, at=at)
        return
    with pytest.raises(UntrustedCertificate) as exc:
        validate_path(card.auth_certificate, profile=JPKI_AUTH, trust=test_store, at=at)
    assert _reason(exc) is reason


def test_not_yet_valid(card: CardMaterial, test_store: TrustStore) -> None:
    at = card.auth_certificate.not_valid_before_utc - dt.timedelta(seconds=1)
    with pytest.raises(UntrustedCertificate) as exc:
        validate_path(card.auth_certificate, profile=JPKI_AUTH, trust=test_store, at=at)
    assert _reason(exc) is Reason.NOT_YET_VALID


def test_naive_time_is_a_programming_error(card: CardMaterial, test_store: TrustStore) -> None:
    with pytest.raises(ValueError, match="timezone"):
        validate_path(card.auth_certificate, profile=JPKI_AUTH, trust=test_store, at=NOW.replace(tzinfo=None))


def _policies(*oids: ObjectIdentifier) -> x509.CertificatePolicies:
    return x509.CertificatePolicies([x509.PolicyInformation(o, None) for o in oids])


def _ku(**bits: bool) -> x509.KeyUsage:
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{n: bits.get(n, False) for n in names})


ANY_POLICY = ObjectIdentifier("2.5.29.32.0")


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"replace": {_policies(AUTH_POLICY_OID): False}}, Reason.WRONG_POLICY),  # non-critical CP
        ({"drop": (x509.CertificatePolicies,)}, Reason.WRONG_POLICY),
        ({"replace": {_policies(SIGN_POLICY_OID): True}}, Reason.WRONG_POLICY),
        ({"replace": {_policies(ANY_POLICY): True}}, Reason.WRONG_POLICY),
        ({"replace": {_policies(AUTH_POLICY_OID, ANY_POLICY): True}}, Reason.WRONG_POLICY),
        ({"replace": {_policies(ObjectIdentifier("1.2.392.200149.8.5.1.3.31")): True}}, Reason.WRONG_POLICY),
        ({"replace": {_ku(digital_signature=True): False}}, Reason.WRONG_KEY_USAGE),
        ({"drop": (x509.KeyUsage,)}, Reason.WRONG_KEY_USAGE),
        ({"replace": {_ku(content_commitment=True): True}}, Reason.WRONG_KEY_USAGE),
        ({"replace": {_ku(digital_signature=True, key_cert_sign=True): True}}, Reason.WRONG_KEY_USAGE),
        ({"replace": {_ku(digital_signature=True, content_commitment=True): True}}, Reason.WRONG_KEY_USAGE),
        ({"replace": {_ku(digital_signature=True, key_encipherment=True): True}}, Reason.WRONG_KEY_USAGE),
        ({"replace": {x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]): False}},
         Reason.WRONG_EXTENDED_KEY_USAGE),
        ({"add": [(HolderFacts().san(), False)]}, Reason.WRONG_POLICY),  # personal data on an auth cert
        ({"add": [(x509.UnrecognizedExtension(ObjectIdentifier("1.2.3.4.5"), b"\x05\x00"), True)]},
         Reason.NO_VALID_PATH),  # unknown critical extension
        ({"replace": {x509.BasicConstraints(ca=True, path_length=None): True}}, Reason.NO_VALID_PATH),
        ({"drop": (x509.AuthorityKeyIdentifier,)}, Reason.NO_VALID_PATH),
    ],
    ids=lambda v: v.value if isinstance(v, Reason) else None,
)
def test_auth_profile_deviations(build_leaf: LeafBuilder, test_store: TrustStore, options: dict[str, object],
                                 reason: Reason) -> None:
    leaf = build_leaf(**options)
    with pytest.raises(VerificationError) as exc:
        validate_path(leaf, profile=JPKI_AUTH, trust=test_store, at=NOW)
    assert _reason(exc) is reason, exc.value.detail


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"replace": {_ku(digital_signature=True): True}}, Reason.WRONG_KEY_USAGE),  # no nonRepudiation
        ({"drop": (x509.SubjectAlternativeName,)}, Reason.NO_VALID_PATH),
        ({"replace": {_policies(AUTH_POLICY_OID): True}}, Reason.WRONG_POLICY),
    ],
)
def test_sign_profile_deviations(build_leaf: LeafBuilder, test_store: TrustStore, options: dict[str, object],
                                 reason: Reason) -> None:
    leaf = build_leaf(purpose=Purpose.SIGN, **options)
    with pytest.raises(VerificationError) as exc:
        validate_path(leaf, profile=JPKI_SIGN, trust=test_store, at=NOW)
    assert _reason(exc) is reason, exc.value.detail


def test_production_sign_policy_is_refused_on_test_policy_only_in_production(build_leaf: LeafBuilder,
                                                                             test_store: TrustStore) -> None:
    # The real signing policy OID is accepted in test mode too (a test hierarchy may mirror production).
    leaf = build_leaf(purpose=Purpose.SIGN, replace={_policies(SIGN_POLICY_OID): True})
    assert validate_path(leaf, profile=JPKI_SIGN, trust=test_store, at=NOW).policy_oid == SIGN_POLICY_OID


@pytest.mark.parametrize(
    ("bits", "exponent"),
    [(1024, 65537), (2048, 3), (2048, 65539), (4608, 65537)],
)
def test_weak_or_odd_leaf_keys(build_leaf: LeafBuilder, test_store: TrustStore, bits: int, exponent: int) -> None:
    modulus = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key().public_numbers().n
    key = rsa.RSAPublicNumbers(exponent, modulus).public_key()  # only the public half is certified
    leaf = build_leaf(key=key)
    with pytest.raises(UntrustedCertificate) as exc:
        validate_path(leaf, profile=JPKI_AUTH, trust=test_store, at=NOW)
    assert _reason(exc) is Reason.WEAK_KEY


def test_ec_leaf_key_refused_for_jpki(build_leaf: LeafBuilder, test_store: TrustStore, ec_key: object) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    assert isinstance(ec_key, ec.EllipticCurvePrivateKey)
    leaf = build_leaf(key=ec_key.public_key())
    with pytest.raises(UntrustedCertificate) as exc:
        validate_path(leaf, profile=JPKI_AUTH, trust=test_store, at=NOW)
    assert _reason(exc) is Reason.WEAK_KEY


def test_jpki_refuses_intermediates(card: CardMaterial, test_store: TrustStore) -> None:
    with pytest.raises(UntrustedCertificate) as exc:
        validate_path(card.auth_certificate, profile=JPKI_AUTH, trust=test_store, at=NOW,
                      intermediates=[card.auth_root.certificate])
    assert _reason(exc) is Reason.NO_VALID_PATH


def test_chain_length_limit(card: CardMaterial, test_store: TrustStore) -> None:
    with pytest.raises(LimitExceeded):
        validate_path(card.auth_certificate, profile=JPKI_AUTH, trust=test_store, at=NOW,
                      intermediates=[card.auth_root.certificate] * 8, limits=Limits(chain_length=8))


@pytest.mark.parametrize(
    ("data", "error", "reason"),
    [
        (b"", MalformedInput, Reason.MALFORMED),
        (b"\x30\x82\x01", MalformedInput, Reason.MALFORMED),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", MalformedInput, Reason.MALFORMED),
        (b"\x30\x84\xff\xff\xff\xff" + b"\x00" * 64, MalformedInput, Reason.MALFORMED),
        (b"\x30" * 20000, LimitExceeded, Reason.TOO_LARGE),
        (b"\x30\x80" * 5000, MalformedInput, Reason.MALFORMED),  # deep indefinite-length nesting
    ],
)
def test_bad_input(test_store: TrustStore, data: bytes, error: type[VerificationError], reason: Reason) -> None:
    with pytest.raises(error) as exc:
        validate_path(data, profile=JPKI_AUTH, trust=test_store, at=NOW)
    assert _reason(exc) is reason


def test_truncated_real_certificate(card: CardMaterial, test_store: TrustStore) -> None:
    data = der(card.auth_certificate)
    for cut in (1, 10, len(data) // 2, len(data) - 1):
        with pytest.raises(MalformedInput):
            validate_path(data[:cut], profile=JPKI_AUTH, trust=test_store, at=NOW)


def test_tampered_signature_fails(card: CardMaterial, test_store: TrustStore) -> None:
    data = bytearray(der(card.auth_certificate))
    data[-3] ^= 0x40
    with pytest.raises(UntrustedCertificate) as exc:
        validate_path(bytes(data), profile=JPKI_AUTH, trust=test_store, at=NOW)
    assert _reason(exc) is Reason.NO_VALID_PATH


def test_wrong_purpose_root(pki: TestPki, build_leaf: LeafBuilder) -> None:
    # An auth-profile certificate chaining to the signing root is refused even if everything else fits.
    leaf = build_leaf(purpose=Purpose.SIGN, replace={_policies(AUTH_POLICY_OID): True,
                                                    _ku(digital_signature=True): True},
                      drop=(x509.SubjectAlternativeName,))
    store = TrustStore.build([("s", der(pki.root(Purpose.SIGN).certificate))], allow_test_roots=True)
    with pytest.raises(UntrustedCertificate) as exc:
        validate_path(leaf, profile=JPKI_AUTH, trust=store, at=NOW)
    assert _reason(exc) is Reason.WRONG_POLICY


def test_roca_fingerprinted_card_key_is_refused(build_leaf: LeafBuilder, test_store: TrustStore) -> None:
    # A 2048-bit modulus congruent to a power of 65537 modulo every ROCA fingerprint prime (CVE-2017-15361).
    primes = (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101,
              103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167)
    m = 1
    for p in primes:
        m *= p
    n = pow(65537, 987654321, m) + m * ((1 << 2047) // m + 1)
    n += m if n % 2 == 0 else 0
    assert n.bit_length() == 2048
    leaf = build_leaf(key=rsa.RSAPublicNumbers(65537, n).public_key())
    with pytest.raises(UntrustedCertificate, match="ROCA") as exc:
        validate_path(leaf, profile=JPKI_AUTH, trust=test_store, at=NOW)
    assert _reason(exc) is Reason.WEAK_KEY


def test_lazily_decoded_garbage_is_malformed_input(card: CardMaterial, test_store: TrustStore) -> None:
    """Found by fuzzing (tests/fuzz, seeds x509_path/regress-*): cryptography loads a certificate whose issuer
    holds a string of an unknown tag, or whose key OID swallowed its parameters, and fails only when the name or
    key is read; that failure is MALFORMED, not a ValueError or UnsupportedAlgorithm."""
    leaf = der(card.auth_certificate)
    rsa_oid_and_null = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01\x05\x00"
    for broken in (leaf.replace(b"\x06\x03\x55\x04\x0a\x0c", b"\x06\x03\x55\x04\x0a\x0d", 1),
                   leaf.replace(rsa_oid_and_null, b"\x06\x0b" + rsa_oid_and_null[2:], 1)):
        assert broken != leaf
        with pytest.raises(MalformedInput) as info:
            validate_path(broken, profile=JPKI_AUTH, trust=test_store, at=NOW)
        assert info.value.reason is Reason.MALFORMED


def test_unsupported_general_name_type_is_malformed_input(card: CardMaterial, test_store: TrustStore) -> None:
    """Found by atheris (seed x509_path/regress-x400-name): an x400Address in issuerAltName makes cryptography
    raise UnsupportedGeneralNameType (not a ValueError) when the extensions are read."""
    leaf = der(card.auth_certificate)
    at = leaf.index(b"\xa4", leaf.index(b"\x06\x03\x55\x1d\x12"))  # issuerAltName's directoryName [4]
    broken = leaf[:at] + b"\xa3" + leaf[at + 1 :]  # -> x400Address [3]
    with pytest.raises(MalformedInput):
        validate_path(broken, profile=JPKI_AUTH, trust=test_store, at=NOW)
    with pytest.raises(MalformedInput):
        strict.check_certificate(x509.load_der_x509_certificate(broken), is_leaf=True)


def test_name_attribute_of_bit_string_type_is_malformed_input(card: CardMaterial, test_store: TrustStore) -> None:
    """Found by atheris (seed x509_path/regress-bitstring-name): an issuer attribute typed BIT STRING (allowed only
    for x500UniqueIdentifier) makes cryptography raise TypeError when the name is read."""
    leaf = der(card.auth_certificate)
    broken = leaf.replace(b"\x06\x03\x55\x04\x0a\x0c\x09JPKI-TEST", b"\x06\x03\x55\x04\x0a\x03\x09\x00PKI-TEST", 1)
    assert broken != leaf
    with pytest.raises(MalformedInput):
        validate_path(broken, profile=JPKI_AUTH, trust=test_store, at=NOW)
