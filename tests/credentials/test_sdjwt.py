"""SD-JWT (RFC 9901): the specification's examples reproduced and verified, issuance properties, and every
strict processing rule of §7.1 failing with its own reason."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest

from conformance.vc import ScriptedRandomness, claims_from_json, load
from credentials.errors import (
    CredentialError,
    CredentialLimitExceeded,
    CredentialReason,
    InvalidCredential,
    InvalidKeyBinding,
    MalformedCredential,
    ReasonCode,
    UntrustedIssuer,
)
from credentials.jose import json_bytes
from credentials.limits import DEFAULT_CREDENTIAL_LIMITS, CredentialLimits
from credentials.sdjwt import (
    SD,
    Disclosure,
    HeldSdJwt,
    IssuerCheck,
    SecureRandomness,
    build_payload,
    issue_sd_jwt,
    verify_sd_jwt,
)
from credentials.sdjwt.disclosure import digest
from keys.errors import Reason
from keys.jose.b64 import b64url_encode
from keys.jose.jwk import VerificationKey
from keys.service.jws import encode_jwt
from keys.service.signer import SoftwareSigner

from .conftest import NOW, kb_policy, signer_jwk

EXAMPLES = load("sd_jwt.json")["examples"]
L = DEFAULT_CREDENTIAL_LIMITS


def reason_of(call: Callable[[], object]) -> ReasonCode:
    with pytest.raises(CredentialError) as info:
        call()
    return info.value.reason


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["name"] for e in EXAMPLES])
def test_spec_example_is_reproduced(example: dict[str, Any]) -> None:
    salts = [Disclosure.parse(d, hash_alg="sha-256", limits=L).salt for d in example["disclosures"]]
    payload, disclosures = build_payload(
        claims_from_json(example["claims"]), randomness=ScriptedRandomness(salts, example["decoys"])
    )
    assert [d.encoded for d in disclosures] == example["disclosures"]
    assert [d.digest for d in disclosures] == example["digests"]
    assert payload == example["payload"]


PRESENTATIONS = [(e, p) for e in EXAMPLES for p in e.get("presentations", ())]


@pytest.mark.parametrize(("example", "presentation"), PRESENTATIONS, ids=[e["name"] for e, _ in PRESENTATIONS])
def test_spec_presentation_verifies(
    example: dict[str, Any], presentation: dict[str, Any], sd_jwt_data: dict[str, Any]
) -> None:
    check = IssuerCheck(typ=(example["typ"],), keys=(VerificationKey.from_jwk(sd_jwt_data["issuer_key"]),))
    kb = presentation["key_binding"]
    policy = kb_policy(audience=kb["aud"], nonce=kb["nonce"]) if kb else None
    at = dt.datetime.fromtimestamp(kb["iat"] if kb else 1_700_000_000, dt.UTC)
    verified = verify_sd_jwt(presentation["compact"], issuer=check, key_binding=policy, at=at)
    assert dict(verified.claims) == presentation["expected"]
    assert (verified.key_binding is not None) == (kb is not None)


def test_issued_spec_sd_jwt_places_every_disclosure(spec_check: IssuerCheck) -> None:
    simple = EXAMPLES[0]
    verified = verify_sd_jwt(simple["issued"], issuer=spec_check, key_binding=None, at=NOW)
    assert len(verified.disclosures) == 10
    assert verified.placed[simple["digests"][8]] == ("nationalities", 0)  # the "US" element
    assert verified.claims["nationalities"] == ["US", "DE"]


def test_disclosure_encodings_of_one_claim_are_equivalent(sd_jwt_data: dict[str, Any]) -> None:
    variants = sd_jwt_data["disclosure_variants"]["object"]
    parsed = [Disclosure.parse(e, hash_alg="sha-256", limits=L) for e in variants["encodings"]]
    assert {(d.salt, d.name, d.value) for d in parsed} == {("_26bc4LT-ac6q2KI6cBW5es", "family_name", "Möbius")}
    assert parsed[0].digest == variants["digest_of_first"]
    assert len({d.digest for d in parsed}) == 4  # digests are over the encoding, not the value


def test_issuance_round_trip_with_decoys_and_recursion(issuer_signer: SoftwareSigner) -> None:
    claims = {"iss": "https://issuer.example", "address": SD({"locality": SD("港区"), "country": "JP"}),
              "nationalities": [SD("JP"), "DE"], "given_name": SD("花子")}
    issued = issue_sd_jwt(claims, signer=issuer_signer, typ="example+sd-jwt")
    top = issued.payload["_sd"]
    assert top == sorted(top)
    assert 2 + 1 <= len(top) <= 2 + 4
    assert len(issued.disclosures) == 4
    check = IssuerCheck(typ=("example+sd-jwt",), keys=(VerificationKey.from_jwk(signer_jwk(issuer_signer)),))
    verified = verify_sd_jwt(issued.compact, issuer=check, key_binding=None, at=NOW)
    assert dict(verified.claims) == {"iss": "https://issuer.example", "address": {"locality": "港区", "country": "JP"},
                                     "nationalities": ["JP", "DE"], "given_name": "花子"}


def test_salts_are_fresh_128_bit_values() -> None:
    _, disclosures = build_payload({"a": SD(1), "b": SD(1)})
    assert len({d.salt for d in disclosures}) == 2
    assert all(len(d.salt) == 22 for d in disclosures)  # 16 bytes, base64url


def test_decoys_can_be_turned_off() -> None:
    payload, _ = build_payload({"a": SD(1)}, randomness=SecureRandomness(max_decoys=0))
    assert len(payload["_sd"]) == 1


@pytest.mark.parametrize("claims", [{"_sd": []}, {"x": {"...": "d"}}, {"_sd_alg": "sha-256"}])
def test_issuer_refuses_reserved_names(claims: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="reserved"):
        build_payload(claims)


def test_sd_only_marks_members_and_elements() -> None:
    with pytest.raises(TypeError):
        build_payload({"a": SD(SD(1))})


# ---------------------------------------------------------------- strict verification


def signed(signer: SoftwareSigner, payload: dict[str, Any], *disclosures: str, typ: str = "example+sd-jwt",
           kb: str = "") -> str:
    """An SD-JWT with a hand-made payload (to break one rule at a time), signed by ``signer``."""
    jwt = encode_jwt(payload, signer, typ=typ, with_kid=False)
    return "".join([jwt, "~", *(d + "~" for d in disclosures), kb])


def d(salt: str, name: str | None, value: Any) -> Disclosure:
    return Disclosure.create(salt, name, value)


def encoded(array: list[Any]) -> str:
    return b64url_encode(json.dumps(array).encode())


def test_duplicate_digest_is_refused(spec_issuer: SoftwareSigner, spec_check: IssuerCheck) -> None:
    a = d("salt-a-0000000000000000", "a", 1)
    token = signed(spec_issuer, {"_sd": [a.digest], "o": {"_sd": [a.digest]}}, a.encoded)
    assert reason_of(lambda: verify_sd_jwt(token, issuer=spec_check, key_binding=None, at=NOW)) \
        is CredentialReason.DUPLICATE_DIGEST


def test_duplicate_digest_via_a_disclosure_is_refused(spec_issuer: SoftwareSigner, spec_check: IssuerCheck) -> None:
    inner = d("salt-inner-000000000000", "x", 1)
    outer = d("salt-outer-000000000000", "o", {"_sd": [inner.digest]})
    token = signed(spec_issuer, {"_sd": [outer.digest, inner.digest]}, outer.encoded, inner.encoded)
    assert reason_of(lambda: verify_sd_jwt(token, issuer=spec_check, key_binding=None, at=NOW)) \
        is CredentialReason.DUPLICATE_DIGEST


def test_unreferenced_disclosure_is_refused(spec_issuer: SoftwareSigner, spec_check: IssuerCheck) -> None:
    a, stray = d("salt-a-0000000000000000", "a", 1), d("salt-b-0000000000000000", "b", 2)
    token = signed(spec_issuer, {"_sd": [a.digest]}, a.encoded, stray.encoded)
    assert reason_of(lambda: verify_sd_jwt(token, issuer=spec_check, key_binding=None, at=NOW)) \
        is CredentialReason.DISCLOSURE_NOT_REFERENCED


def test_tampered_disclosure_is_refused(spec_check: IssuerCheck) -> None:
    """OIDF verifier plan: a Disclosure altered after issuance no longer matches any digest."""
    issued = EXAMPLES[0]["issued"]
    tampered = issued.replace(EXAMPLES[0]["disclosures"][0], encoded(["2GLC42sKQveCfGfryNRN9w", "given_name", "Eve"]))
    assert reason_of(lambda: verify_sd_jwt(tampered, issuer=spec_check, key_binding=None, at=NOW)) \
        is CredentialReason.DISCLOSURE_NOT_REFERENCED


def test_disclosure_sent_twice_is_refused(spec_check: IssuerCheck) -> None:
    issued = EXAMPLES[0]["issued"]
    twice = issued + EXAMPLES[0]["disclosures"][0] + "~"
    assert reason_of(lambda: verify_sd_jwt(twice, issuer=spec_check, key_binding=None, at=NOW)) \
        is CredentialReason.DUPLICATE_DISCLOSURE


@pytest.mark.parametrize(
    ("payload_of", "disclosure", "reason"),
    [
        (lambda x: {"a": 0, "_sd": [x]}, ("salt-000000000000000000", "a", 1), CredentialReason.CLAIM_NAME_COLLISION),
        (lambda x: {"_sd": [x]}, ("salt-000000000000000000", None, 1), CredentialReason.DISCLOSURE_MALFORMED),
        (lambda x: {"l": [{"...": x}]}, ("salt-000000000000000000", "a", 1), CredentialReason.DISCLOSURE_MALFORMED),
        (lambda x: {"l": [{"...": x, "b": 1}]}, ("salt-000000000000000000", None, 1),
         CredentialReason.RESERVED_CLAIM_NAME),
        (lambda x: {"_sd": x}, ("salt-000000000000000000", "a", 1), CredentialReason.RESERVED_CLAIM_NAME),
        (lambda x: {"_sd": [x], "o": {"_sd_alg": "sha-256"}}, ("salt-000000000000000000", "a", 1),
         CredentialReason.RESERVED_CLAIM_NAME),
        (lambda x: {"_sd": [x], "o": {"...": x}}, ("salt-000000000000000000", "a", 1),
         CredentialReason.RESERVED_CLAIM_NAME),
        (lambda x: {"_sd": [x]}, ("salt-000000000000000000", "exp", 2_000_000_000),
         CredentialReason.NON_DISCLOSABLE_CLAIM),
        (lambda x: {"_sd": [x]}, ("salt-000000000000000000", "cnf", {"jwk": {}}),
         CredentialReason.NON_DISCLOSABLE_CLAIM),
        (lambda x: {"_sd": [x], "_sd_alg": "md5"}, ("salt-000000000000000000", "a", 1),
         CredentialReason.UNSUPPORTED_HASH_ALG),
        (lambda x: {"_sd": [x], "_sd_alg": "SHA-256"}, ("salt-000000000000000000", "a", 1),
         CredentialReason.UNSUPPORTED_HASH_ALG),
    ],
    ids=["name collision", "element in _sd", "member in array", "extra key with ...", "_sd not an array",
         "nested _sd_alg", "... in object", "exp disclosed", "cnf disclosed", "md5", "case of _sd_alg"],
)
def test_processing_rules(
    payload_of: Callable[[str], dict[str, Any]], disclosure: tuple[str, str | None, Any], reason: ReasonCode,
    spec_issuer: SoftwareSigner, spec_check: IssuerCheck,
) -> None:
    salt, name, value = disclosure
    array = [salt, value] if name is None else [salt, name, value]
    text = encoded(array)
    token = signed(spec_issuer, payload_of(digest(text, "sha-256")), text)
    assert reason_of(lambda: verify_sd_jwt(token, issuer=spec_check, key_binding=None, at=NOW)) is reason


def test_reserved_name_inside_a_disclosure_is_refused(spec_issuer: SoftwareSigner, spec_check: IssuerCheck) -> None:
    text = encoded(["salt-000000000000000000", "_sd", ["x"]])
    token = signed(spec_issuer, {"_sd": [digest(text, "sha-256")]}, text)
    assert reason_of(lambda: verify_sd_jwt(token, issuer=spec_check, key_binding=None, at=NOW)) \
        is CredentialReason.RESERVED_CLAIM_NAME


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("not base64!", Reason.MALFORMED),
        (b64url_encode(b'{"a": 1}'), CredentialReason.DISCLOSURE_MALFORMED),
        (encoded(["salt"]), CredentialReason.DISCLOSURE_MALFORMED),
        (encoded(["s", "n", 1, 2]), CredentialReason.DISCLOSURE_MALFORMED),
        (encoded([1, "n", 1]), CredentialReason.DISCLOSURE_MALFORMED),
        (encoded(["s", 1, 1]), CredentialReason.DISCLOSURE_MALFORMED),
        (b64url_encode(b'["s", "n", 1] ["x"]'), Reason.MALFORMED),
        (b64url_encode(b'["s", "n", {"a": 1, "a": 2}]'), Reason.DUPLICATE_MEMBER),
        (b64url_encode(b'["s", "n", NaN]'), Reason.MALFORMED),
        (b64url_encode(b'["s", "n", 1], "x": [2]'), Reason.MALFORMED),
        (b64url_encode(b'["s", "n", 1], "": [2]'), Reason.DUPLICATE_MEMBER),
        (b64url_encode('["s", "n", "\udcff"]'.encode("utf-8", "surrogatepass")), Reason.MALFORMED),
    ],
    ids=["not base64url", "object", "one element", "four elements", "salt not a string", "name not a string",
         "two values", "duplicate member", "NaN", "wrapper injection", "wrapper injection 2",
         "invalid UTF-8"],
)
def test_malformed_disclosures(raw: str, reason: ReasonCode) -> None:
    with pytest.raises(MalformedCredential) as info:
        Disclosure.parse(raw, hash_alg="sha-256", limits=L)
    assert info.value.reason is reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("eyJ.e30.sig", Reason.MALFORMED),
        ("a.b~", Reason.MALFORMED),
        ('{"payload": "x"}', Reason.MALFORMED),
    ],
    ids=["no tilde", "two-part JWT", "JSON serialization"],
)
def test_malformed_compact_form(text: str, reason: ReasonCode, spec_check: IssuerCheck) -> None:
    assert reason_of(lambda: verify_sd_jwt(text, issuer=spec_check, key_binding=None, at=NOW)) is reason


def test_empty_disclosure_component_is_refused(spec_check: IssuerCheck) -> None:
    issued = EXAMPLES[0]["issued"]
    assert reason_of(lambda: verify_sd_jwt(issued + "~", issuer=spec_check, key_binding=None, at=NOW)) \
        is Reason.MALFORMED


def test_limits(spec_issuer: SoftwareSigner, spec_check: IssuerCheck) -> None:
    issued = EXAMPLES[0]["issued"]
    tight = CredentialLimits(disclosures=3)
    with pytest.raises(CredentialLimitExceeded) as info:
        verify_sd_jwt(issued, issuer=spec_check, key_binding=None, at=NOW, limits=tight)
    assert info.value.reason is Reason.TOO_LARGE
    assert reason_of(lambda: verify_sd_jwt(issued, issuer=spec_check, key_binding=None, at=NOW,
                                           limits=CredentialLimits(sd_jwt_chars=100))) is Reason.TOO_LARGE
    assert reason_of(lambda: Disclosure.parse("A" * 20, hash_alg="sha-256",
                                              limits=CredentialLimits(disclosure_chars=10))) is Reason.TOO_LARGE


def test_recursion_depth_is_bounded(spec_issuer: SoftwareSigner, spec_check: IssuerCheck) -> None:
    claims: Any = "leaf"
    for _ in range(12):
        claims = {"n": SD(claims)}
    payload, disclosures = build_payload(claims, randomness=SecureRandomness(max_decoys=0))
    token = signed(spec_issuer, payload, *(x.encoded for x in disclosures))
    verify_sd_jwt(token, issuer=spec_check, key_binding=None, at=NOW)  # 12 levels: fine
    assert reason_of(lambda: verify_sd_jwt(token, issuer=spec_check, key_binding=None, at=NOW,
                                           limits=CredentialLimits(depth=8))) is Reason.TOO_DEEP


@pytest.mark.parametrize("alg", ["none", "None", "HS256"])
def test_unsigned_or_symmetric_issuer_jwt_is_refused(alg: str, spec_check: IssuerCheck) -> None:
    """OIDF verifier plan: alg none (in any case) and HMAC are never accepted for the Issuer-signed JWT."""
    jwt = EXAMPLES[0]["issued"].split("~", 1)[0]
    header = b64url_encode(json_bytes({"alg": alg, "typ": "example+sd-jwt"}))
    forged = f"{header}.{jwt.split('.')[1]}.~"
    with pytest.raises(UntrustedIssuer) as info:
        verify_sd_jwt(forged, issuer=spec_check, key_binding=None, at=NOW)
    assert info.value.reason is Reason.ALGORITHM_NOT_ALLOWED


def test_bad_issuer_signature_is_refused(spec_check: IssuerCheck) -> None:
    """OIDF verifier plan: a credential whose signature does not verify."""
    issued = EXAMPLES[0]["issued"]
    jwt, rest = issued.split("~", 1)
    header, _payload, signature = jwt.split(".")
    other = b64url_encode(json_bytes({**json.loads(json.dumps(EXAMPLES[0]["payload"])), "sub": "user_43"}))
    with pytest.raises(UntrustedIssuer) as info:
        verify_sd_jwt(f"{header}.{other}.{signature}~{rest}", issuer=spec_check, key_binding=None, at=NOW)
    assert info.value.reason is Reason.BAD_SIGNATURE


def test_issuer_jwt_claims(issuer_signer: SoftwareSigner) -> None:
    key = VerificationKey.from_jwk(signer_jwk(issuer_signer))
    token = signed(issuer_signer, {"iss": "https://a.example", "exp": int(NOW.timestamp()) - 1})
    check = IssuerCheck(typ=("example+sd-jwt",), keys=(key,))
    with pytest.raises(InvalidCredential) as info:
        verify_sd_jwt(token, issuer=check, key_binding=None, at=NOW)
    assert info.value.reason is Reason.TOKEN_EXPIRED
    fresh = signed(issuer_signer, {"iss": "https://a.example", "nbf": int(NOW.timestamp()) + 60})
    assert reason_of(lambda: verify_sd_jwt(fresh, issuer=check, key_binding=None, at=NOW)) is Reason.TOKEN_NOT_YET_VALID
    wrong_iss = IssuerCheck(typ=("example+sd-jwt",), keys=(key,), issuer="https://b.example")
    assert reason_of(lambda: verify_sd_jwt(fresh, issuer=wrong_iss, key_binding=None, at=NOW + dt.timedelta(hours=1))) \
        is Reason.WRONG_ISSUER
    typed = signed(issuer_signer, {"iss": "https://a.example"}, typ="JWT")
    assert reason_of(lambda: verify_sd_jwt(typed, issuer=check, key_binding=None, at=NOW)) is Reason.TYP_MISMATCH
    required = IssuerCheck(typ=("example+sd-jwt",), keys=(key,), required_claims=("exp",))
    later = NOW + dt.timedelta(hours=1)
    assert reason_of(lambda: verify_sd_jwt(fresh, issuer=required, key_binding=None, at=later)) is Reason.MISSING_CLAIM


def test_unexpected_key_binding_is_refused(spec_check: IssuerCheck) -> None:
    presentation = EXAMPLES[0]["presentations"][0]["compact"]
    with pytest.raises(InvalidKeyBinding) as info:
        verify_sd_jwt(presentation, issuer=spec_check, key_binding=None, at=NOW)
    assert info.value.reason is CredentialReason.UNEXPECTED_KEY_BINDING


def test_holder_releases_paths_and_their_ancestors(spec_check: IssuerCheck) -> None:
    a3 = EXAMPLES[6]
    held = HeldSdJwt.parse(a3["issued"])
    assert held.claims["age_equal_or_over"]["18"] is True
    sd = held.present([("address", "locality")])
    verified = verify_sd_jwt(sd, issuer=IssuerCheck(typ=("dc+sd-jwt",), keys=spec_check.keys), key_binding=None,
                             at=NOW)
    assert verified.claims["address"] == {"locality": "Köln"}  # the address Disclosure came along
    whole = held.present([("place_of_birth",)])
    verified = verify_sd_jwt(whole, issuer=IssuerCheck(typ=("dc+sd-jwt",), keys=spec_check.keys), key_binding=None,
                             at=NOW)
    assert verified.claims["place_of_birth"] == {"locality": "Berlin", "country": "DE"}  # and its sub-claims


def test_holder_refuses_a_key_bound_issuance() -> None:
    with pytest.raises(InvalidKeyBinding):
        HeldSdJwt.parse(EXAMPLES[0]["presentations"][0]["compact"])


def test_disclosure_repr_hides_salt_and_value() -> None:
    disclosure = Disclosure.create("secret-salt-0000000000", "name", "山田太郎")
    assert "secret" not in repr(disclosure)
    assert "山田" not in repr(disclosure)
    assert "山田" not in repr(SD("山田太郎"))
