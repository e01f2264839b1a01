"""``verified_claims`` (OpenID Connect for Identity Assurance 1.0): the request parser accepts the specification's
request examples (which the working group's request schema accepts too), every answer validates against the
working group's response schema (tests/vectors/ida, with date-time formats checked), and the matching rules of
IDA §5.3–5.6 hold: unmet constraints under ``verification`` omit the whole element, unmet claim constraints omit
the claim, nothing unrequested or unapproved is ever returned."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from idp.errors import InvalidRequest
from idp.oauth import consent
from idp.oauth.authorization_request import AuthorizationRequest
from idp.oauth.authorization_request.claims import parse_claims
from idp.oauth.verified_claims import (
    CLAIMS_IN_VERIFIED_CLAIMS,
    SIGNATURE_TYPE,
    answer,
    evidence_source,
    metadata,
)

VECTORS = Path(__file__).parents[1] / "vectors" / "ida"
REQUEST_EXAMPLES = sorted((VECTORS / "examples" / "request").glob("*.json"))
NOW = dt.datetime(2026, 12, 7, 12, 0, 5, tzinfo=dt.UTC)
SIGNED = NOW - dt.timedelta(seconds=5)
ISSUER = "CN=Test JPKI Sign CA,OU=JPKI,O=Test,C=JP"
SOURCE = evidence_source(issuer=ISSUER, serial_number=10978342379280287615, created_at=SIGNED, verified_at=NOW,
                         revocation={"source": "crl", "crl_issuer": ISSUER, "crl_number": 7, "operator": None})
AVAILABLE: dict[str, Any] = {"name": "照合　三四郎", "birthdate": "2000-03-15", "gender": "male",
                             "address": {"formatted": "北海道札幌市中央区"}, "age_over_18": True,
                             "verified_claims": SOURCE}
ALL = frozenset(AVAILABLE)


def _schema(name: str) -> dict[str, Any]:
    return dict(json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8")))


REGISTRY: Registry = Registry().with_resources(
    (schema["$id"], Resource.from_contents(schema))
    for schema in map(_schema, ("verified_claims", "verified_claims_request", "claims_schema")))
RESPONSE = Draft202012Validator(_schema("verified_claims"), registry=REGISTRY,
                                format_checker=Draft202012Validator.FORMAT_CHECKER)
REQUEST = Draft202012Validator(_schema("verified_claims_request"), registry=REGISTRY)


def valid_answer(released: Any) -> Any:
    """``released`` after checking it against the working group's response schema."""
    RESPONSE.validate({"verified_claims": released})
    return released


def _element(verification: dict[str, Any], claims: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"verification": verification, "claims": claims or {}}


# --- the specification's examples and schemas -----------------------------------------------------------------


@pytest.mark.parametrize("example", REQUEST_EXAMPLES, ids=lambda p: p.name)
def test_every_request_example_of_the_specification_is_accepted(example: Path) -> None:
    document = json.loads(example.read_text(encoding="utf-8"))
    REQUEST.validate(document)  # the working group's schema accepts it
    parsed = parse_claims(example.read_text(encoding="utf-8"))
    for target, members in document.items():
        if "verified_claims" in members:
            assert parsed[target]["verified_claims"].query == members["verified_claims"]


def test_the_electronic_signature_example_is_answered_with_what_it_asks_for() -> None:
    request = json.loads((VECTORS / "examples/request/verification_electronic_signature.json").read_text())
    query = request["userinfo"]["verified_claims"]
    released = valid_answer(answer(query, SOURCE, AVAILABLE, ALL, NOW))
    assert released["verification"] == {
        "trust_framework": "jp_aml", "time": "2026-12-07T12:00:05Z",
        "evidence": [{"type": "electronic_signature", "signature_type": SIGNATURE_TYPE, "issuer": ISSUER,
                      "serial_number": "10978342379280287615", "created_at": "2026-12-07T12:00:00Z"}]}
    # given_name and family_name: not claims a card vouches for (its name is one string); birthdate is
    assert released["claims"] == {"birthdate": "2000-03-15"}


def test_the_metadata_names_what_is_answered() -> None:
    assert metadata() == {"trust_frameworks_supported": ["jp_aml"], "evidence_supported": ["electronic_signature"],
                          "claims_in_verified_claims_supported": list(CLAIMS_IN_VERIFIED_CLAIMS)}


