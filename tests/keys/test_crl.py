"""CRLs: authentication, scope, freshness and membership (RFC 5280 §5, §6.3; verification-hardening.md
row 17), on CRLs issued by the test PKI and the x509-limbo ``crl::*`` cases."""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import CRLEntryExtensionOID, ObjectIdentifier

from keys.errors import (
    InvalidSignature,
    LimitExceeded,
    MalformedInput,
    Reason,
    RevocationUnavailable,
    RevokedCertificate,
    VerificationError,
)
from keys.limits import Limits
from keys.revocation.crl import CrlIndex, check_crl, load_crl
from keys.revocation.policy import RevocationPolicy, check_revocation
from keys.revocation.status import CertStatus, Revoked
from keys.testpki import CardMaterial, Root, TestPki
from keys.testpki.hierarchy import HolderFacts, crl_distribution_name
from keys.testpki.revocation import issue_crl, issue_large_crl
from keys.x509.profile import Purpose
from tests.support import vectors

from .conftest import NOW

THIS_UPDATE = NOW - dt.timedelta(hours=2)
NEXT_UPDATE = NOW + dt.timedelta(hours=22)
NO_GRACE = dt.timedelta(0)
LIMBO = vectors.x509_limbo_root() / "limbo.json"
needs_limbo = pytest.mark.skipif(not LIMBO.is_file(), reason=vectors.missing("x509_limbo"))


@pytest.fixture(scope="module")
def root(card: CardMaterial) -> Root:
    return card.auth_root


def _crl(root: Root, revoked: list[tuple[int, dt.datetime, x509.ReasonFlags | None]] | None = None,
         **options: Any) -> bytes:
    options.setdefault("this_update", THIS_UPDATE)
    options.setdefault("next_update", NEXT_UPDATE)
    options.setdefault("crl_number", 42)
    return issue_crl(root, revoked or [], **options)


def _load(data: bytes, root: Root, at: dt.datetime = NOW, **options: Any) -> CrlIndex:
    return load_crl(data, issuer=root.certificate, at=at, **options)


def _reason(exc: pytest.ExceptionInfo[VerificationError]) -> Reason:
    return exc.value.reason


# --- the success path and membership -------------------------------------------------------------------


def test_certificate_not_listed_is_good(card: CardMaterial, root: Root) -> None:
    index = _load(_crl(root, [(card.auth_certificate.serial_number + 1, NOW, None)]), root)
    status = check_crl(index, card.auth_certificate, at=NOW, grace=NO_GRACE)
    assert (status.status, status.source) == (CertStatus.GOOD, "crl")
    assert (status.this_update, status.next_update) == (THIS_UPDATE, NEXT_UPDATE)
    assert (index.crl_number, len(index)) == (42, 1)


def test_listed_certificate_is_revoked_with_date_and_reason(card: CardMaterial, root: Root) -> None:
    revoked_at = NOW - dt.timedelta(days=3)
    data = _crl(root, [(7, NOW, None), (card.auth_certificate.serial_number, revoked_at,
                                        x509.ReasonFlags.key_compromise)])
    with pytest.raises(Revoked) as exc:
        check_crl(_load(data, root), card.auth_certificate, at=NOW, grace=NO_GRACE)
    assert isinstance(exc.value, RevokedCertificate)
    assert _reason(exc) is Reason.REVOKED
    status = exc.value.status
    assert (status.status, status.revoked_at, status.reason_code) == (
        CertStatus.REVOKED, revoked_at, x509.ReasonFlags.key_compromise)


def test_revocation_after_the_validation_time_does_not_apply(card: CardMaterial, root: Root) -> None:
    # A revocationDate after the validation time (a CRL announcing a scheduled revocation).
    data = _crl(root, [(card.auth_certificate.serial_number, NOW - dt.timedelta(hours=1), None)],
                this_update=NOW - dt.timedelta(hours=3))
    index = _load(data, root)
    assert check_crl(index, card.auth_certificate, at=NOW - dt.timedelta(hours=2), grace=NO_GRACE).status is (
        CertStatus.GOOD)
    with pytest.raises(Revoked):
        check_crl(index, card.auth_certificate, at=NOW, grace=NO_GRACE)


