"""x509-limbo runner: no false accepts and a better score than pyca/cryptography's own verifier, plus the
structural checks of keys.x509.strict that make the difference, each on certificates built here."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID, ObjectIdentifier

from conformance import limbo
from keys.errors import MalformedInput, Reason, UntrustedCertificate, VerificationError
from keys.testpki import TestPki
from keys.trust import TrustStore
from keys.trust_files import load_trust_directory
from keys.x509 import strict
from keys.x509.path import ValidatedPath, validate_path
from keys.x509.profile import GENERIC
from tests.support import vectors

LIMBO = vectors.x509_limbo_root() / "limbo.json"
JPKI_ROOTS = vectors.jlis_roots()
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
START, END = NOW - dt.timedelta(days=30), NOW + dt.timedelta(days=365)

#: The suite and these tests parse certificates with serial 0 or negative on purpose.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Parsed a serial number:cryptography.utils.CryptographyDeprecationWarning"
)

Key = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


# --- the suite --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report() -> limbo.Report:
    if not LIMBO.is_file():
        pytest.skip(vectors.missing("x509_limbo"))
    return limbo.run(LIMBO)


def test_no_false_accepts_and_better_than_pyca(report: limbo.Report) -> None:
    assert [o.id for o in report.ours.false_accepts] == []
    assert len(report.ours.passed) > len(report.baseline.passed)
    assert not [o.id for o in report.ours.outcomes if o.actual is limbo.Verdict.ERROR]
    assert all(o.detail for o in report.ours.skipped)
    # everything upstream's pyca harness scores, we score too
    assert {o.id for o in report.ours.skipped} <= {o.id for o in report.baseline.skipped}


def test_main_prints_the_summary_and_exits_zero(report: limbo.Report, capsys: pytest.CaptureFixture[str]) -> None:
    assert limbo.main([str(LIMBO)]) == 0
    lines = capsys.readouterr().out.splitlines()
    ours = report.ours
    assert lines[-3] == f"x509-limbo: {len(ours.passed)} passed, {len(ours.failed)} failed, {len(ours.skipped)} skipped"
    assert lines[-2] == "false accepts: 0"
    assert lines[-1].startswith(f"baseline: {len(report.baseline.passed)} passed")


def test_main_exits_zero_and_two_for_missing_vectors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert limbo.main([str(tmp_path / "absent.json")]) == 2
    assert "not found" in capsys.readouterr().err


def _case(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "t::case", "expected_result": "FAILURE", "features": [], "conflicts_with": [],
        "validation_kind": "SERVER", "signature_algorithms": [], "key_usage": [], "extended_key_usage": [],
    }
    return base | fields


def test_conflicting_pair_scores_the_fail_closed_side() -> None:
    cases = [
        _case(id="a::leaf", expected_result="SUCCESS", conflicts_with=["b::leaf"]),
        _case(id="b::leaf", expected_result="FAILURE", conflicts_with=["a::leaf"]),
        _case(id="c::eku", expected_result="SUCCESS", conflicts_with=["d::eku"]),
        _case(id="d::eku", expected_result="FAILURE", conflicts_with=["c::eku"], features=["pedantic-webpki-eku"]),
    ]
    reasons = limbo.skip_reasons(cases)
    assert set(reasons) == {"a::leaf", "d::eku"}
    assert "b::leaf" in reasons["a::leaf"]
    assert "pedantic-webpki-eku" in reasons["d::eku"]


def test_pyca_skip_rules_are_upstreams() -> None:
    assert limbo.pyca_skip_reason(_case(validation_kind="CLIENT")) == "non-SERVER cases not supported yet"
    assert limbo.pyca_skip_reason(_case(features=["has-crl"])) is not None
    assert limbo.pyca_skip_reason(_case(id="rfc5280::serial::zero")) is not None
    assert limbo.pyca_skip_reason(_case(extended_key_usage=["clientAuth"])) is not None
    assert limbo.pyca_skip_reason(_case(signature_algorithms=["RSA_WITH_SHA256"])) is not None
    assert limbo.pyca_skip_reason(_case(extended_key_usage=["serverAuth"])) is None


# --- certificates for the unit tests ----------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ec() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _ku(**bits: bool) -> x509.KeyUsage:
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{n: bits.get(n, False) for n in names})


def _cert(
    subject: str,
    key: Any,
    *,
    issuer: str | None = None,
    signer: Key | None = None,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    serial: int = 0x1234,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer or subject))
        .public_key(key)
        .serial_number(serial)
        .not_valid_before(START)
        .not_valid_after(END)
    )
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical)
    sign_with = signer if signer is not None else key
    algorithm = None if isinstance(sign_with, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(sign_with, algorithm)


def _root(key: Key, *extra: tuple[x509.ExtensionType, bool], subject: str = "root", issuer: str | None = None,
          ski: bool = True) -> x509.Certificate:
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=True, path_length=None), True),
        (_ku(key_cert_sign=True, crl_sign=True), True),
    ]
    if ski:
        extensions.append((x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False))
    return _cert(subject, key.public_key(), issuer=issuer, signer=key, extensions=[*extensions, *extra])


def _leaf(issuer_key: Key, cn: str = "a.example", san: Sequence[x509.GeneralName] | None = None,
          *extra: tuple[x509.ExtensionType, bool], aki: bool = True, key: Any = None) -> x509.Certificate:
    public = key if key is not None else _ec().public_key()
    extensions: list[tuple[x509.ExtensionType, bool]] = [(_ku(digital_signature=True), True)]
    if aki:
        extensions.append((x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False))
    if san is None:
        san = [x509.DNSName(cn)]
    if san:
        extensions.append((x509.SubjectAlternativeName(san), False))
    return _cert(cn, public, issuer="root", signer=issuer_key, extensions=[*extensions, *extra])


def _check(cert: x509.Certificate, *, is_leaf: bool, is_anchor: bool = False) -> Reason | None:
    try:
        strict.check_certificate(cert, is_leaf=is_leaf, is_anchor=is_anchor)
    except VerificationError as exc:
        return exc.reason
    return None


def _with_serial(cert: x509.Certificate, serial: int, signer: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    """The same certificate with another serial, signed again (cryptography's builder refuses
    non-positive serials)."""
    parsed = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    parsed["tbs_certificate"]["serial_number"] = serial
    tbs = parsed["tbs_certificate"].dump(force=True)
    parsed["signature_value"] = signer.sign(tbs, ec.ECDSA(hashes.SHA256()))
    return x509.load_der_x509_certificate(parsed.dump(force=True))


# --- keys.x509.strict -------------------------------------------------------------------------------------


def test_serial_checked_except_on_the_anchor() -> None:
    key = _ec()
    zero = _with_serial(_root(key), 0, key)
    assert _check(zero, is_leaf=False) is Reason.MALFORMED
    assert _check(zero, is_leaf=False, is_anchor=True) is None
    assert _check(_with_serial(_leaf(key), -5, key), is_leaf=True) is Reason.MALFORMED


@pytest.mark.parametrize("ext", [x509.PolicyConstraints(require_explicit_policy=0, inhibit_policy_mapping=None),
                                 x509.InhibitAnyPolicy(0)])
def test_policy_extensions_must_be_critical(ext: x509.ExtensionType) -> None:
    key = _ec()
    assert _check(_root(key, (ext, False)), is_leaf=False) is Reason.MALFORMED
    assert _check(_root(key, (ext, True)), is_leaf=False) is None


def test_ca_needs_a_subject_key_identifier() -> None:
    key = _ec()
    assert _check(_root(key, ski=False), is_leaf=False, is_anchor=True) is Reason.MALFORMED
    leaf = _cert("a.example", _ec().public_key(), issuer="root", signer=key, extensions=[
        (x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), False),
        (x509.SubjectAlternativeName([x509.DNSName("a.example")]), False)])
    assert _check(leaf, is_leaf=True) is None  # SKI is only a SHOULD for end entities


def test_authority_key_identifier_rules() -> None:
    root_key, ca_key = _ec(), _ec()
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key())
    # a CA certificate signed by another key needs an AKI, also as an anchor
    cross = _cert("ca", ca_key.public_key(), issuer="root", signer=root_key, extensions=[
        (x509.BasicConstraints(ca=True, path_length=None), True),
        (x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)])
    assert _check(cross, is_leaf=False) is Reason.MALFORMED
    assert _check(cross, is_leaf=False, is_anchor=True) is Reason.MALFORMED  # a cross-signed anchor too
    # signed by its own key under another issuer name: the AKI may be omitted (it would name the same key)
    assert _check(_root(ca_key, subject="ca", issuer="root"), is_leaf=False, is_anchor=True) is None
    no_key_id = x509.AuthorityKeyIdentifier(None, [x509.DirectoryName(_name("root"))], 7)
    assert _check(_leaf(root_key, "a.example", None, (no_key_id, False), aki=False), is_leaf=True) is Reason.MALFORMED
    # JPKI card shape: keyIdentifier plus authorityCertIssuer/SerialNumber is fine below the root
    full = x509.AuthorityKeyIdentifier(aki.key_identifier, [x509.DirectoryName(_name("root"))], 7)
    assert _check(_leaf(root_key, "a.example", None, (full, False), aki=False), is_leaf=True) is None


def test_self_signed_root_authority_key_identifier() -> None:
    key = _ec()
    own = x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key())
    other = x509.AuthorityKeyIdentifier.from_issuer_public_key(_ec().public_key())
    with_issuer = x509.AuthorityKeyIdentifier(own.key_identifier, [x509.DirectoryName(_name("root"))], 1)
    assert _check(_root(key), is_leaf=False, is_anchor=True) is None
    assert _check(_root(key, (own, False)), is_leaf=False, is_anchor=True) is None
    assert _check(_root(key, (other, False)), is_leaf=False, is_anchor=True) is Reason.MALFORMED
    assert _check(_root(key, (with_issuer, False)), is_leaf=False, is_anchor=True) is Reason.MALFORMED


def test_malformed_authority_key_identifier_is_malformed_input() -> None:
    key = _ec()
    serial_only = x509.UnrecognizedExtension(ExtensionOID.AUTHORITY_KEY_IDENTIFIER, bytes.fromhex("3003820101"))
    cert, good = _root(key, (serial_only, False)), _root(key)
    with pytest.raises(MalformedInput):
        strict.check_certificate(cert, is_leaf=False, is_anchor=True)
    assert limbo.admit_anchors([cert, good]) == [good]  # refused, as TrustStore.build refuses unreadable roots


def test_rsa_modulus_must_be_whole_octets() -> None:
    issuer = _ec()
    odd = rsa.generate_private_key(public_exponent=65537, key_size=1028).public_key()
    even = rsa.generate_private_key(public_exponent=65537, key_size=1032).public_key()
    assert _check(_leaf(issuer, key=odd), is_leaf=True) is Reason.WEAK_KEY
    assert _check(_leaf(issuer, key=even), is_leaf=True) is None  # leaf size policy is the profile's job


@pytest.mark.parametrize(
    ("cn", "san", "reason"),
    [
        ("a.example", [x509.DNSName("a.example"), x509.DNSName("b.example")], None),
        ("c.example", [x509.DNSName("a.example")], Reason.NAME_MISMATCH),
        ("A.example", [x509.DNSName("a.example")], Reason.NAME_MISMATCH),
        ("192.0.2.1", [x509.IPAddress(ipaddress.ip_address("192.0.2.1"))], None),
        ("192.0.2.01", [x509.IPAddress(ipaddress.ip_address("192.0.2.1"))], Reason.NAME_MISMATCH),
        ("2001:DB8::1", [x509.IPAddress(ipaddress.ip_address("2001:db8::1"))], Reason.NAME_MISMATCH),
        ("2001:db8::1", [x509.IPAddress(ipaddress.ip_address("2001:db8::1"))], None),
        # JPKI signing certificate shape: only otherNames in the SAN, so the CN is no host name
        ("20261121000000ZMQE", [x509.OtherName(ObjectIdentifier("1.2.392.200149.8.5.5.1"), b"\x0c\x01a")], None),
        ("no-san", [], None),
    ],
)
def test_common_name_must_be_a_san_host_name(cn: str, san: list[x509.GeneralName], reason: Reason | None) -> None:
    assert _check(_leaf(_ec(), cn, san), is_leaf=True) is reason


def test_common_name_rule_is_for_leaves_only() -> None:
    key = _ec()
    ca = _root(key, (x509.SubjectAlternativeName([x509.DNSName("ca.example")]), False), subject="Some CA")
    assert _check(ca, is_leaf=False, is_anchor=True) is None


@pytest.mark.parametrize("factory", [_ec, lambda: rsa.generate_private_key(65537, 2048),
                                     ed25519.Ed25519PrivateKey.generate])
def test_self_signed_is_decided_by_the_key(factory: Callable[[], Key]) -> None:
    key = factory()
    assert strict.is_self_signed(_root(key))
    assert strict.is_self_signed(_root(key, issuer="another name"))
    assert not strict.is_self_signed(_leaf(key))


def test_real_jpki_roots_and_a_test_card_pass_every_check() -> None:
    if JPKI_ROOTS.is_dir():
        store = load_trust_directory(JPKI_ROOTS)
        assert len(store.anchors) == 5
        for anchor in store.anchors:
            strict.check_certificate(anchor.certificate, is_leaf=False, is_anchor=True)
    card = TestPki.generate().issue_card(now=NOW)
    assert card.sign_certificate is not None
    for cert in (card.auth_certificate, card.sign_certificate):
        strict.check_certificate(cert, is_leaf=True)
    strict.check_certificate(card.auth_root.certificate, is_leaf=False, is_anchor=True)


# --- the runner's own checks ------------------------------------------------------------------------------


def _path(leaf_extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
          san: Sequence[x509.GeneralName] | None = None) -> ValidatedPath:
    key = _ec()
    root = _root(key)
    leaf = _leaf(key, "a.example", san, *leaf_extensions)
    return validate_path(leaf, profile=GENERIC, trust=TrustStore.unsafe_unpinned([root]), at=NOW)


def test_key_usage_constraint() -> None:
    path = _path()
    limbo.check_constraints(_case(key_usage=["digitalSignature"]), path)
    with pytest.raises(UntrustedCertificate) as exc:
        limbo.check_constraints(_case(key_usage=["keyEncipherment"]), path)
    assert exc.value.reason is Reason.WRONG_KEY_USAGE


def test_extended_key_usage_constraint() -> None:
    limbo.check_constraints(_case(extended_key_usage=["clientAuth"]), _path())  # no EKU: any use
    path = _path([(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)])
    limbo.check_constraints(_case(extended_key_usage=["clientAuth"]), path)
    with pytest.raises(UntrustedCertificate) as exc:
        limbo.check_constraints(_case(extended_key_usage=["codeSigning"]), path)
    assert exc.value.reason is Reason.WRONG_EXTENDED_KEY_USAGE


def test_signature_algorithm_constraint() -> None:
    path = _path()
    limbo.check_constraints(_case(signature_algorithms=["ECDSA_WITH_SHA256"]), path)
    with pytest.raises(UntrustedCertificate) as exc:
        limbo.check_constraints(_case(signature_algorithms=["RSA_WITH_SHA256", "GOSTR3411_94_WITH_3410_2001"]), path)
    assert exc.value.reason is Reason.ALGORITHM_NOT_ALLOWED


def test_client_peer_names() -> None:
    ip = ipaddress.ip_address
    leaf = _path(san=[x509.RFC822Name("Foo@Example.com"), x509.DNSName("a.example"),
                      x509.IPAddress(ip("2001:db8::1"))]).leaf
    limbo.check_peer_names(leaf, [{"kind": "RFC822", "value": "Foo@example.COM"},
                                  {"kind": "DNS", "value": "A.example"},
                                  {"kind": "IP", "value": "2001:0db8::0001"}])
    for name in ({"kind": "RFC822", "value": "foo@example.com"}, {"kind": "DNS", "value": "b.example"}):
        with pytest.raises(UntrustedCertificate) as exc:
            limbo.check_peer_names(leaf, [name])
        assert exc.value.reason is Reason.NAME_MISMATCH


def test_invalid_server_name_is_a_typed_error() -> None:
    key = _ec()
    leaf = _leaf(key, "a.example")
    with pytest.raises(MalformedInput):
        validate_path(leaf, profile=GENERIC, trust=TrustStore.unsafe_unpinned([_root(key)]), at=NOW,
                      server_name="foo_bar.example")


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_denial_of_service_cases_run_isolated_with_a_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    key = _ec()
    case = _case(features=["denial-of-service"], expected_result="SUCCESS", trusted_certs=[_pem(_root(key))],
                 untrusted_intermediates=[], peer_certificate=_pem(_leaf(key, "a.example")),
                 validation_time=NOW.isoformat(), expected_peer_name={"kind": "DNS", "value": "a.example"})
    assert limbo._run_case("ours", case, NOW) == (limbo.Verdict.SUCCESS, "path of 2")
    assert limbo._run_case("pyca", case, NOW)[0] is limbo.Verdict.SUCCESS
    monkeypatch.setattr(limbo, "TIMEOUT_SECONDS", 0.001)
    assert limbo._run_case("ours", case, NOW)[0] is limbo.Verdict.HANG
    hung = limbo.Outcome("x", limbo.Verdict.FAILURE, limbo.Verdict.HANG, "")
    assert hung.false_accept
    assert not hung.passed
