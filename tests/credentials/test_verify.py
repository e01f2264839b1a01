"""``credentials.verify``: the verifier library end to end — issuer chain, Disclosures, KB-JWT, validity and the
status list — returning only disclosed claims, with a reason on every failure."""

from __future__ import annotations

import datetime as dt

import pytest

from credentials.catalog import age_credential, age_vct, basic_facts_credential, basic_facts_vct
from credentials.errors import (
    CredentialError,
    CredentialReason,
    CredentialRevoked,
    InvalidCredential,
    InvalidKeyBinding,
    ReasonCode,
    StatusUnavailable,
)
from credentials.sdjwt import HeldSdJwt, key_binding_jwt
from credentials.sdjwtvc import IssuerKeys, issue_sd_jwt_vc
from credentials.status import StatusChecker, StatusList, StatusReference, StatusType, status_list_token
from credentials.verify import VerifierPolicy, verify_credential
from keys.errors import Reason
from keys.jose.jwk import VerificationKey
from keys.service.signer import SoftwareSigner
from keys.x509.facts import BasicFacts, Era, Sex

from .conftest import AUDIENCE, ISSUER, NONCE, NOW, IssuerPki, signer_jwk

STATUS_URI = f"{ISSUER}/status/7"
FACTS = BasicFacts(name="鈴木\u3000花子", name_substitution="00000", sex=Sex.FEMALE, birth_era=Era.HEISEI,
                   birth_date="2001-04-01", address="大阪府大阪市北区", address_substitution="00000000",
                   birth_date_raw="420010401")


@pytest.fixture
def setup(issuer_pki: IssuerPki, holder_signer: SoftwareSigner) -> tuple[SoftwareSigner, VerifierPolicy, StatusList]:
    issuer = SoftwareSigner(issuer_pki.leaf_key, "ES256", "vc")
    policy = VerifierPolicy(issuer_keys=IssuerKeys(trust=issuer_pki.trust),
                            vcts=frozenset({age_vct(ISSUER), basic_facts_vct(ISSUER)}))
    return issuer, policy, StatusList(128, 2)


def issue(issuer: SoftwareSigner, holder: SoftwareSigner, issuer_pki: IssuerPki, idx: int | None = 9,
          basic: bool = False) -> str:
    not_after = NOW + dt.timedelta(days=365)
    draft = (basic_facts_credential(FACTS, vct=basic_facts_vct(ISSUER), at=NOW, not_after=not_after) if basic
             else age_credential(FACTS.birth_date, vct=age_vct(ISSUER), at=NOW, not_after=not_after))
    status = StatusReference(idx, STATUS_URI) if idx is not None else None
    return issue_sd_jwt_vc(draft, signer=issuer, holder_jwk=signer_jwk(holder), status=status,
                           x5c=[issuer_pki.leaf, issuer_pki.intermediate]).compact


def present(issued: str, holder: SoftwareSigner, *paths: tuple[str | int, ...], at: dt.datetime = NOW,
            audience: str = AUDIENCE, nonce: str = NONCE) -> str:
    sd = HeldSdJwt.parse(issued).present(paths)
    return sd + key_binding_jwt(sd, signer=holder, audience=audience, nonce=nonce, iat=at)


def checker(issuer: SoftwareSigner, issuer_pki: IssuerPki, statuses: StatusList) -> StatusChecker:
    token = status_list_token(statuses, uri=STATUS_URI, iat=NOW, exp=NOW + dt.timedelta(days=1),
                              ttl=dt.timedelta(hours=1), signer=issuer,
                              header={"x5c": _x5c(issuer_pki)})
    return StatusChecker(fetch=lambda uri: token, trust=issuer_pki.trust)


def refusal(presentation: str, policy: VerifierPolicy, error: type[CredentialError], *,
            status: StatusChecker | None = None, at: dt.datetime = NOW) -> ReasonCode:
    """The reason of the ``error`` that verifying ``presentation`` for our AUDIENCE and NONCE raises."""
    with pytest.raises(error) as info:
        verify_credential(presentation, policy=policy, at=at, audience=AUDIENCE, nonce=NONCE, status=status)
    return info.value.reason


def _x5c(issuer_pki: IssuerPki) -> list[str]:
    import base64

    from cryptography.hazmat.primitives.serialization import Encoding

    return [base64.b64encode(c.public_bytes(Encoding.DER)).decode() for c in (issuer_pki.leaf, issuer_pki.intermediate)]


def test_valid_presentation_returns_only_disclosed_claims(
    setup: tuple[SoftwareSigner, VerifierPolicy, StatusList], holder_signer: SoftwareSigner, issuer_pki: IssuerPki
) -> None:
    issuer, policy, statuses = setup
    presentation = present(issue(issuer, holder_signer, issuer_pki, basic=True), holder_signer, ("address",))
    verified = verify_credential(presentation, policy=policy, at=NOW, audience=AUDIENCE, nonce=NONCE,
                                 status=checker(issuer, issuer_pki, statuses))
    assert verified.claims["address"] == {"formatted": "大阪府大阪市北区"}
    assert not {"name", "birthdate", "jp_name_substitution", "cnf", "status"} & set(verified.claims)
    assert verified.vct == basic_facts_vct(ISSUER)
    assert verified.path is not None
    assert verified.holder_jwk == signer_jwk(holder_signer)
    assert verified.key_binding is not None
    assert verified.status == StatusReference(9, STATUS_URI)