def test_remove_from_crl_entry_is_not_a_revocation(card: CardMaterial, root: Root) -> None:
    data = _crl(root, [(card.auth_certificate.serial_number, NOW - dt.timedelta(days=1),
                        x509.ReasonFlags.remove_from_crl)])
    assert check_crl(_load(data, root), card.auth_certificate, at=NOW, grace=NO_GRACE).status is CertStatus.GOOD


def test_pem_and_der_give_the_same_index(card: CardMaterial, root: Root) -> None:
    data = _crl(root, [(card.auth_certificate.serial_number, NOW, x509.ReasonFlags.superseded)])
    pem = x509.load_der_x509_crl(data).public_bytes(serialization.Encoding.PEM)
    from_pem, from_der = _load(pem, root), _load(data, root)
    assert from_pem.lookup(card.auth_certificate.serial_number) == from_der.lookup(card.auth_certificate.serial_number)
    assert from_pem.lookup(card.auth_certificate.serial_number) is not None


# --- freshness -----------------------------------------------------------------------------------------


def test_stale_crl_is_refused_after_next_update_plus_grace(card: CardMaterial, root: Root) -> None:
    index = _load(_crl(root), root)
    late = NEXT_UPDATE + dt.timedelta(hours=1)
    with pytest.raises(RevocationUnavailable) as exc:
        check_crl(index, card.auth_certificate, at=late, grace=NO_GRACE)
    assert _reason(exc) is Reason.STALE_REVOCATION_DATA
    assert check_crl(index, card.auth_certificate, at=late, grace=dt.timedelta(hours=1)).status is CertStatus.GOOD
    with pytest.raises(RevocationUnavailable):
        check_crl(index, card.auth_certificate, at=late + dt.timedelta(seconds=1), grace=dt.timedelta(hours=1))


def test_crl_without_next_update_is_never_fresh(card: CardMaterial, root: Root) -> None:
    index = _load(_crl(root, next_update=None), root)
    with pytest.raises(RevocationUnavailable) as exc:
        check_crl(index, card.auth_certificate, at=NOW, grace=dt.timedelta(days=365))
    assert _reason(exc) is Reason.STALE_REVOCATION_DATA


def test_crl_from_the_future_is_refused(card: CardMaterial, root: Root) -> None:
    data = _crl(root, this_update=NOW + dt.timedelta(hours=1), next_update=NOW + dt.timedelta(days=1))
    with pytest.raises(RevocationUnavailable) as exc:
        _load(data, root)
    assert _reason(exc) is Reason.REVOCATION_NOT_YET_VALID
    index = _load(data, root, at=NOW + dt.timedelta(hours=1))
    with pytest.raises(RevocationUnavailable) as exc:
        check_crl(index, card.auth_certificate, at=NOW, grace=NO_GRACE)
    assert _reason(exc) is Reason.REVOCATION_NOT_YET_VALID


# --- authenticity --------------------------------------------------------------------------------------


def test_crl_of_another_generation_with_the_same_dn_fails_by_signature(pki: TestPki, root: Root) -> None:
    other_generation = pki.root(Purpose.AUTH, 2)
    assert other_generation.certificate.subject == root.certificate.subject
    with pytest.raises(InvalidSignature) as exc:
        _load(_crl(other_generation), root)
    assert _reason(exc) is Reason.BAD_SIGNATURE


