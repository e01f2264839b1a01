"""DCQL (OpenID4VP 1.0 §6, §7) over SD-JWT VC credentials: the specification's query examples, claims path
pointer semantics, value matching, Holder binding, trusted authorities and query validation.

The two query examples are openid/OpenID4VP ``1.0/examples/query_lang/claims_alternatives.json`` and
``credentials_alternatives.json`` (commit 144417be); the path pointer credential is §7.3's example."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from credentials.dcql import DcqlQuery, match_dcql
from credentials.errors import CredentialReason, InvalidQuery
from credentials.sdjwt import SD, HeldSdJwt, IssuerCheck, issue_sd_jwt, verify_sd_jwt
from credentials.sdjwtvc import TYP, CredentialDraft, issue_sd_jwt_vc
from keys.jose.jwk import VerificationKey
from keys.service.signer import SoftwareSigner

from .conftest import NOW, IssuerPki, signer_jwk

IDENTITY = "https://credentials.example.com/identity_credential"

CLAIMS_ALTERNATIVES = {"credentials": [{
    "id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": [IDENTITY]},
    "claims": [{"id": "a", "path": ["last_name"]}, {"id": "b", "path": ["postal_code"]},
               {"id": "c", "path": ["locality"]}, {"id": "d", "path": ["region"]},
               {"id": "e", "path": ["date_of_birth"]}],
    "claim_sets": [["a", "c", "d", "e"], ["a", "b", "e"]]}]}

CREDENTIALS_ALTERNATIVES = {
    "credentials": [
        {"id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": [IDENTITY]},
         "claims": [{"path": ["given_name"]}, {"path": ["family_name"]}, {"path": ["address", "street_address"]}]},
        {"id": "other_pid", "format": "dc+sd-jwt", "meta": {"vct_values": ["https://othercredentials.example/pid"]},
         "claims": [{"path": ["given_name"]}, {"path": ["family_name"]}, {"path": ["address", "street_address"]}]},
        {"id": "pid_reduced_cred_1", "format": "dc+sd-jwt",
         "meta": {"vct_values": ["https://credentials.example.com/reduced_identity_credential"]},
         "claims": [{"path": ["family_name"]}, {"path": ["given_name"]}]},
        {"id": "pid_reduced_cred_2", "format": "dc+sd-jwt",
         "meta": {"vct_values": ["https://cred.example/residence_credential"]},
         "claims": [{"path": ["postal_code"]}, {"path": ["locality"]}, {"path": ["region"]}]},
        {"id": "nice_to_have", "format": "dc+sd-jwt", "meta": {"vct_values": ["https://company.example/company_rewards"]},
         "claims": [{"path": ["rewards_number"]}]},
    ],
    "credential_sets": [
        {"options": [["pid"], ["other_pid"], ["pid_reduced_cred_1", "pid_reduced_cred_2"]]},
        {"required": False, "options": [["nice_to_have"]]},
    ],
}


def held(signer: SoftwareSigner, holder: SoftwareSigner, vct: str, claims: dict[str, Any],
         x5c: list[Any] | None = None) -> HeldSdJwt:
    draft = CredentialDraft(vct=vct, claims=claims, iat=NOW, exp=NOW + dt.timedelta(days=1))
    return HeldSdJwt.parse(issue_sd_jwt_vc(draft, signer=signer, holder_jwk=signer_jwk(holder), x5c=x5c or []).compact)


@pytest.fixture
def wallet(issuer_signer: SoftwareSigner, holder_signer: SoftwareSigner) -> list[HeldSdJwt]:
    return [
        held(issuer_signer, holder_signer, "https://credentials.example.com/reduced_identity_credential",
             {"family_name": SD("Doe"), "given_name": SD("John")}),
        held(issuer_signer, holder_signer, "https://cred.example/residence_credential",
             {"postal_code": SD("12345"), "locality": SD("Anytown"), "region": SD("Anystate")}),
        held(issuer_signer, holder_signer, IDENTITY,
             {"last_name": SD("Doe"), "postal_code": SD("12345"), "locality": SD("Anytown"),
              "date_of_birth": SD("1940-01-01"), "given_name": SD("John"), "family_name": SD("Doe"),
              "address": SD({"street_address": SD("123 Main St"), "country": SD("US")})}),
    ]


def released(selection_presentation: str, signer: SoftwareSigner) -> dict[str, Any]:
    check = IssuerCheck(typ=(TYP,), keys=(VerificationKey.from_jwk(signer_jwk(signer)),))
    claims = verify_sd_jwt(selection_presentation, issuer=check, key_binding=None, at=NOW).claims
    return {k: v for k, v in claims.items() if k not in ("iat", "exp", "vct", "cnf")}


def test_claim_sets_take_the_first_satisfiable_option(wallet: list[HeldSdJwt], issuer_signer: SoftwareSigner) -> None:
    """claims_alternatives.json: no region in the credential, so the second option (a, b, e) is presented."""
    result = match_dcql(CLAIMS_ALTERNATIVES, wallet)
    (selection,) = result["pid"]
    assert selection.credential == 2
    assert selection.key_binding
    assert released(selection.presentation, issuer_signer) == {
        "last_name": "Doe", "postal_code": "12345", "date_of_birth": "1940-01-01"}


def test_credential_sets(wallet: list[HeldSdJwt], issuer_signer: SoftwareSigner) -> None:
    """credentials_alternatives.json: pid is satisfiable (first option); nice_to_have is optional and absent."""
    result = match_dcql(CREDENTIALS_ALTERNATIVES, wallet)
    assert set(result) == {"pid"}
    assert released(result["pid"][0].presentation, issuer_signer) == {
        "given_name": "John", "family_name": "Doe", "address": {"street_address": "123 Main St"}}


def test_credential_sets_fall_back_to_a_later_option(wallet: list[HeldSdJwt]) -> None:
    result = match_dcql(CREDENTIALS_ALTERNATIVES, wallet[:2])
    assert set(result) == {"pid_reduced_cred_1", "pid_reduced_cred_2"}
    assert [s.credential for s in result["pid_reduced_cred_2"]] == [1]


def test_required_set_not_satisfied(wallet: list[HeldSdJwt]) -> None:
    with pytest.raises(InvalidQuery) as info:
        match_dcql(CREDENTIALS_ALTERNATIVES, wallet[:1])
    assert info.value.reason is CredentialReason.QUERY_NOT_SATISFIED


def test_claims_path_pointer_semantics(issuer_signer: SoftwareSigner, holder_signer: SoftwareSigner) -> None:
    """§7.3's example credential and pointers."""
    credential = held(issuer_signer, holder_signer, "https://example.com/student", {
        "name": SD("Arthur Dent"),
        "address": SD({"street_address": SD("42 Market Street"), "locality": SD("Milliways"),
                       "postal_code": SD("12345")}),
        "degrees": [SD({"type": SD("Bachelor of Science"), "university": SD("University of Betelgeuse")}),
                    SD({"type": SD("Master of Science"), "university": SD("University of Betelgeuse")})],
        "nationalities": [SD("British"), SD("Betelgeusian")],
    })

    def pick(*path: Any, values: list[Any] | None = None) -> dict[str, Any]:
        claim: dict[str, Any] = {"path": list(path)}
        if values is not None:
            claim["values"] = values
        query = {"credentials": [{"id": "q", "format": "dc+sd-jwt", "meta": {"vct_values": ["https://example.com/student"]},
                                  "claims": [claim]}]}
        return released(match_dcql(query, [credential])["q"][0].presentation, issuer_signer)

    assert pick("name") == {"name": "Arthur Dent", "degrees": [], "nationalities": []}
    assert pick("address")["address"] == {"street_address": "42 Market Street", "locality": "Milliways",
                                          "postal_code": "12345"}
    assert pick("address", "street_address")["address"] == {"street_address": "42 Market Street"}
    assert pick("degrees", None, "type")["degrees"] == [{"type": "Bachelor of Science"}, {"type": "Master of Science"}]
    assert pick("nationalities", 1)["nationalities"] == ["Betelgeusian"]
    assert pick("nationalities", None, values=["British"])["nationalities"] == ["British"]
    query = {"credentials": [{"id": "q", "format": "dc+sd-jwt", "meta": {"vct_values": ["https://example.com/student"]},
                              "claims": [{"path": ["name", "first"]}]}]}
    with pytest.raises(InvalidQuery):  # "name" is not an object: processing error, so no match
        match_dcql(query, [credential])


