"""``credentials.oid4vp``: response encryption refusals, Request Objects checked by an independent JOSE library
(pyjwt), Client Identifier Prefixes, response parsing and VP Token rules beyond the conformance modules."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any
from urllib.parse import urlencode

import jwt as pyjwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from jwcrypto import jwe as jwcrypto_jwe
from jwcrypto.jwk import JWK

from conformance.vp_modules import Holder, Request, age_query
from credentials.dcql import DcqlQuery
from credentials.oid4vp import (
    REQUEST_OBJECT_TYP,
    AuthorizationRequest,
    ClientIdPrefix,
    PresentationError,
    ResponseKey,
    ResponseMode,
    VerifierIdentity,
    client_metadata,
    encrypt_response,
    parse_response,
    random_value,
    verify_vp_token,
    wallet_url,
    x509_hash,
)
from credentials.oid4vp.request import STATIC_AUDIENCE
from credentials.sdjwtvc import IssuerKeys
from credentials.verify import VerifierPolicy
from keys.jose.b64 import b64url_decode, b64url_encode
from keys.testpki.vc import VcTestPki


def _jwcrypto_response(key: ResponseKey, payload: bytes, **header: Any) -> str:
    protected = {"alg": "ECDH-ES", "enc": "A256GCM", "kid": key.kid, **header}
    token = jwcrypto_jwe.JWE(payload, protected=protected)
    token.add_recipient(JWK(**{k: v for k, v in key.public_jwk().items() if k not in ("alg", "use")}))
    return str(token.serialize(compact=True))


@pytest.mark.parametrize(
    ("header", "payload"),
    [
        ({"kid": "another"}, b"{}"),
        ({"enc": "A128CBC-HS256"}, b"{}"),
        ({"alg": "ECDH-ES+A128KW"}, b"{}"),
        ({"zip": "DEF"}, b"{}"),
        ({}, b"[1, 2]"),
        ({}, b'{"a": 1, "a": 2}'),
    ],
    ids=["unknown kid", "CBC enc", "key wrapping", "zip", "not an object", "duplicate member"],
)
def test_decryption_refusals(header: dict[str, str], payload: bytes) -> None:
    key = ResponseKey.generate()
    with pytest.raises(PresentationError) as info:
        key.decrypt(_jwcrypto_response(key, payload, **header))
    assert info.value.reason.value == "response_not_decryptable"


def test_tampered_and_malformed_responses_are_refused() -> None:
    key = ResponseKey.generate()
    good = _jwcrypto_response(key, b'{"state": "s"}')
    assert key.decrypt(good) == {"state": "s"}
    head, enc_key, iv, ciphertext, tag = good.split(".")
    flipped = bytearray(b64url_decode(ciphertext, "c"))
    flipped[0] ^= 1
    for broken in (f"{head}.{enc_key}.{iv}.{b64url_encode(bytes(flipped))}.{tag}", f"{head}.{iv}.{ciphertext}.{tag}",
                   f"{head}.AAAA.{iv}.{ciphertext}.{tag}", 42):
        with pytest.raises(PresentationError) as info:
            key.decrypt(broken)
        assert info.value.reason.value == "response_not_decryptable"
    with pytest.raises(PresentationError) as too_large:
        key.decrypt("a" * 10_000_000)
    assert too_large.value.reason.value == "too_large"
    other = ResponseKey.generate()
    with pytest.raises(PresentationError):
        ResponseKey(key.kid, other.private_key).decrypt(good)  # the right kid, another key: the tag fails


def test_epk_on_another_curve_is_refused() -> None:
    key = ResponseKey.generate()
    head, *rest = _jwcrypto_response(key, b"{}").split(".")
    header = json.loads(b64url_decode(head, "h"))
    header["epk"]["crv"] = "P-384"
    forged = b64url_encode(json.dumps(header).encode())
    with pytest.raises(PresentationError, match="P-256"):
        key.decrypt(".".join([forged, *rest]))


def test_response_key_round_trip_and_metadata() -> None:
    key = ResponseKey.generate()
    again = ResponseKey.from_private_bytes(key.kid, key.private_bytes())
    assert again.public_jwk() == key.public_jwk()
    assert key.public_jwk()["use"] == "enc"
    assert key.public_jwk()["alg"] == "ECDH-ES"
    metadata = client_metadata(key)
    assert metadata["encrypted_response_enc_values_supported"] == ["A128GCM", "A256GCM"]  # HAIP: both listed
    assert metadata["vp_formats_supported"]["dc+sd-jwt"] == {"sd-jwt_alg_values": ["ES256"],
                                                            "kb-jwt_alg_values": ["ES256"]}
    header = json.loads(b64url_decode(encrypt_response({}, metadata).split(".")[0], "h"))
    assert header["enc"] == "A256GCM"
    assert header["kid"] == key.kid
    with pytest.raises(ValueError, match="ECDH-ES"):
        encrypt_response({}, client_metadata(None))
    assert "repr" not in repr(key)
    assert "private_key" not in repr(key)


@pytest.fixture(scope="module")
def pki() -> VcTestPki:
    return VcTestPki.generate()


def _request(client_id: str, key: ResponseKey | None = None) -> AuthorizationRequest:
    return AuthorizationRequest(
        client_id=client_id, response_uri="https://verifier.example.jp/wallet/responses/r1",
        response_mode=ResponseMode.DIRECT_POST_JWT, nonce=random_value(), state="r1", dcql_query=age_query(),
        client_metadata=client_metadata(key or ResponseKey.generate()),
    )


@pytest.mark.parametrize("prefix", [ClientIdPrefix.X509_SAN_DNS, ClientIdPrefix.X509_HASH])
def test_request_object_verifies_with_pyjwt(pki: VcTestPki, prefix: ClientIdPrefix) -> None:
    entity = pki.verifier("verifier.example.jp")
    identity = VerifierIdentity.create(prefix, signer=entity.signer(), chain=entity.chain,
                                       dns_name="verifier.example.jp")
    client_id = identity.client_id("https://verifier.example.jp/wallet/responses/r1")
    assert client_id == ("x509_san_dns:verifier.example.jp" if prefix is ClientIdPrefix.X509_SAN_DNS
                         else f"x509_hash:{x509_hash(entity.certificate)}")
    request = _request(client_id)
    now = dt.datetime.now(dt.UTC)
    jwt = request.request_object(identity, iat=now, lifetime=dt.timedelta(minutes=5), wallet_nonce="wn-1")
    header = pyjwt.get_unverified_header(jwt)
    assert header["typ"] == REQUEST_OBJECT_TYP
    assert "kid" not in header
    leaf = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    assert leaf == entity.certificate
    assert len(header["x5c"]) == 2
    claims = pyjwt.decode(jwt, leaf.public_key(), algorithms=["ES256"], audience=STATIC_AUDIENCE)  # type: ignore[arg-type]
    assert claims["client_id"] == client_id
    assert claims["wallet_nonce"] == "wn-1"
    assert "iss" not in claims
    assert claims["response_type"] == "vp_token"
    assert claims["response_mode"] == "direct_post.jwt"
    assert claims["dcql_query"] == age_query()
    assert claims["exp"] - claims["iat"] == 300
    assert claims["client_metadata"]["jwks"]["keys"][0]["kid"]
    if prefix is ClientIdPrefix.X509_HASH:
        digest = client_id.split(":", 1)[1]
        assert b64url_decode(digest, "hash") == entity.certificate.fingerprint(hashes.SHA256())


def test_client_identifier_rules(pki: VcTestPki) -> None:
    entity = pki.verifier("verifier.example.jp")
    with pytest.raises(ValueError, match="dNSName"):
        VerifierIdentity.create(ClientIdPrefix.X509_SAN_DNS, signer=entity.signer(), chain=entity.chain,
                                dns_name="other.example.jp")
    with pytest.raises(ValueError, match="self-signed"):
        VerifierIdentity.create(ClientIdPrefix.X509_HASH, signer=entity.signer(), chain=(pki.root,))
    with pytest.raises(ValueError, match="trust anchor"):
        VerifierIdentity.create(ClientIdPrefix.X509_HASH, signer=entity.signer(), chain=(*entity.chain, pki.root))
    with pytest.raises(ValueError, match="cannot be signed"):
        VerifierIdentity.create(ClientIdPrefix.REDIRECT_URI, signer=entity.signer(), chain=entity.chain)
    san_dns = VerifierIdentity.create(ClientIdPrefix.X509_SAN_DNS, signer=entity.signer(), chain=entity.chain,
                                      dns_name="verifier.example.jp")
    with pytest.raises(ValueError, match="host"):
        san_dns.client_id("https://elsewhere.example.jp/r")
    plain = VerifierIdentity.create(ClientIdPrefix.REDIRECT_URI)
    assert plain.client_id("https://v.example/r") == "redirect_uri:https://v.example/r"
    assert not plain.signed
    with pytest.raises(ValueError, match="cannot sign"):
        _request("redirect_uri:https://v.example/r").request_object(plain, iat=dt.datetime.now(dt.UTC),
                                                                    lifetime=dt.timedelta(minutes=1))


def test_request_by_value_and_reference() -> None:
    request = _request("redirect_uri:https://verifier.example.jp/wallet/responses/r1")
    query = request.by_value()
    assert json.loads(query["dcql_query"]) == age_query()
    assert query["nonce"] == request.nonce
    assert request.by_reference("https://v/req/r1") == {
        "client_id": request.client_id, "request_uri": "https://v/req/r1", "request_uri_method": "post"}
    assert wallet_url("openid4vp://", {"a": "b c"}) == "openid4vp://?a=b+c"
    assert wallet_url("https://wallet.example/authorize?x=1", {"a": "b"}) == "https://wallet.example/authorize?x=1&a=b"
    assert len(random_value()) >= 43
    assert random_value() != random_value()


def test_response_parsing() -> None:
    key = ResponseKey.generate()
    mode = ResponseMode.DIRECT_POST_JWT
    cases: list[tuple[dict[str, str], ResponseMode, str]] = [
        ({"vp_token": '{"age": ["x"]}', "state": "s"}, mode, "wrong_response_mode"),
        ({"response": "a.b.c.d.e"}, ResponseMode.DIRECT_POST, "wrong_response_mode"),
        ({"error": "access_denied", "state": "s"}, mode, "wallet_error"),
        ({"vp_token": "[1]", "state": "s"}, ResponseMode.DIRECT_POST, "vp_token_malformed"),
        ({"state": "s"}, ResponseMode.DIRECT_POST, "vp_token_malformed"),
        ({"response": encrypt_response({"vp_token": {"a": ["x"]}, "state": 5}, client_metadata(key))}, mode,
         "vp_token_malformed"),
    ]
    for form, response_mode, reason in cases:
        with pytest.raises(PresentationError) as info:
            parse_response(form, mode=response_mode, key=key)
        assert info.value.reason.value == reason, form
    encrypted_error = encrypt_response({"error": "access_denied"}, client_metadata(key))
    with pytest.raises(PresentationError, match="access_denied"):
        parse_response({"response": encrypted_error}, mode=mode, key=key)
    plain = parse_response({"vp_token": '{"age": ["x"]}', "state": "s"}, mode=ResponseMode.DIRECT_POST, key=None)
    assert plain.vp_token == {"age": ["x"]}
    assert plain.state == "s"


def _verify(holder: Holder, vp_token: dict[str, Any], query: dict[str, Any], request: Request) -> dict[str, Any]:
    trust = holder.pki.trust_store()
    verified = verify_vp_token(vp_token, query=DcqlQuery.parse(query), policy=VerifierPolicy(
        issuer_keys=IssuerKeys(trust=trust)), client_id=request.client_id, nonce=request.nonce, at=holder.at,
        status=None)
    return {k: [p.as_dict() for p in v] for k, v in verified.items()}


def test_vp_token_rules() -> None:
    holder = Holder(status_uri="https://id.example.jp/status/1")
    request = Request("redirect_uri:https://v.example/r", "n-1")
    presentation = holder.present(holder.credential(idx=None), request)
    ok = _verify(holder, {"age": [presentation]}, age_query(), request)
    assert ok["age"][0]["claims"] == {"age_equal_or_over": {"20": True}}
    assert ok["age"][0]["key_binding"]
    bad: list[tuple[dict[str, Any], dict[str, Any], str]] = [
        ({"other": [presentation]}, age_query(), "presentation_not_requested"),
        ({"age": [presentation, presentation]}, age_query(), "vp_token_malformed"),
        ({"age": []}, age_query(), "vp_token_malformed"),
        ({"age": presentation}, age_query(), "vp_token_malformed"),
        ({}, age_query(), "query_not_satisfied"),
    ]
    wants_18 = age_query()
    wants_18["credentials"][0]["claims"] = [{"path": ["age_equal_or_over", "18"]}]  # type: ignore[index]
    bad.append(({"age": [presentation]}, wants_18, "query_not_satisfied"))  # 18 was not disclosed
    other_type = age_query()
    other_type["credentials"][0]["meta"] = {"vct_values": ["https://other.example/vct"]}  # type: ignore[index]
    bad.append(({"age": [presentation]}, other_type, "wrong_vct"))
    for vp_token, query, reason in bad:
        with pytest.raises(PresentationError) as info:
            _verify(holder, vp_token, query, request)
        assert info.value.reason.value == reason, (vp_token.keys(), reason)


def test_only_requested_claims_are_returned_and_optional_sets() -> None:
    holder = Holder(status_uri="https://id.example.jp/status/1")
    request = Request("redirect_uri:https://v.example/r", "n-2")
    from credentials.sdjwt import HeldSdJwt, key_binding_jwt
    from keys.service.signer import SoftwareSigner

    issued = holder.credential(idx=None)
    over = HeldSdJwt.parse(issued).present([("age_equal_or_over",)])  # the Wallet discloses 18 and 20
    over += key_binding_jwt(over, signer=SoftwareSigner(holder.key, "ES256", "h"), audience=request.client_id,
                            nonce=request.nonce, iat=holder.at)
    result = _verify(holder, {"age": [over]}, age_query(), request)
    assert result["age"][0]["claims"] == {"age_equal_or_over": {"20": True}}  # 18 dropped: not asked for
    query = age_query()
    query["credentials"].append({"id": "extra", "format": "dc+sd-jwt",  # type: ignore[attr-defined]
                                 "meta": {"vct_values": ["https://other.example/vct"]}})
    query["credential_sets"] = [{"options": [["age"]]}, {"options": [["extra"]], "required": False}]
    assert set(_verify(holder, {"age": [over]}, query, request)) == {"age"}
    no_claims = age_query()
    del no_claims["credentials"][0]["claims"]  # type: ignore[attr-defined]
    assert _verify(holder, {"age": [over]}, no_claims, request)["age"][0]["claims"] == {}
    unbound = age_query()
    unbound["credentials"][0]["require_cryptographic_holder_binding"] = False  # type: ignore[index]
    bare = HeldSdJwt.parse(issued).present([("age_equal_or_over", "20")])
    assert _verify(holder, {"age": [bare]}, unbound, request)["age"][0]["key_binding"] is False
    assert _verify(holder, {"age": [over]}, unbound, request)["age"][0]["key_binding"] is True


def test_wallet_refuses_a_request_whose_dcql_query_is_not_json() -> None:
    """Found by the fuzz seeds wallet_request/regress-*: the wallet's json.loads of a by-value ``dcql_query``
    raised JSONDecodeError or RecursionError instead of WalletError."""
    import httpx

    from credentials.wallet.http import WalletError
    from credentials.wallet.presentation import read_request

    offline = httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(404)))
    for query in ('{"credentials": [', "[" * 3000):
        url = "openid4vp://?" + urlencode({"client_id": "redirect_uri:https://v.example/r", "dcql_query": query})
        with pytest.raises(WalletError, match="dcql_query"):
            read_request(url, http=offline)


def test_wallet_refuses_a_request_url_that_urlsplit_refuses() -> None:
    """Found by fuzzing (seed wallet_request/regress-ipv6): urlsplit's ValueError escaped read_request."""
    import httpx

    from credentials.wallet.http import WalletError
    from credentials.wallet.presentation import read_request

    with pytest.raises(WalletError, match="not a URL"):
        read_request("openid4vp://[", http=httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(404))))