def test_crl_signed_by_an_unrelated_key_is_refused(root: Root) -> None:
    forged = _crl(root, signing_key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with pytest.raises(InvalidSignature) as exc:
        _load(forged, root)
    assert _reason(exc) is Reason.BAD_SIGNATURE


def test_crl_of_another_issuer_name_is_refused(pki: TestPki, root: Root) -> None:
    with pytest.raises(RevocationUnavailable) as exc:
        _load(_crl(pki.root(Purpose.SIGN, 3)), root)
    assert _reason(exc) is Reason.REVOCATION_SCOPE


def test_issuer_without_crl_sign_is_refused() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "no cRLSign")])
    issuer_certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(NOW - dt.timedelta(days=1)).not_valid_after(NOW + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, False, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    issuer = Root(Purpose.AUTH, 3, issuer_certificate, key)
    with pytest.raises(RevocationUnavailable) as exc:
        _load(_crl(issuer), issuer)
    assert _reason(exc) is Reason.WRONG_KEY_USAGE


# --- extensions ----------------------------------------------------------------------------------------


def test_delta_crl_is_refused(root: Root) -> None:
    with pytest.raises(RevocationUnavailable) as exc:
        _load(_crl(root, extensions=[(x509.DeltaCRLIndicator(41), True)]), root)
    assert _reason(exc) is Reason.BAD_REVOCATION_DATA


def test_unknown_critical_crl_extension_is_refused_and_non_critical_ignored(root: Root) -> None:
    private = x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")
    with pytest.raises(RevocationUnavailable) as exc:
        _load(_crl(root, extensions=[(private, True)]), root)
    assert _reason(exc) is Reason.UNKNOWN_CRITICAL_EXTENSION
    assert _load(_crl(root, extensions=[(private, False)]), root).crl_number == 42


def test_crl_number_must_be_present_and_non_critical(root: Root) -> None:
    with pytest.raises(RevocationUnavailable) as exc:
        _load(_crl(root, crl_number=None), root)
    assert _reason(exc) is Reason.BAD_REVOCATION_DATA
    with pytest.raises(RevocationUnavailable) as exc:
        _load(_crl(root, crl_number=None, extensions=[(x509.CRLNumber(42), True)]), root)
    assert _reason(exc) is Reason.BAD_REVOCATION_DATA


def test_indirect_crl_is_refused(root: Root) -> None:
    idp = x509.IssuingDistributionPoint(None, None, False, False, None, True, False)
    with pytest.raises(RevocationUnavailable) as exc:
        _load(_crl(root, extensions=[(idp, True)]), root)
    assert _reason(exc) is Reason.BAD_REVOCATION_DATA


@pytest.mark.parametrize(
    ("extension", "reason"),
    [
        (x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.55555.2"), b"\x05\x00"),
         Reason.UNKNOWN_CRITICAL_EXTENSION),
        (x509.CertificateIssuer([x509.DNSName("other.example")]), Reason.BAD_REVOCATION_DATA),
    ],
)
def test_unsupported_entry_extensions_are_refused(root: Root, extension: x509.ExtensionType, reason: Reason) -> None:
    data = _crl(root, [(5, NOW, x509.ReasonFlags.superseded)], entry_extensions=[(extension, True)])
    with pytest.raises(RevocationUnavailable) as exc:
        _load(data, root)
    assert _reason(exc) is reason


def test_malformed_reason_code_is_refused(root: Root) -> None:
    bad_reason = x509.UnrecognizedExtension(CRLEntryExtensionOID.CRL_REASON, b"\x0a\x01\x07")  # 7 is unused
    with pytest.raises(MalformedInput):
        _load(_crl(root, [(5, NOW, None)], entry_extensions=[(bad_reason, False)]), root)


def test_duplicate_serial_is_refused(root: Root) -> None:
    with pytest.raises(RevocationUnavailable) as exc:
        _load(_crl(root, [(5, NOW, None), (5, NOW, x509.ReasonFlags.remove_from_crl)]), root)
    assert _reason(exc) is Reason.BAD_REVOCATION_DATA


# --- scope ---------------------------------------------------------------------------------------------


def test_issuing_distribution_point_must_be_named_by_the_certificate(card: CardMaterial, root: Root) -> None:
    facts = HolderFacts()
    own = crl_distribution_name(Purpose.AUTH, facts.prefecture_romaji, facts.municipality_romaji)
    other = crl_distribution_name(Purpose.AUTH, "Osaka-fu", "Osaka-shi")
    assert check_crl(_load(_crl(root, idp_name=own), root), card.auth_certificate, at=NOW,
                     grace=NO_GRACE).status is CertStatus.GOOD
    with pytest.raises(RevocationUnavailable) as exc:
        check_crl(_load(_crl(root, idp_name=other), root), card.auth_certificate, at=NOW, grace=NO_GRACE)
    assert _reason(exc) is Reason.REVOCATION_SCOPE


def test_ca_only_crl_does_not_cover_card_certificates(card: CardMaterial, root: Root) -> None:
    idp = x509.IssuingDistributionPoint(None, None, False, True, None, False, False)
    with pytest.raises(RevocationUnavailable) as exc:
        check_crl(_load(_crl(root, extensions=[(idp, True)]), root), card.auth_certificate, at=NOW, grace=NO_GRACE)
    assert _reason(exc) is Reason.REVOCATION_SCOPE


def test_certificate_of_another_generation_is_out_of_scope(pki: TestPki, root: Root) -> None:
    old_card = pki.issue_card(now=dt.datetime(2020, 1, 1, tzinfo=dt.UTC), generation=2, with_sign=False,
                              lifetime=dt.timedelta(days=3650))
    assert old_card.auth_certificate.issuer == root.certificate.subject
    with pytest.raises(RevocationUnavailable) as exc:
        check_crl(_load(_crl(root), root), old_card.auth_certificate, at=NOW, grace=NO_GRACE)
    assert _reason(exc) is Reason.REVOCATION_SCOPE


# --- input limits --------------------------------------------------------------------------------------


def test_size_limit_applies_before_parsing(root: Root) -> None:
    data = _crl(root, [(n, NOW, None) for n in range(1, 200)])
    with pytest.raises(LimitExceeded) as exc:
        _load(data, root, limits=Limits(crl_bytes=len(data) - 1))
    assert _reason(exc) is Reason.TOO_LARGE
    assert len(_load(data, root, limits=Limits(crl_bytes=len(data)))) == 199


@pytest.mark.parametrize(
    "data", [b"", b"\x30\x03\x02\x01\x01", b"-----BEGIN X509 CRL-----\n!!\n-----END X509 CRL-----"]
)
def test_garbage_is_malformed(root: Root, data: bytes) -> None:
    with pytest.raises(MalformedInput):
        _load(data, root)


# --- scale ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_million_entry_crl_loads_and_answers_exactly(card: CardMaterial, root: Root) -> None:
    rng = random.Random(20261122)
    serials = [rng.getrandbits(63) | 1 << 62 for _ in range(1_000_000)]
    serials[123_456] = card.auth_certificate.serial_number
    data = issue_large_crl(root, serials, revoked_at=NOW - dt.timedelta(days=1), this_update=THIS_UPDATE,
                           next_update=NEXT_UPDATE, crl_number=9)
    index = _load(data, root)
    assert len(index) == 1_000_000
    for serial in (serials[0], serials[999_999], serials[500_000]):
        entry = index.lookup(serial)
        assert entry is not None
        assert (entry.serial, entry.reason) == (serial, x509.ReasonFlags.key_compromise)
    assert index.lookup(1) is None
    with pytest.raises(Revoked):
        check_crl(index, card.auth_certificate, at=NOW, grace=NO_GRACE)


# --- x509-limbo crl::* ---------------------------------------------------------------------------------


def _limbo_crl_cases() -> list[dict[str, Any]]:
    if not LIMBO.is_file():
        return []
    cases = json.loads(LIMBO.read_text())["testcases"]
    return [c for c in cases if c["id"].startswith("crl::")]


#: The reason each limbo FAILURE case must be refused with.
LIMBO_REASONS = {
    "crl::revoked-certificate-with-crl": Reason.REVOKED,
    "crl::crlnumber-missing": Reason.BAD_REVOCATION_DATA,
    "crl::crlnumber-critical": Reason.BAD_REVOCATION_DATA,
    "crl::issuer-missing-crlsign": Reason.WRONG_KEY_USAGE,
}


@pytest.mark.parametrize("case", _limbo_crl_cases() or [pytest.param({"id": "absent"}, marks=needs_limbo)],
                         ids=lambda c: c["id"])
def test_x509_limbo_crl_cases(case: dict[str, Any]) -> None:
    at = dt.datetime.fromisoformat(case["validation_time"])
    trusted = [x509.load_pem_x509_certificate(pem.encode()) for pem in case["trusted_certs"]]
    leaf = x509.load_pem_x509_certificate(case["peer_certificate"].encode())
    issuer = next(c for c in trusted if c.subject == leaf.issuer)
    leaf.verify_directly_issued_by(issuer)

    def verdict() -> None:
        indexes = []
        for pem in case["crls"]:
            crl_issuer = x509.load_pem_x509_crl(pem.encode()).issuer
            signer = next(c for c in trusted if c.subject == crl_issuer)
            indexes.append(load_crl(pem.encode(), issuer=signer, at=at))
        check_revocation(leaf, issuer, at=at, policy=RevocationPolicy(sources=("crl",)), crls=indexes)

    if case["expected_result"] == "SUCCESS":
        verdict()
    else:
        with pytest.raises(VerificationError) as exc:
            verdict()
        errors = [e for _, e in getattr(exc.value, "failures", ())] or [exc.value]
        assert LIMBO_REASONS[case["id"]] in {e.reason for e in errors}


@needs_limbo
def test_limbo_has_the_eight_crl_cases() -> None:
    assert len(_limbo_crl_cases()) == 8
    assert {c["id"] for c in _limbo_crl_cases() if c["expected_result"] == "FAILURE"} == set(LIMBO_REASONS)



def test_issuer_name_of_an_unknown_string_tag_is_malformed(card: CardMaterial, root: Root) -> None:
    """Found by fuzzing (tests/fuzz, seed crl/regress-issuer-tag): the issuer name is decoded lazily; a string
    of an unknown tag there is MALFORMED, not a ValueError."""
    crl = issue_crl(root, [], this_update=NOW - dt.timedelta(hours=1), next_update=NOW + dt.timedelta(days=1),
                    crl_number=1)
    broken = crl.replace(b"\x06\x03\x55\x04\x0a\x0c", b"\x06\x03\x55\x04\x0a\x0d", 1)
    assert broken != crl
    with pytest.raises(MalformedInput) as info:
        load_crl(broken, issuer=root.certificate, at=NOW)
    assert info.value.reason is Reason.MALFORMED


def test_crl_of_an_unknown_version_is_malformed(root: Root) -> None:
    """Found by fuzzing (atheris, seed crl/regress-version): cryptography raises InvalidVersion, which is not a
    ValueError, for a CRL version other than v1/v2."""
    crl = issue_crl(root, [], this_update=NOW - dt.timedelta(hours=1), next_update=NOW + dt.timedelta(days=1),
                    crl_number=1)
    broken = crl.replace(b"\x02\x01\x01", b"\x02\x01\x2b", 1)  # TBSCertList.version v2 (1) -> 43
    assert broken != crl
    with pytest.raises(MalformedInput):
        load_crl(broken, issuer=root.certificate, at=NOW)


def test_issuer_attribute_of_bit_string_type_is_malformed(root: Root) -> None:
    """Found by atheris (seed crl/regress-bitstring-name): cryptography raises TypeError reading such a name."""
    crl = issue_crl(root, [], this_update=NOW - dt.timedelta(hours=1), next_update=NOW + dt.timedelta(days=1),
                    crl_number=1)
    broken = crl.replace(b"\x06\x03\x55\x04\x0a\x0c\x09JPKI-TEST", b"\x06\x03\x55\x04\x0a\x03\x09\x00PKI-TEST", 1)
    assert broken != crl
    with pytest.raises(MalformedInput):
        load_crl(broken, issuer=root.certificate, at=NOW)