def test_values_match_type_and_value(issuer_signer: SoftwareSigner, holder_signer: SoftwareSigner) -> None:
    credential = held(issuer_signer, holder_signer, "v", {"age_equal_or_over": {"18": SD(True)}, "count": SD(1)})

    def query(path: list[Any], values: list[Any]) -> dict[str, Any]:
        return {"credentials": [{"id": "q", "format": "dc+sd-jwt", "meta": {"vct_values": ["v"]},
                                 "claims": [{"path": path, "values": values}]}]}

    assert match_dcql(query(["age_equal_or_over", "18"], [True]), [credential])
    for path, values in ((["age_equal_or_over", "18"], [1]), (["count"], [True]), (["count"], ["1"])):
        with pytest.raises(InvalidQuery):
            match_dcql(query(path, values), [credential])


def test_no_claims_presents_only_the_mandatory_parts(wallet: list[HeldSdJwt]) -> None:
    query = {"credentials": [{"id": "q", "format": "dc+sd-jwt", "meta": {"vct_values": [IDENTITY]}}]}
    (selection,) = match_dcql(query, wallet)["q"]
    assert selection.presentation.count("~") == 1
    assert selection.paths == ()


def test_multiple_and_holder_binding(issuer_signer: SoftwareSigner, holder_signer: SoftwareSigner) -> None:
    bound = [held(issuer_signer, holder_signer, "v", {"x": SD(i)}) for i in range(3)]
    unbound = HeldSdJwt.parse(issue_sd_jwt({"vct": "v", "x": SD(9)}, signer=issuer_signer, typ=TYP).compact)
    base = {"id": "q", "format": "dc+sd-jwt", "meta": {"vct_values": ["v"]}, "claims": [{"path": ["x"]}]}
    assert [s.credential for s in match_dcql({"credentials": [base]}, [unbound, *bound])["q"]] == [1]
    many = match_dcql({"credentials": [{**base, "multiple": True}]}, [unbound, *bound])["q"]
    assert [s.credential for s in many] == [1, 2, 3]
    loose = match_dcql({"credentials": [{**base, "require_cryptographic_holder_binding": False}]}, [unbound])["q"]
    assert loose[0].credential == 0
    assert not loose[0].key_binding


