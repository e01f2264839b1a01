"""The fail-closed combination of revocation sources, and platform-operator answers (their JSON contract
and their judgement)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import Encoding

from keys.errors import InvalidSignature, MalformedInput, Reason, RevocationUnavailable, VerificationError
from keys.revocation.certid import CertificateId
from keys.revocation.crl import CrlIndex, load_crl
from keys.revocation.platform import PlatformAnswer, PlatformStatus, judge_platform_answer, parse_platform_answer
from keys.revocation.policy import NoFreshStatus, RevocationPolicy, Unchecked, check_revocation
from keys.revocation.status import CertStatus, Revoked
from keys.testpki import CardMaterial, Root, TestPki
from keys.testpki.revocation import issue_crl, issue_ocsp_response, unsuccessful_ocsp_response
from keys.x509.profile import Purpose
from keys.x509.rawcert import raw_certificate

from .conftest import NOW

POLICY = RevocationPolicy()
HOUR = dt.timedelta(hours=1)


@pytest.fixture(scope="module")
def root(card: CardMaterial) -> Root:
    return card.auth_root


def _crl(root: Root, card: CardMaterial, *, revoked: bool = False, stale: bool = False) -> CrlIndex:
    listed = [(card.auth_certificate.serial_number, NOW - 24 * HOUR, x509.ReasonFlags.key_compromise)]
    end = NOW - HOUR if stale else NOW + HOUR
    data = issue_crl(root, listed if revoked else [], this_update=end - 24 * HOUR, next_update=end, crl_number=1)
    return load_crl(data, issuer=root.certificate, at=NOW)


def _ocsp(root: Root, card: CardMaterial, status: str = "good", **options: Any) -> bytes:
    options.setdefault("this_update", NOW - dt.timedelta(minutes=5))
    options.setdefault("next_update", NOW + HOUR)
    return issue_ocsp_response(card.auth_certificate, root, status=status,  # type: ignore[arg-type]
                               revoked_at=NOW - HOUR, **options)


def _answer(card: CardMaterial, **changes: Any) -> PlatformAnswer:
    answer = PlatformAnswer(
        operator="jp.example-platform",
        certificate_sha256=card.auth_certificate.fingerprint(SHA256()).hex(),
        status=PlatformStatus.GOOD,
        checked_at=NOW - dt.timedelta(minutes=1),
        next_update=None,
        max_age=dt.timedelta(minutes=10),
        revoked_at=None,
        reason=None,
        nonce=None,
        signature_verified=True,
    )
    return replace(answer, **changes)


def _check(card: CardMaterial, root: Root, policy: RevocationPolicy = POLICY, **sources: Any) -> Any:
    return check_revocation(card.auth_certificate, root.certificate, at=NOW, policy=policy, **sources)


# --- combining sources ---------------------------------------------------------------------------------


def test_each_source_alone_can_prove_good(card: CardMaterial, root: Root) -> None:
    assert _check(card, root, crls=[_crl(root, card)]).source == "crl"
    assert _check(card, root, ocsp_responses=[_ocsp(root, card)]).source == "ocsp"
    assert _check(card, root, platform_answer=_answer(card)).source == "platform"


def test_policy_order_decides_which_good_is_reported(card: CardMaterial, root: Root) -> None:
    sources: dict[str, Any] = {"crls": [_crl(root, card)], "ocsp_responses": [_ocsp(root, card)]}
    assert _check(card, root, **sources).source == "ocsp"
    assert _check(card, root, RevocationPolicy(sources=("crl", "ocsp")), **sources).source == "crl"


@pytest.mark.parametrize("sources", [("ocsp", "crl"), ("crl", "ocsp")])
def test_revoked_wins_over_good_whatever_the_order(card: CardMaterial, root: Root, sources: Any) -> None:
    with pytest.raises(Revoked) as exc:
        _check(card, root, RevocationPolicy(sources=sources), crls=[_crl(root, card, revoked=True)],
               ocsp_responses=[_ocsp(root, card)])
    assert exc.value.status.source == "crl"
    with pytest.raises(Revoked):
        _check(card, root, RevocationPolicy(sources=sources), crls=[_crl(root, card)],
               ocsp_responses=[_ocsp(root, card, "revoked")])


def test_the_crls_read_the_der_view_the_caller_holds(card: CardMaterial, root: Root) -> None:
    """``raw`` (a validated path's view of the leaf) is what the CRLs read: with it, a certificate given only by its
    CertificateId (which alone a CRL's scope check refuses) is found revoked on the CRL."""
    der = card.auth_certificate.public_bytes(Encoding.DER)
    cert_id = CertificateId.of(card.auth_certificate)
    with pytest.raises(NoFreshStatus):
        check_revocation(cert_id, root.certificate, at=NOW, policy=POLICY, crls=[_crl(root, card, revoked=True)])
    with pytest.raises(Revoked) as exc:
        check_revocation(cert_id, root.certificate, at=NOW, policy=POLICY, crls=[_crl(root, card, revoked=True)],
                         raw=raw_certificate(der))
    assert exc.value.status.source == "crl"


def test_platform_revocation_wins_over_fresh_good_crl(card: CardMaterial, root: Root) -> None:
    with pytest.raises(Revoked) as exc:
        _check(card, root, crls=[_crl(root, card)], platform_answer=_answer(card, status=PlatformStatus.REVOKED))
    assert exc.value.status.source == "platform"


def test_a_fresh_source_covers_a_stale_one(card: CardMaterial, root: Root) -> None:
    status = _check(card, root, crls=[_crl(root, card, stale=True)], ocsp_responses=[_ocsp(root, card)])
    assert (status.status, status.source) == (CertStatus.GOOD, "ocsp")


def test_nothing_given_fails_closed(card: CardMaterial, root: Root) -> None:
    with pytest.raises(NoFreshStatus) as exc:
        _check(card, root)
    assert exc.value.reason is Reason.REVOCATION_UNAVAILABLE
    assert exc.value.failures == ()


def test_one_kind_of_failure_is_reported_precisely(card: CardMaterial, root: Root) -> None:
    with pytest.raises(NoFreshStatus) as exc:
        _check(card, root, crls=[_crl(root, card, stale=True)])
    assert isinstance(exc.value, RevocationUnavailable)
    assert exc.value.reason is Reason.STALE_REVOCATION_DATA
    assert [(s, e.reason) for s, e in exc.value.failures] == [("crl", Reason.STALE_REVOCATION_DATA)]


def test_mixed_failures_are_all_listed(card: CardMaterial, root: Root) -> None:
    forged = _ocsp(root, card, signing_key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with pytest.raises(NoFreshStatus) as exc:
        _check(card, root, crls=[_crl(root, card, stale=True)],
               ocsp_responses=[forged, unsuccessful_ocsp_response("try_later")])
    assert exc.value.reason is Reason.REVOCATION_UNAVAILABLE
    assert [(s, e.reason) for s, e in exc.value.failures] == [
        ("ocsp", Reason.BAD_SIGNATURE),
        ("ocsp", Reason.REVOCATION_UNAVAILABLE),
        ("crl", Reason.STALE_REVOCATION_DATA),
    ]


def test_unsigned_try_later_never_counts_as_good(card: CardMaterial, root: Root) -> None:
    with pytest.raises(NoFreshStatus):
        _check(card, root, ocsp_responses=[unsuccessful_ocsp_response("try_later")])


def test_sources_outside_the_policy_are_not_used(card: CardMaterial, root: Root) -> None:
    with pytest.raises(NoFreshStatus) as exc:
        _check(card, root, RevocationPolicy(sources=("crl",)), ocsp_responses=[_ocsp(root, card)])
    assert [s for s, _ in exc.value.failures] == ["ocsp"]


def test_crl_authenticated_for_another_issuer_certificate_is_out_of_scope(card: CardMaterial, root: Root,
                                                                         pki: TestPki) -> None:
    other = pki.root(Purpose.AUTH, 2)
    data = issue_crl(other, [], this_update=NOW - HOUR, next_update=NOW + HOUR, crl_number=1)
    index = load_crl(data, issuer=other.certificate, at=NOW)
    with pytest.raises(NoFreshStatus) as exc:
        _check(card, root, crls=[index])
    assert exc.value.reason is Reason.REVOCATION_SCOPE


def test_optional_policy_reports_unchecked_but_still_honours_revocation(card: CardMaterial, root: Root) -> None:
    lenient = RevocationPolicy(required=False)
    result = _check(card, root, lenient, crls=[_crl(root, card, stale=True)])
    assert isinstance(result, Unchecked)
    assert (result.status, result.source) == (CertStatus.UNCHECKED, None)
    assert [e.reason for _, e in result.failures] == [Reason.STALE_REVOCATION_DATA]
    with pytest.raises(Revoked):
        _check(card, root, lenient, crls=[_crl(root, card, revoked=True)])


@pytest.mark.parametrize(
    "options",
    [{"crl_grace": -HOUR}, {"skew": -HOUR}, {"ocsp_max_age": -HOUR}, {"sources": ()}, {"sources": ("crl", "crl")},
     {"sources": ("ldap",)}],
)
def test_invalid_policies_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must"):
        RevocationPolicy(**options)


def test_naive_time_is_refused(card: CardMaterial, root: Root) -> None:
    with pytest.raises(ValueError, match="timezone"):
        check_revocation(card.auth_certificate, root.certificate, at=NOW.replace(tzinfo=None), policy=POLICY)


# --- platform operator answers -------------------------------------------------------------------------


def _judge(answer: PlatformAnswer, card: CardMaterial, **options: Any) -> Any:
    options.setdefault("at", NOW)
    options.setdefault("max_age", dt.timedelta(minutes=5))
    return judge_platform_answer(answer, certificate=card.auth_certificate, **options)


def test_fresh_verified_good_answer(card: CardMaterial) -> None:
    status = _judge(_answer(card), card)
    assert (status.status, status.source) == (CertStatus.GOOD, "platform")
    assert status.next_update == NOW + dt.timedelta(minutes=4)  # our 5 minutes are tighter than its 10


@pytest.mark.parametrize(
    ("changes", "error", "reason"),
    [
        ({"signature_verified": False}, InvalidSignature, Reason.BAD_SIGNATURE),
        ({"certificate_sha256": "00" * 32}, RevocationUnavailable, Reason.REVOCATION_SCOPE),
        ({"checked_at": NOW - dt.timedelta(minutes=20)}, RevocationUnavailable, Reason.STALE_REVOCATION_DATA),
        ({"next_update": NOW - dt.timedelta(minutes=6)}, RevocationUnavailable, Reason.STALE_REVOCATION_DATA),
        ({"checked_at": NOW + HOUR}, RevocationUnavailable, Reason.REVOCATION_NOT_YET_VALID),
        ({"nonce": b"other"}, RevocationUnavailable, Reason.NONCE_MISMATCH),
        ({"status": PlatformStatus.UNKNOWN}, RevocationUnavailable, Reason.REVOCATION_UNAVAILABLE),
    ],
)
def test_unusable_answers_fail_closed(card: CardMaterial, changes: dict[str, Any], error: type[VerificationError],
                                      reason: Reason) -> None:
    with pytest.raises(error) as exc:
        _judge(_answer(card, **{"nonce": b"ours", **changes}), card, nonce=b"ours")
    assert exc.value.reason is reason


def test_answer_without_any_freshness_limit_is_stale(card: CardMaterial) -> None:
    with pytest.raises(RevocationUnavailable) as exc:
        _judge(_answer(card, max_age=None), card, max_age=None)
    assert exc.value.reason is Reason.STALE_REVOCATION_DATA


def test_revoked_answer_raises_even_without_a_time(card: CardMaterial) -> None:
    with pytest.raises(Revoked) as exc:
        _judge(_answer(card, status=PlatformStatus.REVOKED, reason=x509.ReasonFlags.key_compromise), card)
    assert (exc.value.status.revoked_at, exc.value.status.reason_code) == (None, x509.ReasonFlags.key_compromise)


def _payload(card: CardMaterial, **changes: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "operator": "jp.example-platform",
        "certificate_sha256": card.auth_certificate.fingerprint(SHA256()).hex(),
        "status": "revoked",
        "checked_at": "2026-11-22T11:59:00Z",
        "next_update": None,
        "max_age": 600,
        "revoked_at": "2026-11-20T00:00:00Z",
        "reason": "keyCompromise",
        "nonce": "AAECAw",
    }
    payload.update(changes)
    return payload


def test_payload_is_read_under_the_json_contract(card: CardMaterial) -> None:
    answer = parse_platform_answer(_payload(card), signature_verified=True)
    assert answer == _answer(
        card, status=PlatformStatus.REVOKED, revoked_at=dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
        reason=x509.ReasonFlags.key_compromise, nonce=b"\x00\x01\x02\x03",
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "fine"},
        {"max_age": -1},
        {"max_age": True},
        {"max_age": "600"},
        {"max_age": 10**80},  # found by fuzzing (atheris): OverflowError in timedelta
        {"max_age": 10**12},  # would overflow checked_at + max_age
        {"checked_at": "2026-11-22T11:59:00+09:00"},
        {"checked_at": None},
        {"checked_at": "2026-02-30T00:00:00Z"},
        {"reason": "stolen"},
        {"nonce": "not base64!"},
        {"operator": ""},
        {"extra": 1},
    ],
)
def test_payload_outside_the_contract_is_malformed(card: CardMaterial, changes: dict[str, object]) -> None:
    with pytest.raises(MalformedInput):
        parse_platform_answer(_payload(card, **changes), signature_verified=True)


def test_payload_missing_a_member_is_malformed(card: CardMaterial) -> None:
    payload = _payload(card)
    del payload["nonce"]
    with pytest.raises(MalformedInput):
        parse_platform_answer(payload, signature_verified=True)


def test_answer_expiring_at_the_end_of_time_is_judged_without_overflow(card: CardMaterial) -> None:
    """Found by fuzzing (seed platform_answer/regress-end-of-time): a nextUpdate of 9999-12-31T23:59:59Z as the
    only limit made ``expires + skew`` overflow; the answer is simply fresh."""
    answer = _answer(card, max_age=None, next_update=dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC))
    status = judge_platform_answer(answer, certificate=card.auth_certificate, at=NOW, max_age=None)
    assert status.status is CertStatus.GOOD


