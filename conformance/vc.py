"""``python -m conformance vc``: our SD-JWT, SD-JWT VC and Token Status List code against the specifications'
examples and against the OWF reference library ``sd-jwt`` (PyPI) as an independent oracle.

Cases:

* **Spec examples** (``conformance/vc_data/*.json``, each file naming its source document and commit): every
  SD-JWT example of RFC 9901 (draft -16 text) and of the SD-JWT VC draft is *reproduced* — our issuer, given the
  published salts (and decoys), yields byte-identical Disclosures, the published digests and the published
  payload — and *verified*: the published SD-JWTs and presentations, with the published keys, give the published
  processed payloads, KB-JWTs and ``sd_hash`` included. The Token Status List test vectors decode to the listed
  statuses and our encoder reproduces their ``lst`` byte for byte; the Status List Token and the Referenced Token
  of the draft verify with their keys, and the token's status is INVALID, as the draft's list says.
* **Oracle, both ways**: credentials we issue (the age and basic facts credentials, presented with a KB-JWT)
  verify with ``sd_jwt.verifier.SDJWTVerifier`` to the claims our verifier returns; SD-JWTs issued and presented
  by ``sd_jwt`` (recursive, array elements, decoys, KB-JWT) verify with ours to the claims the oracle returns.
* **OpenID4VP verifier plan** (:mod:`conformance.vp_modules`): every module of the OIDF
  ``oid4vp-1final-verifier-test-plan`` and the extra negative cases, each presentation sent as a ``direct_post.jwt``
  response and checked for the reason our verifier must give; a presentation replayed into a second transaction is
  refused; the encrypted response example of OpenID4VP 1.0 §8.3 decrypts with its published key, and responses
  encrypted by ``jwcrypto`` (an independent JOSE library) with A128GCM and A256GCM decrypt with ours.

Output: one line per case, then exactly ``vc: N passed, M failed``; the exit status is non-zero on any failure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import traceback
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from conformance.vp_modules import ISSUER, MODULES, Holder, Module, Request, age_query
from credentials.catalog import age_credential, age_vct, basic_facts_credential, basic_facts_vct
from credentials.dcql import DcqlQuery
from credentials.errors import CredentialReason, CredentialRevoked
from credentials.jose import unverified_header
from credentials.limits import DEFAULT_CREDENTIAL_LIMITS
from credentials.oid4vp import (
    ENC_VALUES,
    PresentationError,
    ResponseKey,
    ResponseMode,
    client_metadata,
    encrypt_response,
    parse_response,
    random_value,
    verify_vp_token,
)
from credentials.sdjwt import (
    SD,
    Disclosure,
    HeldSdJwt,
    IssuerCheck,
    KeyBindingPolicy,
    build_payload,
    key_binding_jwt,
    verify_sd_jwt,
)
from credentials.sdjwt.compact import CompactSdJwt
from credentials.sdjwtvc import IssuerKeys, JwtVcIssuerMetadata, issue_sd_jwt_vc, verify_sd_jwt_vc
from credentials.status import StatusChecker, StatusList, StatusReference, verify_status_list_token
from credentials.verify import VerifierPolicy
from keys.jose.b64 import b64url_decode, b64url_encode
from keys.jose.jwk import VerificationKey, public_jwk
from keys.service.signer import SoftwareSigner
from keys.x509.facts import BasicFacts, Era, Sex

#: The spec examples, one JSON file per specification.
DATA = Path(__file__).resolve().parent / "vc_data"

Check = Callable[[], None]


def load(name: str) -> dict[str, Any]:
    """One data file of :data:`DATA`."""
    data: dict[str, Any] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return data


def claims_from_json(value: Any) -> Any:
    """The data files mark selectively disclosable values as ``{"!sd": value}`` (the spec sources' ``!sd`` tag)."""
    if isinstance(value, dict):
        if list(value) == ["!sd"]:
            return SD(claims_from_json(value["!sd"]))
        return {k: claims_from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [claims_from_json(v) for v in value]
    return value


class ScriptedRandomness:
    """The salts and decoy digests an example publishes, handed out in issuance order."""

    def __init__(self, salts: list[str], decoys: list[list[str]]) -> None:
        self._salts = list(salts)
        self._decoys = [list(d) for d in decoys]

    def salt(self) -> str:
        """The next published salt."""
        return self._salts.pop(0)

    def decoys(self, hash_alg: str) -> list[str]:
        """The next object's published decoys (none when the example has no more)."""
        return self._decoys.pop(0) if self._decoys else []


def expect(condition: bool, what: str) -> None:
    """Fail the case with ``what`` unless ``condition``."""
    if not condition:
        raise AssertionError(what)


def at_unix(seconds: int) -> dt.datetime:
    """A UTC datetime from a NumericDate."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def reproduce(example: Mapping[str, Any]) -> None:
    """Our issuer with the published salts gives the published Disclosures, digests and payload."""
    salts = [Disclosure.parse(d, hash_alg="sha-256", limits=DEFAULT_CREDENTIAL_LIMITS).salt
             for d in example["disclosures"]]
    payload, disclosures = build_payload(
        claims_from_json(example["claims"]), randomness=ScriptedRandomness(salts, example["decoys"])
    )
    expect([d.encoded for d in disclosures] == example["disclosures"], "Disclosures differ")
    expect([d.digest for d in disclosures] == example["digests"], "digests differ")
    expect(payload == example["payload"], "payload differs")


def check_presentation(text: str, presentation: Mapping[str, Any], claims: Mapping[str, Any]) -> None:
    """The processed payload and, with Key Binding, the ``sd_hash`` are the published ones."""
    expect(dict(claims) == presentation["expected"], "processed payload differs")
    kb = presentation["key_binding"]
    if kb is not None:
        expect(CompactSdJwt.parse(text, DEFAULT_CREDENTIAL_LIMITS).sd_hash("sha-256") == kb["sd_hash"], "sd_hash")


def kb_policy(presentation: Mapping[str, Any]) -> tuple[KeyBindingPolicy | None, dt.datetime]:
    """The KB policy and verification time of a published presentation."""
    kb = presentation["key_binding"]
    if kb is None:
        return None, at_unix(1_700_000_000)
    return KeyBindingPolicy(audience=kb["aud"], nonce=kb["nonce"]), at_unix(kb["iat"])


def sd_jwt_cases() -> Iterator[tuple[str, Check]]:
    """RFC 9901 examples."""
    data = load("sd_jwt.json")
    key = VerificationKey.from_jwk(data["issuer_key"])
    variants = data["disclosure_variants"]

    def disclosure_variants() -> None:
        obj, element = variants["object"], variants["element"]
        for encoded in obj["encodings"]:
            parsed = Disclosure.parse(encoded, hash_alg="sha-256", limits=DEFAULT_CREDENTIAL_LIMITS)
            expect((parsed.salt, parsed.name, parsed.value) == (obj["salt"], obj["name"], obj["value"]), "variant")
        first = Disclosure.parse(obj["encodings"][0], hash_alg="sha-256", limits=DEFAULT_CREDENTIAL_LIMITS)
        expect(first.digest == obj["digest_of_first"], "§4.2.3 digest")
        ours = Disclosure.create(obj["salt"], obj["name"], obj["value"])
        expect(ours.encoded in obj["encodings"], "our encoding is not one of the published ones")
        array = Disclosure.create(element["salt"], None, element["value"])
        expect((array.encoded, array.digest) == (element["encoded"], element["digest"]), "§4.2.2 Disclosure")

    yield f"sd-jwt {variants['section']} Disclosure encodings", disclosure_variants
    for example in data["examples"]:
        check = IssuerCheck(typ=(example["typ"],), keys=(key,))
        yield f"{example['name']}: reproduce", partial(reproduce, example)
        if "issued" in example:
            def issued(e: Mapping[str, Any] = example, c: IssuerCheck = check) -> None:
                verified = verify_sd_jwt(e["issued"], issuer=c, key_binding=None, at=at_unix(1_700_000_000))
                expect(len(verified.disclosures) == len(e["disclosures"]), "every Disclosure is placed")
            yield f"{example['name']}: verify issued", issued
        for n, presentation in enumerate(example.get("presentations", ())):
            def present(p: Mapping[str, Any] = presentation, c: IssuerCheck = check) -> None:
                policy, at = kb_policy(p)
                verified = verify_sd_jwt(p["compact"], issuer=c, key_binding=policy, at=at)
                check_presentation(p["compact"], p, verified.claims)
            yield f"{example['name']}: verify presentation {n + 1}", present


def sd_jwt_vc_cases() -> Iterator[tuple[str, Check]]:
    """SD-JWT VC draft examples, keys resolved as JWT VC Issuer Metadata."""
    data = load("sd_jwt_vc.json")
    example_key = load("sd_jwt.json")["issuer_key"]
    published = data["issuer_metadata"]["document"]

    def issuer_keys(compact: str, iss: str) -> IssuerKeys:
        # §5.2's JWK Set for a JWT that names its kid; the one example key for a JWT that names none
        jwks = published["jwks"] if "kid" in _header(compact) else {"keys": [example_key]}
        return IssuerKeys(metadata={iss: JwtVcIssuerMetadata.parse({"issuer": iss, "jwks": jwks})})

    for example in data["examples"]:
        iss = example["claims"]["iss"]
        yield f"{example['name']}: reproduce", partial(reproduce, example)

        def issued(e: Mapping[str, Any] = example, iss: str = iss) -> None:
            verified = verify_sd_jwt_vc(e["issued"], issuer_keys=issuer_keys(e["issued"], iss), key_binding=None,
                                        at=at_unix(1_700_000_000))
            expect(verified.vct == e["claims"]["vct"], "vct")
        yield f"{example['name']}: verify issued (JWT VC Issuer Metadata)", issued
        for n, presentation in enumerate(example["presentations"]):
            def present(p: Mapping[str, Any] = presentation, iss: str = iss) -> None:
                policy, at = kb_policy(p)
                verified = verify_sd_jwt_vc(p["compact"], issuer_keys=issuer_keys(p["compact"], iss),
                                            key_binding=policy, at=at)
                check_presentation(p["compact"], p, verified.claims)
            yield f"{example['name']}: verify presentation {n + 1}", present


def status_list_cases() -> Iterator[tuple[str, Check]]:
    """Token Status List draft examples and test vectors."""
    data = load("status_list.json")
    for vector in data["encodings"]:
        def encoding(v: Mapping[str, Any] = vector) -> None:
            decoded = StatusList.from_json({"bits": v["bits"], "lst": v["lst"]})
            expect(len(decoded) >= v["size"], "list shorter than the vector")
            statuses = {int(i): s for i, s in v["statuses"].items()}
            expect(all(decoded[i] == s for i, s in statuses.items()), "a listed status differs")
            nonzero = {i for i in range(len(decoded)) if decoded[i]}
            expect(nonzero == {i for i, s in statuses.items() if s}, "unlisted entries are not VALID")
            ours = StatusList(v["size"], v["bits"])
            for i, s in statuses.items():
                ours[i] = s
            expect(ours.to_json() == {"bits": v["bits"], "lst": v["lst"]}, "our encoding differs")
        yield f"status list {vector['section']}", encoding
    token_data, referenced = data["status_list_token"], data["referenced_token"]
    key = VerificationKey.from_jwk(data["status_list_key"])
    claims = token_data["claims"]
    at = at_unix(claims["iat"] + 60)

    def token() -> None:
        verified = verify_status_list_token(token_data["token"], uri=claims["sub"], at=at, keys=(key,))
        expect(dict(verified.claims) == claims, "claims differ")
        expect(verified.ttl == dt.timedelta(seconds=claims["ttl"]) and verified.status_list[0] == 1, "ttl/status")
    yield f"status list token {token_data['section']}", token

    def referenced_token() -> None:
        sd_key = VerificationKey.from_jwk(load("sd_jwt.json")["issuer_key"])
        verified = verify_sd_jwt(referenced["compact"], issuer=IssuerCheck(typ=(referenced["typ"],), keys=(sd_key,)),
                                 key_binding=None, at=at)
        expect(verified.claims["status"] == referenced["status"], "status claim")
        checker = StatusChecker(fetch=lambda uri: token_data["token"], keys=(key,))
        reference = StatusReference.from_claim(verified.claims["status"])
        expect(checker.status(reference, at) == referenced["expected_status"], "status value")
        try:
            checker.check(reference, at)
        except CredentialRevoked as exc:
            expect(exc.reason is CredentialReason.STATUS_INVALID, "reason")
        else:
            raise AssertionError("an INVALID status passed")
    yield f"status list referenced token {referenced['section']}", referenced_token


def oracle_cases() -> Iterator[tuple[str, Check]]:
    """``sd-jwt`` (OWF reference library) as an independent oracle, both ways."""
    yield "oracle: our age credential verifies with sd-jwt", lambda: ours_to_oracle("age")
    yield "oracle: our basic facts credential verifies with sd-jwt", lambda: ours_to_oracle("basic")
    yield "oracle: sd-jwt's SD-JWT+KB verifies with ours", oracle_to_ours


def ours_to_oracle(kind: str) -> None:
    """Issue with our code, present with a KB-JWT, verify with the oracle; both verifiers agree on the claims."""
    from jwcrypto.jwk import JWK  # type: ignore[import-untyped]
    from sd_jwt.verifier import SDJWTVerifier  # type: ignore[import-untyped]

    issuer_key, holder_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    signer, holder = SoftwareSigner(issuer_key, "ES256", "issuer-1"), SoftwareSigner(holder_key, "ES256", "holder")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    issuer, not_after = "https://id.example.jp", now + dt.timedelta(days=400)
    if kind == "age":
        draft = age_credential("2001-04-01", vct=age_vct(issuer), at=now, not_after=not_after)
        paths: list[tuple[str | int, ...]] = [("age_equal_or_over", "18")]
    else:
        facts = BasicFacts(name="山田\u3000太郎", name_substitution="00000", sex=Sex.MALE, birth_era=Era.HEISEI,
                           birth_date="1990-12-31", address="東京都港区芝公園四丁目２番８号",
                           address_substitution="0" * 15, birth_date_raw="419901231")
        draft = basic_facts_credential(facts, vct=basic_facts_vct(issuer), at=now, not_after=not_after,
                                       include_sex=True)
        paths = [("name",), ("address",), ("jp_name_substitution",)]
    issued = issue_sd_jwt_vc(draft, signer=signer, holder_jwk=public_jwk(holder_key.public_key()), issuer=issuer)
    presentation = HeldSdJwt.parse(issued.compact).present(paths)
    presentation += key_binding_jwt(presentation, signer=holder, audience="https://rp.example", nonce="n-0S6", iat=now)
    oracle_key = JWK.from_pyca(issuer_key.public_key())
    oracle = SDJWTVerifier(presentation, lambda iss, header: oracle_key, expected_aud="https://rp.example",
                           expected_nonce="n-0S6")
    metadata = JwtVcIssuerMetadata.parse({"issuer": issuer, "jwks": {"keys": [public_jwk(issuer_key.public_key(),
                                                                                        kid="issuer-1")]}})
    ours = verify_sd_jwt_vc(presentation, issuer_keys=IssuerKeys(metadata={issuer: metadata}),
                            key_binding=KeyBindingPolicy(audience="https://rp.example", nonce="n-0S6"), at=now)
    expect(oracle.get_verified_payload() == dict(ours.claims), "the oracle and we disagree on the claims")
    expect(len(ours.sd_jwt.disclosures) >= len(paths), "the selected claims are disclosed")


def oracle_to_ours() -> None:
    """Issue and present with the oracle (recursive, array elements, decoys, KB-JWT); verify with ours."""
    from jwcrypto.jwk import JWK
    from sd_jwt.common import SDObj  # type: ignore[import-untyped]
    from sd_jwt.holder import SDJWTHolder  # type: ignore[import-untyped]
    from sd_jwt.issuer import SDJWTIssuer  # type: ignore[import-untyped]
    from sd_jwt.verifier import SDJWTVerifier

    issuer_key, holder_key = JWK.generate(kty="EC", crv="P-256"), JWK.generate(kty="EC", crv="P-256")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    claims = {
        "iss": "https://oracle.example", "iat": int(now.timestamp()), "exp": int(now.timestamp()) + 3600,
        "vct": "https://oracle.example/vct/test", SDObj("given_name"): "花子", SDObj("family_name"): "鈴木",
        SDObj("address"): {SDObj("locality"): "港区", "country": "JP"},
        "nationalities": [SDObj("JP"), "DE"], SDObj("age_equal_or_over"): {SDObj("18"): True, SDObj("20"): False},
    }
    issuance = SDJWTIssuer(claims, issuer_key, holder_key, add_decoy_claims=True,
                           extra_header_parameters={"typ": "dc+sd-jwt"}).sd_jwt_issuance
    holder = SDJWTHolder(issuance)
    holder.create_presentation({"address": {"locality": True}, "nationalities": [True],
                                "age_equal_or_over": {"18": True}}, nonce="xyz", aud="https://rp.example",
                               holder_key=holder_key)
    presentation = holder.sd_jwt_presentation
    key = VerificationKey.from_jwk(json.loads(issuer_key.export_public()))
    check = IssuerCheck(typ=("dc+sd-jwt",), keys=(key,))
    ours = verify_sd_jwt(presentation, issuer=check, key_binding=KeyBindingPolicy(audience="https://rp.example",
                         nonce="xyz"), at=now)
    oracle = SDJWTVerifier(presentation, lambda iss, header: issuer_key, expected_aud="https://rp.example",
                           expected_nonce="xyz")
    expect(dict(ours.claims) == oracle.get_verified_payload(), "the oracle and we disagree on the claims")
    expect(ours.claims["age_equal_or_over"] == {"18": True} and ours.claims["nationalities"] == ["JP", "DE"], "claims")
    full = verify_sd_jwt(issuance, issuer=check, key_binding=None, at=now)
    everything = SDJWTVerifier(issuance, lambda iss, header: issuer_key).get_verified_payload()
    expect(dict(full.claims) == everything, "the full issuance differs")


def verifier_cases() -> Iterator[tuple[str, Check]]:
    """The OIDF OID4VP 1.0 verifier plan's modules and the response-encryption interop cases."""
    holder = Holder(status_uri=f"{ISSUER}/status/1")
    token = holder.status_list_token()
    trust = holder.pki.trust_store()
    policy = VerifierPolicy(issuer_keys=IssuerKeys(trust=trust))
    query = DcqlQuery.parse(age_query())

    def verify(presentation: str, request: Request, key: ResponseKey) -> None:
        response = encrypt_response({"vp_token": {"age": [presentation]}, "state": "s"}, client_metadata(key))
        parsed = parse_response({"response": response}, mode=ResponseMode.DIRECT_POST_JWT, key=key)
        verify_vp_token(parsed.vp_token, query=query, policy=policy, client_id=request.client_id,
                        nonce=request.nonce, at=holder.at, status=StatusChecker(fetch=lambda uri: token, trust=trust))

    def run(module: Module) -> None:
        request, key = Request(f"x509_hash:{b64url_encode(random_value().encode())}", random_value()), \
            ResponseKey.generate()
        try:
            verify(module.build(holder, request), request, key)
        except PresentationError as exc:
            expect(exc.reason.value == module.reason, f"refused with {exc.reason.value}, expected {module.reason}")
        else:
            expect(module.reason is None, f"accepted; expected {module.reason}")

    for module in MODULES:
        yield f"oid4vp verifier: {module.name}", partial(run, module)

    def replay() -> None:
        first = Request("redirect_uri:https://rp.example/r", random_value())
        presentation = holder.present(holder.credential(), first)
        verify(presentation, first, ResponseKey.generate())
        try:
            verify(presentation, Request(first.client_id, random_value()), ResponseKey.generate())
        except PresentationError as exc:
            expect(exc.reason.value == "nonce_mismatch", "replay refused for the wrong reason")
        else:
            raise AssertionError("a replayed presentation was accepted")
    yield "oid4vp verifier: presentation replayed into another transaction", replay

    vector = load("oid4vp.json")["encrypted_response"]

    def spec_example() -> None:
        jwk = vector["private_jwk"]
        key = ResponseKey(jwk["kid"], ec_private_key(jwk))
        expect(key.decrypt(vector["response"], enc_values=vector["enc_values"]) == vector["payload"], "payload")
        expect(_jwe_header(vector["response"]) == vector["header"], "header")
    yield f"oid4vp {vector['section']} encrypted response example", spec_example

    def jwcrypto_interop(enc: str) -> None:
        from jwcrypto import jwe as jwcrypto_jwe  # type: ignore[import-untyped]
        from jwcrypto.jwk import JWK

        key = ResponseKey.generate()
        peer = JWK(**key.public_jwk())
        sent = jwcrypto_jwe.JWE(json.dumps({"vp_token": {"age": ["x"]}}).encode(),
                                protected={"alg": "ECDH-ES", "enc": enc, "kid": key.kid})
        sent.add_recipient(peer)
        expect(key.decrypt(sent.serialize(compact=True)) == {"vp_token": {"age": ["x"]}}, "jwcrypto payload")
        ours = encrypt_response({"state": "s"}, client_metadata(key, enc_values=[enc]))
        received = jwcrypto_jwe.JWE()
        received.deserialize(ours, key=JWK.from_pyca(key.private_key))
        expect(json.loads(received.payload) == {"state": "s"}, "jwcrypto reads ours")
    for enc in ENC_VALUES:
        yield f"oid4vp direct_post.jwt interop with jwcrypto ({enc})", partial(jwcrypto_interop, enc)


def ec_private_key(jwk: Mapping[str, Any]) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from a JWK with ``d`` (the published example keys)."""
    public = ec.EllipticCurvePublicNumbers(int.from_bytes(b64url_decode(jwk["x"], "x"), "big"),
                                           int.from_bytes(b64url_decode(jwk["y"], "y"), "big"), ec.SECP256R1())
    return ec.EllipticCurvePrivateNumbers(int.from_bytes(b64url_decode(jwk["d"], "d"), "big"), public).private_key()


def _jwe_header(compact: str) -> dict[str, Any]:
    header: dict[str, Any] = json.loads(b64url_decode(compact.split(".", 1)[0], "JWE header"))
    return header


def _header(compact: str) -> dict[str, Any]:
    return unverified_header(compact.split("~", 1)[0], DEFAULT_CREDENTIAL_LIMITS.jose)


def cases() -> Iterator[tuple[str, Check]]:
    """Every case of the suite."""
    yield from sd_jwt_cases()
    yield from sd_jwt_vc_cases()
    yield from status_list_cases()
    yield from oracle_cases()
    yield from verifier_cases()


def main(argv: list[str]) -> int:
    """Run every case; print one line each and the closing ``vc: N passed, M failed`` line."""
    parser = argparse.ArgumentParser(prog="python -m conformance vc", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="print tracebacks of failures")
    args = parser.parse_args(argv)
    passed = failed = 0
    for name, check in cases():
        try:
            check()
        except Exception as exc:  # a failing case is reported, never crashes the suite
            failed += 1
            print(f"FAIL {name}: {type(exc).__name__}: {exc}")
            if args.verbose:
                traceback.print_exc()
        else:
            passed += 1
            print(f"ok   {name}")
    print(f"vc: {passed} passed, {failed} failed")
    return 1 if failed else 0