# --- matching (IDA §5.4–5.6) -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("verification", "kept"), [
    ({"trust_framework": None}, True),
    ({"trust_framework": {"value": "jp_aml"}}, True),
    ({"trust_framework": {"values": ["de_aml", "jp_aml"]}}, True),
    ({"trust_framework": {"value": "de_aml"}}, False),
    ({"trust_framework": None, "time": {"max_age": 5}}, True),
    ({"trust_framework": None, "time": {"max_age": 4}}, False),  # verified 5 s before the answer
    ({"trust_framework": None, "assurance_level": None}, True),  # not available: that member is left out
    ({"trust_framework": None, "assurance_level": {"value": "high"}}, False),  # a requirement not met
    ({"trust_framework": None, "evidence": [{"type": {"value": "document"}}]}, False),
    ({"trust_framework": None, "evidence": [{"type": {"value": "document"}},
                                            {"type": {"value": "electronic_signature"}}]}, True),  # ORed
    ({"trust_framework": None, "evidence": [{"type": {"value": "electronic_signature"},
                                             "issuer": {"value": "CN=Another CA"}}]}, False),
    ({"trust_framework": None, "evidence": [{"type": {"value": "electronic_signature"},
                                             "created_at": {"max_age": 10}}]}, True),
    ({"trust_framework": None, "evidence": [{"type": {"value": "electronic_signature"},
                                             "created_at": {"max_age": 9}}]}, False),
    ({"trust_framework": {"max_age": 60}}, False),  # max_age on something that is not a time
])
def test_a_constraint_under_verification_not_met_omits_the_whole_element(verification: dict[str, Any],
                                                                          kept: bool) -> None:
    released = answer(_element(verification, {"name": None}), SOURCE, AVAILABLE, ALL, NOW + dt.timedelta(seconds=5))
    if kept:
        assert valid_answer(released)["claims"] == {"name": AVAILABLE["name"]}
    else:
        assert released is None


def test_only_requested_members_are_returned() -> None:
    plain = valid_answer(answer(_element({"trust_framework": None}), SOURCE, AVAILABLE, ALL, NOW))
    assert plain == {"verification": {"trust_framework": "jp_aml"}, "claims": {}}
    evidence = valid_answer(answer(_element({"trust_framework": None, "evidence": [
        {"type": {"value": "electronic_signature"}, "revocation": None}]}), SOURCE, AVAILABLE, ALL, NOW))
    assert evidence["verification"]["evidence"] == [{
        "type": "electronic_signature", "signature_type": SIGNATURE_TYPE, "issuer": ISSUER,
        "serial_number": "10978342379280287615",
        "revocation": {"source": "crl", "crl_issuer": ISSUER, "crl_number": 7}}]
    assert "time" not in evidence["verification"]


def test_claims_unavailable_unapproved_or_not_matching_are_omitted_one_by_one() -> None:
    request = _element({"trust_framework": None}, {"name": None, "birthdate": {"value": "1999-01-01"},
                                                   "gender": {"values": ["male", "female"]}, "address": None,
                                                   "age_over_18": None, "given_name": None})
    released = valid_answer(answer(request, SOURCE, AVAILABLE, {"name", "gender", "age_over_18"}, NOW))
    assert released["claims"] == {"name": AVAILABLE["name"], "gender": "male"}


def test_a_year_only_birthdate_is_not_a_verified_birthdate() -> None:
    available = {**AVAILABLE, "birthdate": "1950"}
    released = answer(_element({"trust_framework": None}, {"birthdate": None}), SOURCE, available, ALL, NOW)
    assert valid_answer(released)["claims"] == {}


def test_an_array_is_answered_element_by_element() -> None:
    request = [_element({"trust_framework": {"value": "eidas"}}, {"name": None}),
               _element({"trust_framework": {"value": "jp_aml"}}, {"birthdate": None})]
    released = valid_answer(answer(request, SOURCE, AVAILABLE, ALL, NOW))
    assert released == [{"verification": {"trust_framework": "jp_aml"}, "claims": {"birthdate": "2000-03-15"}}]
    assert answer(request[:1], SOURCE, AVAILABLE, ALL, NOW) is None


# --- the claims parameter ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("member", [
    None, "x", [], [{"claims": {}}], {"claims": {}}, {"verification": []},
    {"verification": {"trust_framework": {"value": "a", "values": ["a"]}}, "claims": {}},
    {"verification": {"trust_framework": None, "time": {"max_age": -1}}, "claims": {}},
    {"verification": {"trust_framework": None}, "claims": {"name": {"values": []}}},
    {"verification": {"trust_framework": None, "evidence": []}, "claims": {}},
])
def test_a_malformed_request_is_invalid_request(member: object) -> None:
    with pytest.raises(InvalidRequest):
        parse_claims(json.dumps({"id_token": {"verified_claims": member}}))