@pytest.mark.parametrize(("value", "reason"), [(StatusType.INVALID, CredentialReason.STATUS_INVALID),
                                               (StatusType.SUSPENDED, CredentialReason.STATUS_SUSPENDED)])
def test_revoked_and_suspended(
    value: int, reason: CredentialReason, setup: tuple[SoftwareSigner, VerifierPolicy, StatusList],
    holder_signer: SoftwareSigner, issuer_pki: IssuerPki,
) -> None:
    """OIDF verifier plan: status INVALID / SUSPENDED."""
    issuer, policy, statuses = setup
    statuses[9] = value
    presentation = present(issue(issuer, holder_signer, issuer_pki), holder_signer, ("age_equal_or_over", "18"))
    assert refusal(presentation, policy, CredentialRevoked, status=checker(issuer, issuer_pki, statuses)) is reason


def test_status_must_be_checkable(
    setup: tuple[SoftwareSigner, VerifierPolicy, StatusList], holder_signer: SoftwareSigner, issuer_pki: IssuerPki
) -> None:
    issuer, policy, _ = setup
    presentation = present(issue(issuer, holder_signer, issuer_pki), holder_signer)
    assert refusal(presentation, policy, StatusUnavailable) is CredentialReason.STATUS_UNAVAILABLE
    no_status = present(issue(issuer, holder_signer, issuer_pki, idx=None), holder_signer)
    assert verify_credential(no_status, policy=policy, at=NOW, audience=AUDIENCE, nonce=NONCE).status is None


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"audience": "https://other.example"}, Reason.WRONG_AUDIENCE),
        ({"nonce": "stale"}, Reason.NONCE_MISMATCH),
        ({"at": NOW + dt.timedelta(minutes=3)}, Reason.TOKEN_ISSUED_IN_FUTURE),
        ({"at": NOW - dt.timedelta(minutes=30)}, Reason.TOKEN_EXPIRED),
    ],
    ids=["wrong aud", "wrong nonce", "iat in the future", "iat in the past"],
)
def test_key_binding_failures(
    kwargs: dict[str, object], reason: Reason, setup: tuple[SoftwareSigner, VerifierPolicy, StatusList],
    holder_signer: SoftwareSigner, issuer_pki: IssuerPki,
) -> None:
    issuer, policy, statuses = setup
    presentation = present(issue(issuer, holder_signer, issuer_pki), holder_signer, **kwargs)  # type: ignore[arg-type]
    assert refusal(presentation, policy, InvalidKeyBinding, status=checker(issuer, issuer_pki, statuses)) is reason


def test_key_binding_is_required_by_default(
    setup: tuple[SoftwareSigner, VerifierPolicy, StatusList], holder_signer: SoftwareSigner, issuer_pki: IssuerPki
) -> None:
    issuer, policy, _ = setup
    issued = issue(issuer, holder_signer, issuer_pki, idx=None)
    unbound = HeldSdJwt.parse(issued).present([])
    assert refusal(unbound, policy, InvalidKeyBinding) is CredentialReason.KEY_BINDING_REQUIRED
    with pytest.raises(ValueError, match="audience and nonce"):
        verify_credential(issued, policy=policy, at=NOW)


def test_expired_credential(
    setup: tuple[SoftwareSigner, VerifierPolicy, StatusList], holder_signer: SoftwareSigner, issuer_pki: IssuerPki
) -> None:
    issuer, policy, _ = setup
    later = NOW + dt.timedelta(days=300)
    presentation = present(issue(issuer, holder_signer, issuer_pki, idx=None, basic=True), holder_signer, at=later)
    assert refusal(presentation, policy, InvalidCredential, at=later) is Reason.TOKEN_EXPIRED


def test_unaccepted_type(
    setup: tuple[SoftwareSigner, VerifierPolicy, StatusList], holder_signer: SoftwareSigner, issuer_pki: IssuerPki
) -> None:
    issuer, policy, _ = setup
    only_basic = VerifierPolicy(issuer_keys=policy.issuer_keys, vcts=frozenset({basic_facts_vct(ISSUER)}))
    presentation = present(issue(issuer, holder_signer, issuer_pki, idx=None), holder_signer)
    assert refusal(presentation, only_basic, CredentialError) is CredentialReason.WRONG_VCT


def test_reasons_are_distinct_strings() -> None:
    values = [r.value for r in CredentialReason] + [r.value for r in Reason]
    assert len(values) == len(set(values))


def test_metadata_policy(holder_signer: SoftwareSigner, issuer_signer: SoftwareSigner) -> None:
    from credentials.sdjwtvc import JwtVcIssuerMetadata

    draft = age_credential("1990-01-01", vct=age_vct(ISSUER), at=NOW, not_after=NOW + dt.timedelta(days=9))
    issued = issue_sd_jwt_vc(draft, signer=issuer_signer, holder_jwk=signer_jwk(holder_signer), issuer=ISSUER).compact
    metadata = JwtVcIssuerMetadata.parse({"issuer": ISSUER, "jwks": {"keys": [signer_jwk(issuer_signer)]}})
    policy = VerifierPolicy(issuer_keys=IssuerKeys(metadata={ISSUER: metadata}), require_key_binding=False)
    verified = verify_credential(HeldSdJwt.parse(issued).present([("age_equal_or_over", "20")]), policy=policy, at=NOW)
    assert verified.claims["age_equal_or_over"] == {"20": True}
    assert verified.issuer == ISSUER
    assert VerificationKey.from_jwk(signer_jwk(issuer_signer)).kid == "issuer-1"
