"""SD-JWT VC (draft-ietf-oauth-sd-jwt-vc): issuance, the two Issuer Signature Mechanisms (x5c to a pinned trust
store, JWT VC Issuer Metadata), typ, vct and the never-disclosable claims."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from conformance.vc import load
from credentials.errors import CredentialError, CredentialReason, MalformedCredential, UntrustedIssuer
from credentials.jose import unverified_header
from credentials.limits import DEFAULT_CREDENTIAL_LIMITS
from credentials.sdjwt import SD, HeldSdJwt, issue_sd_jwt, key_binding_jwt
from credentials.sdjwtvc import (
    TYP,
    CredentialDraft,
    IssuerKeys,
    JwtVcIssuerMetadata,
    issue_sd_jwt_vc,
    metadata_url,
    verify_sd_jwt_vc,
)
from credentials.status import StatusReference
from keys.errors import Reason
from keys.service.signer import SoftwareSigner
from keys.trust import TrustStore

from .conftest import AUDIENCE, ISSUER, NONCE, NOW, IssuerPki, kb_policy, make_issuer_pki, signer_jwk

DRAFT = CredentialDraft(vct=f"{ISSUER}/vct/test", claims={"given_name": SD("花子"), "age": {"18": SD(True)}},
                        iat=NOW, exp=NOW + dt.timedelta(days=30))


def metadata_keys(signer: SoftwareSigner, issuer: str = ISSUER) -> IssuerKeys:
    metadata = JwtVcIssuerMetadata.parse({"issuer": issuer, "jwks": {"keys": [signer_jwk(signer)]}})
    return IssuerKeys(metadata={issuer: metadata})


def reason_of(call: Any) -> Any:
    with pytest.raises(CredentialError) as info:
        call()
    return info.value.reason


def test_issue_and_verify_with_metadata(issuer_signer: SoftwareSigner, holder_signer: SoftwareSigner) -> None:
    reference = StatusReference(idx=42, uri=f"{ISSUER}/status/1")
    issued = issue_sd_jwt_vc(DRAFT, signer=issuer_signer, holder_jwk=signer_jwk(holder_signer), issuer=ISSUER,
                             status=reference)
    header = unverified_header(issued.jwt, DEFAULT_CREDENTIAL_LIMITS.jose)
    assert header == {"alg": "ES256", "typ": TYP, "kid": "issuer-1"}
    payload = issued.payload
    assert set(payload) >= {"iss", "iat", "exp", "vct", "cnf", "status", "_sd", "_sd_alg"}
    sd = HeldSdJwt.parse(issued.compact).present([("age", "18")])
    presentation = sd + key_binding_jwt(sd, signer=holder_signer, audience=AUDIENCE, nonce=NONCE, iat=NOW)
    verified = verify_sd_jwt_vc(presentation, issuer_keys=metadata_keys(issuer_signer), key_binding=kb_policy(),
                                at=NOW, vcts={DRAFT.vct})
    assert verified.vct == DRAFT.vct
    assert verified.issuer == ISSUER
    assert verified.status == reference
    assert verified.claims["age"] == {"18": True}
    assert "given_name" not in verified.claims


def test_issue_and_verify_with_x5c(issuer_pki: IssuerPki, holder_signer: SoftwareSigner) -> None:
    signer = SoftwareSigner(issuer_pki.leaf_key, "ES256", "x5c")
    issued = issue_sd_jwt_vc(DRAFT, signer=signer, holder_jwk=signer_jwk(holder_signer),
                             x5c=[issuer_pki.leaf, issuer_pki.intermediate])
    header = unverified_header(issued.jwt, DEFAULT_CREDENTIAL_LIMITS.jose)
    assert "kid" not in header
    assert len(header["x5c"]) == 2
    verified = verify_sd_jwt_vc(issued.compact, issuer_keys=IssuerKeys(trust=issuer_pki.trust), key_binding=None,
                                at=NOW)
    assert verified.sd_jwt.path is not None
    assert verified.sd_jwt.path.leaf == issuer_pki.leaf
    assert verified.issuer is None  # the issuer is the certificate subject (§3.5)


def test_x5c_to_an_unpinned_root_is_refused(issuer_pki: IssuerPki, holder_signer: SoftwareSigner) -> None:
    other = make_issuer_pki()
    signer = SoftwareSigner(other.leaf_key, "ES256", "x5c")
    issued = issue_sd_jwt_vc(DRAFT, signer=signer, holder_jwk=signer_jwk(holder_signer),
                             x5c=[other.leaf, other.intermediate])
    with pytest.raises(UntrustedIssuer) as info:
        verify_sd_jwt_vc(issued.compact, issuer_keys=IssuerKeys(trust=issuer_pki.trust), key_binding=None, at=NOW)
    assert info.value.reason in (Reason.UNTRUSTED_ROOT, Reason.NO_VALID_PATH)


def test_x5c_root_must_be_pinned(issuer_pki: IssuerPki) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    unpinned = TrustStore.build([("root", issuer_pki.root.public_bytes(Encoding.DER))])
    assert unpinned.anchors == ()
    assert unpinned.refused[0].reason is Reason.UNTRUSTED_ROOT


def test_x5c_not_permitted_without_a_trust_store(issuer_pki: IssuerPki, holder_signer: SoftwareSigner) -> None:
    signer = SoftwareSigner(issuer_pki.leaf_key, "ES256", "x5c")
    issued = issue_sd_jwt_vc(DRAFT, signer=signer, holder_jwk=signer_jwk(holder_signer), issuer=ISSUER,
                             x5c=[issuer_pki.leaf, issuer_pki.intermediate])
    keys = metadata_keys(signer)
    assert reason_of(lambda: verify_sd_jwt_vc(issued.compact, issuer_keys=keys, key_binding=None, at=NOW)) \
        is CredentialReason.NO_ISSUER_KEY


def test_expired_certificate_in_x5c(issuer_pki: IssuerPki, holder_signer: SoftwareSigner) -> None:
    signer = SoftwareSigner(issuer_pki.leaf_key, "ES256", "x5c")
    issued = issue_sd_jwt_vc(DRAFT, signer=signer, holder_jwk=signer_jwk(holder_signer),
                             x5c=[issuer_pki.leaf, issuer_pki.intermediate])
    late = NOW + dt.timedelta(days=25)
    verify_sd_jwt_vc(issued.compact, issuer_keys=IssuerKeys(trust=issuer_pki.trust), key_binding=None, at=late)
    too_late = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    assert reason_of(lambda: verify_sd_jwt_vc(issued.compact, issuer_keys=IssuerKeys(trust=issuer_pki.trust),
                                              key_binding=None, at=too_late)) in (Reason.EXPIRED, Reason.TOKEN_EXPIRED)


def test_unknown_issuer_and_metadata_mismatch(issuer_signer: SoftwareSigner, holder_signer: SoftwareSigner) -> None:
    issued = issue_sd_jwt_vc(DRAFT, signer=issuer_signer, holder_jwk=signer_jwk(holder_signer), issuer=ISSUER)
    assert reason_of(lambda: verify_sd_jwt_vc(issued.compact, issuer_keys=metadata_keys(issuer_signer, "https://x.jp"),
                                              key_binding=None, at=NOW)) is CredentialReason.NO_ISSUER_KEY
    jwks = {"keys": [signer_jwk(issuer_signer)]}
    wrong = JwtVcIssuerMetadata.parse({"issuer": "https://other.example", "jwks": jwks})
    keys = IssuerKeys(metadata={ISSUER: wrong})
    assert reason_of(lambda: verify_sd_jwt_vc(issued.compact, issuer_keys=keys, key_binding=None, at=NOW)) \
        is CredentialReason.ISSUER_METADATA_MISMATCH


def test_metadata_key_of_another_issuer_does_not_verify(
    issuer_signer: SoftwareSigner, holder_signer: SoftwareSigner
) -> None:
    issued = issue_sd_jwt_vc(DRAFT, signer=issuer_signer, holder_jwk=signer_jwk(holder_signer), issuer=ISSUER)
    impostor = SoftwareSigner(holder_signer._key, "ES256", "issuer-1")  # same kid, another key
    assert reason_of(lambda: verify_sd_jwt_vc(issued.compact, issuer_keys=metadata_keys(impostor), key_binding=None,
                                              at=NOW)) is Reason.BAD_SIGNATURE


def test_legacy_typ(issuer_signer: SoftwareSigner) -> None:
    """vc+sd-jwt is accepted for verification (§3.2.1 transition), never issued, and can be refused."""
    issued = issue_sd_jwt({"iss": ISSUER, "vct": DRAFT.vct, "x": SD(1)}, signer=issuer_signer, typ="vc+sd-jwt")
    keys = metadata_keys(issuer_signer)
    assert verify_sd_jwt_vc(issued.compact, issuer_keys=keys, key_binding=None, at=NOW).vct == DRAFT.vct
    assert reason_of(lambda: verify_sd_jwt_vc(issued.compact, issuer_keys=keys, key_binding=None, at=NOW,
                                              accept_legacy_typ=False)) is Reason.TYP_MISMATCH
    other = issue_sd_jwt({"iss": ISSUER, "vct": DRAFT.vct}, signer=issuer_signer, typ="example+sd-jwt")
    assert reason_of(lambda: verify_sd_jwt_vc(other.compact, issuer_keys=keys, key_binding=None, at=NOW)) \
        is Reason.TYP_MISMATCH


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"iss": ISSUER}, Reason.MISSING_CLAIM),
        ({"iss": ISSUER, "vct": 7}, Reason.MALFORMED),
        ({"iss": ISSUER, "vct": SD("x")}, CredentialReason.NON_DISCLOSABLE_CLAIM),
        ({"iss": ISSUER, "vct": "x", "status": SD({"status_list": {"idx": 1, "uri": "u"}})},
         CredentialReason.NON_DISCLOSABLE_CLAIM),
        ({"iss": ISSUER, "vct": "x", "status": {"status_list": {"idx": -1, "uri": "u"}}}, Reason.MALFORMED),
        ({"iss": ISSUER, "vct": "https://other.example/vct"}, CredentialReason.WRONG_VCT),
    ],
    ids=["no vct", "vct not a string", "vct disclosed", "status disclosed", "bad status", "unaccepted vct"],
)
def test_claim_rules(claims: dict[str, Any], reason: Any, issuer_signer: SoftwareSigner) -> None:
    issued = issue_sd_jwt(claims, signer=issuer_signer, typ=TYP)
    keys = metadata_keys(issuer_signer)
    assert reason_of(lambda: verify_sd_jwt_vc(issued.compact, issuer_keys=keys, key_binding=None, at=NOW,
                                              vcts={"x", DRAFT.vct})) is reason


def test_issuer_owns_the_registered_claims(issuer_signer: SoftwareSigner, holder_signer: SoftwareSigner) -> None:
    for name in ("iss", "exp", "cnf", "status", "iat"):
        draft = CredentialDraft(vct="x", claims={name: SD(1)}, iat=NOW, exp=NOW + dt.timedelta(days=1))
        with pytest.raises(ValueError, match="issuer owns"):
            issue_sd_jwt_vc(draft, signer=issuer_signer, holder_jwk=signer_jwk(holder_signer))
    with pytest.raises(ValueError, match="public key"):
        issue_sd_jwt_vc(DRAFT, signer=issuer_signer, holder_jwk={**signer_jwk(holder_signer), "d": "x"})


def test_spec_metadata_document() -> None:
    document = load("sd_jwt_vc.json")["issuer_metadata"]["document"]
    metadata = JwtVcIssuerMetadata.parse(document)
    assert metadata.issuer == "https://example.com"
    assert [k.kid for k in metadata.keys] == ["doc-signer-05-25-2022", "doc-signer-06-05-2025"]


def test_metadata_with_jwks_uri() -> None:
    example = load("sd_jwt.json")["issuer_key"]
    document = {"issuer": "https://example.com", "jwks_uri": "https://jwt-vc-issuer.example.com/my_public_keys.jwks"}
    metadata = JwtVcIssuerMetadata.parse(document, jwks={"keys": [example]})
    assert len(metadata.keys) == 1
    with pytest.raises(MalformedCredential):
        JwtVcIssuerMetadata.parse(document)
    with pytest.raises(MalformedCredential):
        JwtVcIssuerMetadata.parse({**document, "jwks": {"keys": [example]}})


def test_metadata_url() -> None:
    """§5.1's two examples."""
    assert metadata_url("https://example.com") == "https://example.com/.well-known/jwt-vc-issuer"
    assert metadata_url("https://example.com/tenant/1234") == "https://example.com/.well-known/jwt-vc-issuer/tenant/1234"
    assert metadata_url("https://example.com/tenant/") == "https://example.com/.well-known/jwt-vc-issuer/tenant"
    for bad in ("http://example.com", "https://example.com/?q=1", "https://example.com/#f"):
        with pytest.raises(ValueError, match="https URL"):
            metadata_url(bad)
