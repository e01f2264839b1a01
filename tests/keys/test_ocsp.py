"""OCSP responses: status, forgery and replay (RFC 6960, RFC 8954; verification-hardening.md row 18),
on responses issued by the test PKI's roots and delegated responders."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ObjectIdentifier

from keys.errors import (
    InvalidSignature,
    LimitExceeded,
    MalformedInput,
    Reason,
    RevocationUnavailable,
    VerificationError,
)
from keys.limits import Limits
from keys.revocation.ocsp import CachedOcspStatus, check_ocsp_response, judge_cached_ocsp
from keys.revocation.policy import RevocationPolicy, check_revocation
from keys.revocation.status import CertStatus, Revoked
from keys.testpki import CardMaterial, Root, TestPki
from keys.testpki.revocation import issue_ocsp_responder, issue_ocsp_response, unsuccessful_ocsp_response
from keys.x509.profile import Purpose

from .conftest import NOW

THIS_UPDATE = NOW - dt.timedelta(minutes=10)
NEXT_UPDATE = NOW + dt.timedelta(hours=1)
MAX_AGE = dt.timedelta(hours=1)
NONCE = bytes(range(16))

Responder = tuple[x509.Certificate, rsa.RSAPrivateKey]


@pytest.fixture(scope="module")
def root(card: CardMaterial) -> Root:
    return card.auth_root


@pytest.fixture(scope="module")
def responder(root: Root) -> Responder:
    return issue_ocsp_responder(root, not_before=NOW - dt.timedelta(days=30), not_after=NOW + dt.timedelta(days=30))


def _response(card: CardMaterial, root: Root, status: str = "good", **options: Any) -> bytes:
    options.setdefault("this_update", THIS_UPDATE)
    options.setdefault("next_update", NEXT_UPDATE)
    return issue_ocsp_response(card.auth_certificate, root, status=status, **options)  # type: ignore[arg-type]


def _check(data: bytes, card: CardMaterial, root: Root, **options: Any) -> Any:
    options.setdefault("at", NOW)
    options.setdefault("max_age", MAX_AGE)
    return check_ocsp_response(data, cert=card.auth_certificate, issuer=root.certificate, **options)


def _reason(exc: pytest.ExceptionInfo[VerificationError]) -> Reason:
    return exc.value.reason


# --- statuses ------------------------------------------------------------------------------------------


def test_good_signed_by_the_issuer(card: CardMaterial, root: Root) -> None:
    status = _check(_response(card, root), card, root)
    assert (status.status, status.source, status.this_update, status.next_update) == (
        CertStatus.GOOD, "ocsp", THIS_UPDATE, NEXT_UPDATE)


def test_good_signed_by_a_delegated_responder_with_sha256_cert_id(card: CardMaterial, root: Root,
                                                                  responder: Responder) -> None:
    data = _response(card, root, responder=responder, hash_algorithm="sha256")
    assert _check(data, card, root).status is CertStatus.GOOD


def test_revoked_raises_with_time_and_reason(card: CardMaterial, root: Root, responder: Responder) -> None:
    revoked_at = NOW - dt.timedelta(days=2)
    data = _response(card, root, "revoked", responder=responder, revoked_at=revoked_at,
                     revocation_reason=x509.ReasonFlags.key_compromise)
    with pytest.raises(Revoked) as exc:
        _check(data, card, root)
    assert _reason(exc) is Reason.REVOKED
    assert (exc.value.status.revoked_at, exc.value.status.reason_code) == (revoked_at, x509.ReasonFlags.key_compromise)


def test_unknown_is_unavailable_not_good(card: CardMaterial, root: Root) -> None:
    with pytest.raises(RevocationUnavailable) as exc:
        _check(_response(card, root, "unknown"), card, root)
    assert _reason(exc) is Reason.REVOCATION_UNAVAILABLE


@pytest.mark.parametrize(
    "status", ["malformed_request", "internal_error", "try_later", "sign_required", "unauthorized"]
)
def test_unsigned_error_statuses_are_never_good(card: CardMaterial, root: Root, status: str) -> None:
    with pytest.raises(RevocationUnavailable) as exc:
        _check(unsuccessful_ocsp_response(status), card, root)  # type: ignore[arg-type]
    assert _reason(exc) is Reason.REVOCATION_UNAVAILABLE


# --- forgery -------------------------------------------------------------------------------------------


def test_response_signed_by_an_unrelated_key_is_refused(card: CardMaterial, root: Root) -> None:
    forged = _response(card, root, signing_key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with pytest.raises(InvalidSignature) as exc:
        _check(forged, card, root)
    assert _reason(exc) is Reason.BAD_SIGNATURE


def test_responder_without_ocsp_signing_eku_is_unauthorised(card: CardMaterial, root: Root) -> None:
    rogue = issue_ocsp_responder(root, not_before=NOW - dt.timedelta(days=1), not_after=NOW + dt.timedelta(days=1),
                                 ocsp_signing=False)
    with pytest.raises(RevocationUnavailable) as exc:
        _check(_response(card, root, responder=rogue), card, root)
    assert _reason(exc) is Reason.UNAUTHORISED_RESPONDER


def test_responder_without_ocsp_nocheck_is_unauthorised(card: CardMaterial, root: Root) -> None:
    unchecked = issue_ocsp_responder(root, not_before=NOW - dt.timedelta(days=1),
                                     not_after=NOW + dt.timedelta(days=1), no_check=False)
    with pytest.raises(RevocationUnavailable) as exc:
        _check(_response(card, root, responder=unchecked), card, root)
    assert _reason(exc) is Reason.UNAUTHORISED_RESPONDER


@pytest.mark.parametrize(("purpose", "generation"), [(Purpose.AUTH, 2), (Purpose.SIGN, 3)])
def test_responder_issued_by_another_ca_is_unauthorised(card: CardMaterial, root: Root, pki: TestPki,
                                                        purpose: Purpose, generation: int) -> None:
    # (AUTH, 2) has the very same DN as the card's root: only the signature tells them apart.
    other = pki.root(purpose, generation)
    foreign = issue_ocsp_responder(other, not_before=NOW - dt.timedelta(days=1), not_after=NOW + dt.timedelta(days=1))
    with pytest.raises(RevocationUnavailable) as exc:
        _check(_response(card, root, responder=foreign), card, root)
    assert _reason(exc) is Reason.UNAUTHORISED_RESPONDER


def test_expired_responder_is_unauthorised(card: CardMaterial, root: Root) -> None:
    expired = issue_ocsp_responder(root, not_before=NOW - dt.timedelta(days=30), not_after=NOW - dt.timedelta(days=1))
    with pytest.raises(RevocationUnavailable) as exc:
        _check(_response(card, root, responder=expired), card, root)
    assert _reason(exc) is Reason.UNAUTHORISED_RESPONDER


def test_responder_id_naming_nobody_in_the_response_is_unauthorised(card: CardMaterial, root: Root,
                                                                    responder: Responder) -> None:
    stranger = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "someone else")])
    with pytest.raises(RevocationUnavailable) as exc:
        _check(_response(card, root, responder=responder, responder_name=stranger), card, root)
    assert _reason(exc) is Reason.UNAUTHORISED_RESPONDER


def test_responder_id_naming_the_issuer_but_signed_by_the_responder_fails(card: CardMaterial, root: Root,
                                                                          responder: Responder) -> None:
    data = _response(card, root, responder=responder, responder_name=root.certificate.subject)
    with pytest.raises(InvalidSignature) as exc:
        _check(data, card, root)
    assert _reason(exc) is Reason.BAD_SIGNATURE


def test_responder_id_by_name_is_accepted(card: CardMaterial, root: Root, responder: Responder) -> None:
    data = _response(card, root, responder=responder, responder_name=responder[0].subject)
    assert _check(data, card, root).status is CertStatus.GOOD


# --- replay and mismatch -------------------------------------------------------------------------------


def test_passed_next_update_is_stale(card: CardMaterial, root: Root) -> None:
    data = _response(card, root, this_update=NOW - dt.timedelta(days=2), next_update=NOW - dt.timedelta(days=1))
    with pytest.raises(RevocationUnavailable) as exc:
        _check(data, card, root)
    assert _reason(exc) is Reason.STALE_REVOCATION_DATA


@pytest.mark.parametrize("field", ["this_update", "produced_at"])
def test_response_from_the_future_is_refused(card: CardMaterial, root: Root, field: str) -> None:
    future = NOW + dt.timedelta(hours=1)
    options: dict[str, Any] = {"this_update": future, "next_update": future + dt.timedelta(hours=1)}
    if field == "produced_at":
        options = {"produced_at": future}
    with pytest.raises(RevocationUnavailable) as exc:
        _check(_response(card, root, **options), card, root)
    assert _reason(exc) is Reason.REVOCATION_NOT_YET_VALID


def test_without_next_update_max_age_bounds_the_age(card: CardMaterial, root: Root) -> None:
    data = _response(card, root, this_update=NOW - dt.timedelta(minutes=30), next_update=None)
    status = _check(data, card, root, max_age=dt.timedelta(hours=1))
    assert status.next_update == NOW + dt.timedelta(minutes=30)
    for max_age in (dt.timedelta(minutes=29), None):
        with pytest.raises(RevocationUnavailable) as exc:
            _check(data, card, root, max_age=max_age)
        assert _reason(exc) is Reason.STALE_REVOCATION_DATA


def test_nonce_must_echo_the_request(card: CardMaterial, root: Root) -> None:
    assert _check(_response(card, root, nonce=NONCE), card, root, nonce=NONCE).status is CertStatus.GOOD
    for data in (_response(card, root, nonce=b"x" * 16), _response(card, root)):
        with pytest.raises(RevocationUnavailable) as exc:
            _check(data, card, root, nonce=NONCE)
        assert _reason(exc) is Reason.NONCE_MISMATCH


def test_response_about_another_serial_is_out_of_scope(card: CardMaterial, root: Root) -> None:
    with pytest.raises(RevocationUnavailable) as exc:
        _check(_response(card, root, serial=card.auth_certificate.serial_number + 1), card, root)
    assert _reason(exc) is Reason.REVOCATION_SCOPE


def test_cert_id_of_another_issuer_key_is_out_of_scope(card: CardMaterial, root: Root, pki: TestPki) -> None:
    # Same issuer name (generation 2 shares the DN), other key: issuerKeyHash must not match.
    data = _response(card, root, cert_id_issuer=pki.root(Purpose.AUTH, 2).certificate)
    with pytest.raises(RevocationUnavailable) as exc:
        _check(data, card, root)
    assert _reason(exc) is Reason.REVOCATION_SCOPE


def test_response_checked_against_the_wrong_issuer_is_out_of_scope(card: CardMaterial, pki: TestPki,
                                                                   root: Root) -> None:
    sign_root = pki.root(Purpose.SIGN, 3)
    with pytest.raises(RevocationUnavailable) as exc:
        check_ocsp_response(_response(card, root), cert=card.auth_certificate, issuer=sign_root.certificate, at=NOW,
                            max_age=MAX_AGE)
    assert _reason(exc) is Reason.REVOCATION_SCOPE


def test_unknown_critical_single_extension_is_refused(card: CardMaterial, root: Root) -> None:
    private = x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.55555.3"), b"\x05\x00")
    with pytest.raises(RevocationUnavailable) as exc:
        _check(_response(card, root, single_extensions=[(private, True)]), card, root)
    assert _reason(exc) is Reason.UNKNOWN_CRITICAL_EXTENSION
    assert _check(_response(card, root, single_extensions=[(private, False)]), card, root).status is CertStatus.GOOD


def test_revocation_after_the_validation_time_does_not_apply(card: CardMaterial, root: Root) -> None:
    data = _response(card, root, "revoked", revoked_at=NOW + dt.timedelta(minutes=1))
    assert _check(data, card, root).status is CertStatus.GOOD


# --- input limits --------------------------------------------------------------------------------------


def test_size_limit_applies_before_parsing(card: CardMaterial, root: Root) -> None:
    data = _response(card, root)
    with pytest.raises(LimitExceeded):
        _check(data, card, root, limits=Limits(ocsp_bytes=len(data) - 1))


@pytest.mark.parametrize("data", [b"", b"\x30\x03\x0a\x01\x00", b"\x30\x80\x00\x00"])
def test_garbage_is_malformed(card: CardMaterial, root: Root, data: bytes) -> None:
    with pytest.raises(MalformedInput):
        _check(data, card, root)


# --- kept verdicts --------------------------------------------------------------------------------------


def test_a_kept_verdict_counts_only_for_its_certificate_while_fresh(card: CardMaterial, root: Root,
                                                                   pki: TestPki) -> None:
    good = _check(_response(card, root), card, root)
    digest = card.auth_certificate.fingerprint(hashes.SHA256()).hex()
    assert judge_cached_ocsp(CachedOcspStatus(digest, good), cert=card.auth_certificate, at=NOW) == good
    other = pki.issue_card(now=NOW, with_sign=False).auth_certificate
    with pytest.raises(RevocationUnavailable) as exc:
        judge_cached_ocsp(CachedOcspStatus(digest, good), cert=other, at=NOW)
    assert _reason(exc) is Reason.REVOCATION_SCOPE
    for at, reason in ((NEXT_UPDATE + dt.timedelta(minutes=6), Reason.STALE_REVOCATION_DATA),
                       (THIS_UPDATE - dt.timedelta(minutes=6), Reason.REVOCATION_NOT_YET_VALID)):
        with pytest.raises(RevocationUnavailable) as exc:
            judge_cached_ocsp(CachedOcspStatus(digest, good), cert=card.auth_certificate, at=at)
        assert _reason(exc) is reason
    with pytest.raises(RevocationUnavailable):  # a kept status of another source is not an OCSP verdict
        judge_cached_ocsp(CachedOcspStatus(digest, replace(good, source="crl")), cert=card.auth_certificate, at=NOW)
    revoked = replace(good, status=CertStatus.REVOKED, revoked_at=NOW - dt.timedelta(days=1),
                      reason_code=x509.ReasonFlags.key_compromise)
    with pytest.raises(Revoked) as refused:
        check_revocation(card.auth_certificate, root.certificate, at=NOW, policy=RevocationPolicy(),
                         ocsp_cached=[CachedOcspStatus(digest, revoked)])
    assert refused.value.status.reason_code is x509.ReasonFlags.key_compromise