def test_trusted_authorities_aki(issuer_pki: IssuerPki, holder_signer: SoftwareSigner) -> None:
    from cryptography import x509

    from keys.jose.b64 import b64url_encode

    signer = SoftwareSigner(issuer_pki.leaf_key, "ES256", "x")
    credential = held(signer, holder_signer, "v", {"x": SD(1)}, x5c=[issuer_pki.leaf, issuer_pki.intermediate])
    root_ski = issuer_pki.root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    base = {"id": "q", "format": "dc+sd-jwt", "meta": {"vct_values": ["v"]}}
    trusted = {**base, "trusted_authorities": [{"type": "aki", "values": [b64url_encode(root_ski)]}]}
    assert match_dcql({"credentials": [trusted]}, [credential])
    for authorities in ([{"type": "aki", "values": ["s9tIpPmhxdiuNkHMEWNpYim8S8Y"]}],
                        [{"type": "etsi_tl", "values": ["https://lotl.example.com"]}]):
        with pytest.raises(InvalidQuery):
            match_dcql({"credentials": [{**base, "trusted_authorities": authorities}]}, [credential])


def test_other_formats_never_match(wallet: list[HeldSdJwt]) -> None:
    query = {"credentials": [{"id": "q", "format": "mso_mdoc", "meta": {"doctype_value": "org.iso.18013.5.1.mDL"}}]}
    with pytest.raises(InvalidQuery) as info:
        match_dcql(query, wallet)
    assert info.value.reason is CredentialReason.QUERY_NOT_SATISFIED


OK = {"id": "q", "format": "dc+sd-jwt", "meta": {"vct_values": ["v"]}}


@pytest.mark.parametrize(
    "query",
    [
        {}, {"credentials": []}, {"credentials": [{**OK, "id": "bad id"}]}, {"credentials": [OK, OK]},
        {"credentials": [{k: v for k, v in OK.items() if k != "meta"}]},
        {"credentials": [{**OK, "meta": {}}]},
        {"credentials": [{**OK, "multiple": "yes"}]},
        {"credentials": [{**OK, "claims": []}]},
        {"credentials": [{**OK, "claims": [{"path": []}]}]},
        {"credentials": [{**OK, "claims": [{"path": ["a", -1]}]}]},
        {"credentials": [{**OK, "claims": [{"path": ["a", True]}]}]},
        {"credentials": [{**OK, "claims": [{"path": ["a"], "values": [1.5]}]}]},
        {"credentials": [{**OK, "claims": [{"path": ["a"]}], "claim_sets": [["a"]]}]},
        {"credentials": [{**OK, "claims": [{"id": "a", "path": ["a"]}], "claim_sets": [["b"]]}]},
        {"credentials": [{**OK, "claim_sets": [["a"]]}]},
        {"credentials": [{**OK, "claims": [{"id": "a", "path": ["a"]}, {"id": "a", "path": ["b"]}]}]},
        {"credentials": [OK], "credential_sets": [{"options": [["other"]]}]},
        {"credentials": [OK], "credential_sets": [{"options": []}]},
        {"credentials": [{**OK, "trusted_authorities": [{"type": "aki", "values": []}]}]},
    ],
)
def test_invalid_queries(query: dict[str, Any]) -> None:
    with pytest.raises(InvalidQuery) as info:
        DcqlQuery.parse(query)
    assert info.value.reason is CredentialReason.INVALID_QUERY


def test_unknown_members_are_ignored() -> None:
    parsed = DcqlQuery.parse({"credentials": [{**OK, "future": 1}], "also": True})
    assert parsed.credentials[0].id == "q"


def test_unreadable_chain_matches_no_authority(wallet: list[HeldSdJwt]) -> None:
    from credentials.dcql import trusted_by

    assert not trusted_by((("aki", ("x",)),), "not-base64!.x.y")
    assert not trusted_by((("aki", ("x",)),), wallet[0].jwt)  # no x5c at all