def _request(claims: dict[str, Any]) -> AuthorizationRequest:
    return AuthorizationRequest(client_id="rp", redirect_uri="https://rp.example/cb", scope=("openid",),
                                code_challenge="c" * 43, claims=parse_claims(json.dumps(claims)))


def test_the_request_survives_storage_and_each_nested_claim_is_asked() -> None:
    query = {"verification": {"trust_framework": None}, "claims": {"address": None, "name": None}}
    request = _request({"userinfo": {"verified_claims": query, "birthdate": None}})
    stored = AuthorizationRequest.from_payload(json.loads(json.dumps(request.to_payload())))
    assert stored.requested_claims()["userinfo"]["verified_claims"].query == query
    assert consent.askable(stored, AVAILABLE) == ("name", "birthdate", "address", "verified_claims")
    assert consent.askable(stored, {k: v for k, v in AVAILABLE.items() if k != "verified_claims"}) == (
        "name", "birthdate", "address")


def test_release_needs_the_evidence_approved_and_each_claim_approved() -> None:
    query = {"verification": {"trust_framework": None}, "claims": {"address": None, "name": None}}
    request = _request({"id_token": {"verified_claims": query}})
    assert consent.release(request, AVAILABLE, {"name", "address"}, now=NOW) == {"id_token": {}, "userinfo": {}}
    released = consent.release(request, AVAILABLE, {"name", "verified_claims"}, now=NOW)
    assert released["id_token"] == {"verified_claims": {"verification": {"trust_framework": "jp_aml"},
                                                        "claims": {"name": AVAILABLE["name"]}}}
    assert released["userinfo"] == {}


@given(approved=st.sets(st.sampled_from(sorted(ALL))),
       asked=st.sets(st.sampled_from([*CLAIMS_IN_VERIFIED_CLAIMS, "age_over_18", "given_name"])))
def test_nothing_unrequested_or_unapproved_is_released(approved: set[str], asked: set[str]) -> None:
    query = {"verification": {"trust_framework": None, "time": None}, "claims": dict.fromkeys(asked)}
    released = consent.release(_request({"userinfo": {"verified_claims": query}}), AVAILABLE, approved, now=NOW)
    element = released["userinfo"].get("verified_claims")
    assert (element is not None) == ("verified_claims" in approved)
    if element is not None:
        valid_answer(element)
        assert set(element["claims"]) <= approved & asked & set(CLAIMS_IN_VERIFIED_CLAIMS)


_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-1, 10**9),
                  st.sampled_from(["jp_aml", "de_aml", "electronic_signature", "2026-12-07T12:00:00Z", ISSUER, ""]))
_CONSTRAINT = st.one_of(st.none(), st.fixed_dictionaries({}, optional={
    "value": _LEAF, "values": st.lists(_LEAF, max_size=2), "max_age": st.integers(-1, 10**6),
    "essential": st.booleans()}))
_NAMES = st.sampled_from(["trust_framework", "time", "assurance_level", "type", "issuer", "serial_number",
                          "created_at", "revocation", "signature_type"])
_MEMBERS = st.dictionaries(_NAMES, _CONSTRAINT, max_size=3)
_VERIFICATION = st.builds(lambda members, evidence: {**members, **({} if evidence is None else {"evidence": evidence})},
                          _MEMBERS, st.none() | st.lists(_MEMBERS, max_size=2))
_ELEMENT = st.builds(lambda verification, claims: {"verification": verification, "claims": claims}, _VERIFICATION,
                     st.dictionaries(st.sampled_from([*CLAIMS_IN_VERIFIED_CLAIMS, "given_name"]), _CONSTRAINT,
                                     max_size=3))


@given(member=_ELEMENT | st.lists(_ELEMENT, max_size=2), approved=st.sets(st.sampled_from(sorted(ALL))))
def test_whatever_the_parser_accepts_is_answered_validly_or_not_at_all(member: Any, approved: set[str]) -> None:
    try:
        parsed = parse_claims(json.dumps({"userinfo": {"verified_claims": member}}))
    except InvalidRequest:
        return
    released = answer(parsed["userinfo"]["verified_claims"].query, SOURCE, AVAILABLE, approved, NOW)
    if released is not None:
        valid_answer(released)
        elements = released if isinstance(released, list) else [released]
        assert all(set(e["claims"]) <= approved for e in elements)
