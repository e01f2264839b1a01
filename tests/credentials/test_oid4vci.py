"""OID4VCI 1.0 protocol code, unit by unit: jwt proofs and key attestations, offers and deep links,
authorization details, request parsing, configurations and their datasets, metadata."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from credentials.catalog.basic import ReleasedFacts
from credentials.oid4vci.authorization_details import InvalidAuthorizationDetails, parse_authorization_details
from credentials.oid4vci.configurations import AGE, BASIC4, CredentialSource
from credentials.oid4vci.errors import IssuanceError, IssuanceReason
from credentials.oid4vci.metadata import integrity, type_metadata_bytes
from credentials.oid4vci.offer import CredentialOffer, TxCode, offer_link, parse_offer_link
from credentials.oid4vci.proof import KeyAttestationPolicy, ProofPolicy, verify_jwt_proof, verify_proofs
from credentials.oid4vci.request import parse_credential_request, parse_notification_request
from credentials.wallet.attestation import KeyAttester
from credentials.wallet.keys import HolderKey, proof_jwt
from keys.errors import Reason
from keys.trust import TrustStore, fingerprint

ISSUER = "https://id.example.jp"
NOW = dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.UTC)
POLICY = ProofPolicy(audience=ISSUER)


def proof(key: HolderKey | None = None, **changes: Any) -> str:
    return proof_jwt(key or HolderKey.generate(), audience=changes.get("audience", ISSUER),
                     nonce=changes.get("nonce", "n-1"), at=changes.get("at", NOW), client_id=changes.get("client"),
                     key_attestation=changes.get("attestation"))


def reason_of(call: Any) -> IssuanceReason | Reason:
    with pytest.raises(IssuanceError) as caught:
        call()
    return caught.value.reason


# --- proofs ------------------------------------------------------------------------------------------------------


def test_a_good_proof() -> None:
    key = HolderKey.generate()
    verified = verify_jwt_proof(proof(key, client="wallet"), policy=POLICY, at=NOW, client_id="wallet")
    assert verified.jkt == key.thumbprint
    assert verified.nonce == "n-1"
    assert set(verified.jwk) == {"kty", "crv", "x", "y"}


@pytest.mark.parametrize(("changes", "reason"), [
    ({"audience": "https://evil.example"}, Reason.WRONG_AUDIENCE),
    ({"at": NOW - dt.timedelta(minutes=6)}, Reason.TOKEN_EXPIRED),
    ({"at": NOW + dt.timedelta(minutes=2)}, Reason.TOKEN_ISSUED_IN_FUTURE),
    ({"client": "someone-else"}, IssuanceReason.WRONG_PROOF_ISSUER),
])
def test_proof_claims(changes: dict[str, Any], reason: Reason | IssuanceReason) -> None:
    assert reason_of(lambda: verify_jwt_proof(proof(**changes), policy=POLICY, at=NOW, client_id="wallet")) == reason


def test_proof_without_nonce_and_with_other_typ() -> None:
    key = HolderKey.generate()
    no_nonce = key.sign({"aud": ISSUER, "iat": int(NOW.timestamp())}, typ="openid4vci-proof+jwt")
    assert reason_of(lambda: verify_jwt_proof(no_nonce, policy=POLICY, at=NOW, client_id=None)) == \
        IssuanceReason.MISSING_NONCE
    other = key.sign({"aud": ISSUER, "iat": int(NOW.timestamp()), "nonce": "n"}, typ="JWT")
    assert reason_of(lambda: verify_jwt_proof(other, policy=POLICY, at=NOW, client_id=None)) == Reason.TYP_MISMATCH


def test_key_type_allow_list() -> None:
    strict = ProofPolicy(audience=ISSUER, key_types=frozenset({("OKP", "Ed25519")}))
    assert reason_of(lambda: verify_jwt_proof(proof(), policy=strict, at=NOW, client_id=None)) == \
        IssuanceReason.KEY_TYPE_NOT_ALLOWED


def test_batch_refuses_one_key_twice() -> None:
    key = HolderKey.generate()
    assert reason_of(lambda: verify_proofs([proof(key), proof(key)], policy=POLICY, at=NOW, client_id=None)) == \
        IssuanceReason.DUPLICATE_KEY
    assert len(verify_proofs([proof(), proof()], policy=POLICY, at=NOW, client_id=None)) == 2


# --- key attestations --------------------------------------------------------------------------------------------


def attestation_certificate(name: str, key: ec.EllipticCurvePrivateKey,
                            issuer: tuple[str, ec.EllipticCurvePrivateKey] | None, ca: bool) -> x509.Certificate:
    """A certificate of a test wallet-provider hierarchy (self-signed root when ``issuer`` is None)."""
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Wallet Provider TEST"),
                         x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name = subject if issuer is None else x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Wallet Provider TEST"),
        x509.NameAttribute(NameOID.COMMON_NAME, issuer[0])])
    signer = key if issuer is None else issuer[1]
    builder = x509.CertificateBuilder()
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.UniformResourceIdentifier("https://wallet-provider.test")]), critical=False)
    return (builder.subject_name(subject).issuer_name(issuer_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
            .sign(signer, hashes.SHA256()))


@pytest.fixture(scope="module")
def attester() -> tuple[KeyAttester, TrustStore]:
    root_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root = attestation_certificate("attestation root", root_key, None, True)
    leaf = attestation_certificate("attester", leaf_key, ("attestation root", root_key), False)
    trust = TrustStore.build([("root", root.public_bytes(Encoding.DER))], allow_test_roots=True,
                             extra_pins={fingerprint(root): "wallet provider"})
    return KeyAttester(leaf_key, (leaf,), key_storage=("iso_18045_high",)), trust


def test_key_attestations(attester: tuple[KeyAttester, TrustStore]) -> None:
    made, trust = attester
    key, other = HolderKey.generate(), HolderKey.generate()
    required = ProofPolicy(audience=ISSUER, attestation=KeyAttestationPolicy(required=True, trust=trust,
                                                                             key_storage=frozenset({"iso_18045_high"})))
    good = proof(key, attestation=made.attest([key, other], nonce="n-1", at=NOW))
    assert verify_jwt_proof(good, policy=required, at=NOW, client_id=None).attestation is not None
    cases = {
        IssuanceReason.KEY_ATTESTATION_REQUIRED: proof(key),
        IssuanceReason.KEY_NOT_ATTESTED: proof(key, attestation=made.attest([other], nonce="n-1", at=NOW)),
        IssuanceReason.ATTESTATION_NONCE_MISMATCH: proof(key, attestation=made.attest([key], nonce="n-2", at=NOW)),
        Reason.TOKEN_EXPIRED: proof(key, attestation=made.attest([key], nonce="n-1", at=NOW - dt.timedelta(hours=1))),
    }
    for reason, candidate in cases.items():
        assert reason_of(lambda c=candidate: verify_jwt_proof(c, policy=required, at=NOW, client_id=None)) == reason
    weak = KeyAttester(made.key, made.chain, key_storage=("iso_18045_basic",))
    low = proof(key, attestation=weak.attest([key], nonce="n-1", at=NOW))
    assert reason_of(lambda: verify_jwt_proof(low, policy=required, at=NOW, client_id=None)) == \
        IssuanceReason.KEY_STORAGE_INSUFFICIENT
    stranger = KeyAttester(ec.generate_private_key(ec.SECP256R1()), made.chain)
    forged = proof(key, attestation=stranger.attest([key], nonce="n-1", at=NOW))
    assert reason_of(lambda: verify_jwt_proof(forged, policy=required, at=NOW, client_id=None)) == \
        Reason.BAD_SIGNATURE


# --- offers ------------------------------------------------------------------------------------------------------


def test_offer_links_by_value_and_reference() -> None:
    offer = CredentialOffer(ISSUER, ("jp_age",), pre_authorized_code="code-1", tx_code=TxCode("numeric", 6, "PC"))
    link = offer_link(offer=offer)
    assert link.startswith("openid-credential-offer://?credential_offer=")
    assert parse_offer_link(link) == offer
    assert "tx_code" in json.dumps(offer.to_json())
    reference = offer_link(uri=f"{ISSUER}/credential-offer/abc")
    assert parse_offer_link(reference) == f"{ISSUER}/credential-offer/abc"
    with pytest.raises(IssuanceError):
        parse_offer_link("openid-credential-offer://?credential_offer_uri=http%3A%2F%2Fevil.example%2Fo")
    with pytest.raises(IssuanceError):
        CredentialOffer.parse({"credential_issuer": ISSUER, "credential_configuration_ids": ["a", "a"]})
    assert CredentialOffer.parse({"credential_issuer": "http://127.0.0.1:8000",
                                  "credential_configuration_ids": ["a"]}, allow_http=True).credential_issuer


# --- authorization details and requests ---------------------------------------------------------------------------


def test_authorization_details() -> None:
    parsed = parse_authorization_details(json.dumps([
        {"type": "openid_credential", "credential_configuration_id": "jp_basic4", "claims": [{"path": ["name"]}]}]),
        issuer=ISSUER)
    assert parsed[0].claims == (("name",),)
    assert BASIC4.consent_for(parsed[0].claims) == ("name",)
    for bad in ([], [{"type": "payment"}], [{"type": "openid_credential", "credential_configuration_id": "x"}],
                [{"type": "openid_credential", "credential_configuration_id": "jp_age"}] * 2,
                [{"type": "openid_credential", "credential_configuration_id": "jp_age", "locations": ["https://x"]}]):
        with pytest.raises(InvalidAuthorizationDetails):
            parse_authorization_details(bad, issuer=ISSUER)


def test_request_parsing() -> None:
    parsed = parse_credential_request({"credential_identifier": "id-1", "proofs": {"jwt": ["a.b.c"]}, "x": 1},
                                      batch_size=2)
    assert parsed.proofs == ("a.b.c",)
    assert reason_of(lambda: parse_credential_request({"credential_identifier": "i"}, batch_size=2)) == \
        IssuanceReason.MISSING_PROOF
    assert reason_of(lambda: parse_credential_request(
        {"credential_identifier": "i", "proofs": {"jwt": ["a", "b", "c"]}}, batch_size=2)) == \
        IssuanceReason.TOO_MANY_PROOFS
    assert parse_notification_request({"notification_id": "n", "event": "credential_deleted"}).event == \
        "credential_deleted"


# --- configurations ------------------------------------------------------------------------------------------------


SOURCE = CredentialSource(ReleasedFacts("山田\u3000花子", "00000", "2008-11-25", "東京都", "000", 2),
                          NOW + dt.timedelta(days=400))


def test_age_dataset_keeps_only_the_birth_date() -> None:
    dataset = AGE.dataset(SOURCE, ["age_over_18", "name", "gender"])
    assert dataset is not None
    assert dataset.facts == ReleasedFacts(birth_date="2008-11-25")
    assert dataset.thresholds == (18,)
    draft = AGE.draft(dataset, issuer=ISSUER, at=NOW, lifetime=dt.timedelta(days=365))
    assert draft.exp <= dt.datetime(2026, 11, 25, tzinfo=dt.timezone(dt.timedelta(hours=9)))  # turns 18 then
    assert AGE.dataset(SOURCE, ["name"]) is None


def test_basic_dataset_keeps_only_what_was_approved() -> None:
    dataset = BASIC4.dataset(SOURCE, ["name", "address"])
    assert dataset is not None
    assert dataset.facts == ReleasedFacts(name=SOURCE.facts.name, name_substitution="00000", address="東京都",
                                          address_substitution="000")
    claims = BASIC4.draft(dataset, issuer=ISSUER, at=NOW, lifetime=dt.timedelta(days=30)).claims
    assert set(claims) == {"name", "address", "jp_name_substitution", "jp_address_substitution"}
    assert BASIC4.dataset(SOURCE, ["age_over_18"]) is None
    with_sex = BASIC4.dataset(SOURCE, ["gender"])
    assert with_sex is not None
    assert with_sex.facts.sex == 2


def test_type_metadata_integrity_is_stable() -> None:
    first = type_metadata_bytes(AGE, ISSUER)
    assert integrity(first) == integrity(type_metadata_bytes(AGE, ISSUER))
    assert json.loads(first)["vct"] == f"{ISSUER}/vct/jp-age"


def test_offer_nested_deeper_than_the_stack_is_a_bad_offer() -> None:
    """Found by the fuzz seed credential_offer/regress-deep-json: json.loads raised RecursionError."""
    with pytest.raises(IssuanceError, match="not JSON"):
        parse_offer_link("openid-credential-offer://?credential_offer=" + "[" * 3000)


def test_offer_link_or_issuer_that_urlsplit_refuses_is_a_bad_offer() -> None:
    """Found by fuzzing (seeds credential_offer/regress-ipv6-*): urlsplit's ValueError ("Invalid IPv6 URL")
    escaped from the link itself and from a credential_offer_uri or credential_issuer with an unclosed bracket."""
    offer = json.dumps({"credential_issuer": "https://[", "credential_configuration_ids": ["age"]})
    for link in ("http://[", "openid-credential-offer://?credential_offer_uri=https%3A%2F%2F%5B",
                 "openid-credential-offer://?credential_offer=" + offer):
        with pytest.raises(IssuanceError):
            parse_offer_link(link)