# --- a certificate known by its identity only (the re-check of idp.vci.watch) -------------------------------


def test_the_online_sources_judge_a_certificate_by_its_identity(card: CardMaterial, root: Root) -> None:
    ident = CertificateId.of(card.auth_certificate)
    later = CertificateId(root.certificate.subject, ident.serial_number, ident.sha256)  # from what is kept
    assert check_revocation(later, root.certificate, at=NOW, policy=POLICY,
                            ocsp_responses=[_ocsp(root, card)]).source == "ocsp"
    assert check_revocation(later, root.certificate, at=NOW, policy=POLICY,
                            platform_answer=_answer(card)).source == "platform"
    with pytest.raises(Revoked):
        check_revocation(later, root.certificate, at=NOW, policy=POLICY, ocsp_responses=[_ocsp(root, card, "revoked")])
    with pytest.raises(Revoked):
        check_revocation(later, root.certificate, at=NOW, policy=POLICY,
                         platform_answer=_answer(card, status=PlatformStatus.REVOKED, revoked_at=NOW - HOUR))


def test_an_identity_that_is_not_the_answers_certificate_gets_no_status(card: CardMaterial, root: Root) -> None:
    ident = CertificateId.of(card.auth_certificate)
    other_serial = replace(ident, serial_number=ident.serial_number + 1)
    other_hash = replace(ident, sha256="00" * 32)
    with pytest.raises(NoFreshStatus) as ocsp:
        check_revocation(other_serial, root.certificate, at=NOW, policy=POLICY, ocsp_responses=[_ocsp(root, card)])
    with pytest.raises(NoFreshStatus) as platform:
        check_revocation(other_hash, root.certificate, at=NOW, policy=POLICY, platform_answer=_answer(card))
    with pytest.raises(NoFreshStatus) as crl:  # a CRL's scope needs the certificate's extensions
        check_revocation(ident, root.certificate, at=NOW, policy=POLICY, crls=[_crl(root, card)])
    assert {ocsp.value.reason, platform.value.reason, crl.value.reason} == {Reason.REVOCATION_SCOPE}
