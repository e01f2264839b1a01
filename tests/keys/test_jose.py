"""Strict JOSE: JSON, base64url, JWK import and thumbprints, JWS header/key rules and JWT claims.

Covers what Wycheproof lacks (verification-hardening.md rows 8-11, 16): ``alg: none`` spellings, HS/RS confusion
through our API, ``jwk``/``jku``/``x5u``/``x5c`` injection, ``kid`` injection and ambiguity, ``crit``, ``typ``
confusion, claim boundaries, duplicate members and limits. The last section shows one verification per caller
(client assertion, request object, DPoP proof, x5c-signed JWS, key-binding JWT).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from keys.errors import InvalidSignature, InvalidToken, LimitExceeded, MalformedInput, Reason, VerificationError
from keys.jose import (
    HmacKey,
    VerificationKey,
    X5cTrust,
    jwk_thumbprint,
    parse_jwk,
    public_jwk,
    verification_keys,
    verify_jws,
    verify_jwt,
)
from keys.jose.b64 import b64_decode, b64url_decode, b64url_encode
from keys.jose.json import loads_object
from keys.limits import Limits
from keys.signatures import GENERIC
from keys.testpki import CardMaterial, TestPki, new_rsa_key
from keys.trust import TrustStore
from keys.x509.profile import JPKI_SIGN

from .conftest import NOW, der

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | bytes
T0 = int(NOW.timestamp())


def b64(data: bytes) -> str:
    return b64url_encode(data)


def sign_compact(header: Mapping[str, Any] | bytes, payload: Mapping[str, Any] | bytes, key: SigningKey) -> str:
    """A compact JWS signed the way a correct producer would, for any header we want to test."""
    header_bytes = header if isinstance(header, bytes) else json.dumps(header).encode()
    payload_bytes = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{b64(header_bytes)}.{b64(payload_bytes)}".encode()
    alg = str(json.loads(header_bytes).get("alg"))
    return f"{signing_input.decode()}.{b64(_sign(alg, key, signing_input))}"


def _sign(alg: str, key: SigningKey, data: bytes) -> bytes:
    bits = alg[-3:] if alg[-3:] in ("384", "512") else "256"
    hash_ = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[bits]
    if isinstance(key, bytes):
        return hmac.new(key, data, {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}[bits]).digest()
    if isinstance(key, rsa.RSAPrivateKey):
        pad = padding.PSS(padding.MGF1(hash_), hash_.digest_size) if alg.startswith("PS") else padding.PKCS1v15()
        return key.sign(data, pad, hash_)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hash_)))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return key.sign(data)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return new_rsa_key()


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def attacker_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _reason(exc: pytest.ExceptionInfo[VerificationError]) -> Reason:
    return exc.value.reason


# --- strict JSON and base64url ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"alg":"RS256","alg":"none"}', Reason.DUPLICATE_MEMBER),
        ('{"a":{"b":1,"b":2}}', Reason.DUPLICATE_MEMBER),
        ('{"exp":NaN}', Reason.MALFORMED),
        ('{"exp":Infinity}', Reason.MALFORMED),
        ('{"exp":-Infinity}', Reason.MALFORMED),
        ('{"exp":1e400}', Reason.MALFORMED),
        ('["alg"]', Reason.MALFORMED),
        ('"alg"', Reason.MALFORMED),
        ('{"alg":"RS256"} x', Reason.MALFORMED),
        ('{"s":"\\ud800"}', Reason.MALFORMED),
        ("\ufeff{}", Reason.MALFORMED),
        ('{"n":' + "9" * 5000 + "}", Reason.MALFORMED),
    ],
)
def test_strict_json_rejections(text: str, reason: Reason) -> None:
    with pytest.raises(VerificationError) as exc:
        loads_object(text.encode("utf-8", "surrogatepass"), what="test")
    assert _reason(exc) is reason


def test_json_rejects_invalid_utf8_and_accepts_plain_objects() -> None:
    with pytest.raises(MalformedInput):
        loads_object(b'{"a":"\xff"}', what="test")
    assert loads_object(b'{ "a" : [1, 2.5, true, null, "\xe3\x81\x82"] }', what="test") == {
        "a": [1, 2.5, True, None, "あ"]
    }


def test_json_depth_limit() -> None:
    limits = Limits(json_depth=4)
    loads_object('{"a":{"b":[{"c":1}]}}', what="test", limits=limits)  # depth 4
    with pytest.raises(LimitExceeded) as exc:
        loads_object('{"a":{"b":[{"c":[1]}]}}', what="test", limits=limits)
    assert _reason(exc) is Reason.TOO_DEEP
    with pytest.raises(LimitExceeded) as exc:  # far beyond the interpreter's recursion limit
        loads_object('{"a":' + "[" * 100_000 + "]" * 100_000 + "}", what="test")
    assert _reason(exc) is Reason.TOO_DEEP


def test_json_size_limit() -> None:
    with pytest.raises(LimitExceeded) as exc:
        loads_object('{"a":"' + "x" * 100 + '"}', what="test", max_bytes=64)
    assert _reason(exc) is Reason.TOO_LARGE


@pytest.mark.parametrize("value", ["AQ==", "AQ=", "A", "+/8", "AB", "A B", "AQ\n", 5])
def test_strict_base64url_rejections(value: object) -> None:
    with pytest.raises(MalformedInput):
        b64url_decode(value, "test")


def test_base64url_round_trip_and_x5c_base64() -> None:
    assert b64url_decode("-_8", "test") == b"\xfb\xff"
    assert b64url_decode("", "test") == b""
    assert b64_decode("+/8=", "test") == b"\xfb\xff"
    for bad in ("-_8", "+/8", "+/9=", "+/8= "):
        with pytest.raises(MalformedInput):
            b64_decode(bad, "test")


# --- JWK --------------------------------------------------------------------------------------------------------

RFC7638_JWK = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3"
    "oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu"
    "6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJ"
    "zKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}


def test_rfc7638_thumbprint_example() -> None:
    """RFC 7638 §3.1."""
    assert jwk_thumbprint(RFC7638_JWK) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_public_jwk_round_trips(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> None:
    ed = ed25519.Ed25519PrivateKey.generate()
    p521 = ec.generate_private_key(ec.SECP521R1())
    for key in (rsa_key.public_key(), ec_key.public_key(), ed.public_key(), p521.public_key()):
        jwk = public_jwk(key, kid="k1")
        parsed = parse_jwk(jwk)
        assert parsed.key == key
        assert parsed.kid == "k1"
        assert jwk_thumbprint(jwk) == jwk_thumbprint({k: v for k, v in jwk.items() if k != "kid"})
    assert len(public_jwk(p521.public_key())["x"]) == 88  # 66 octets, full length (RFC 7518 §6.2.1.2)


def _jwk(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, **extra: Any) -> dict[str, Any]:
    return {**public_jwk(key.public_key()), **extra}


def test_jwk_import_rejections(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> None:
    ec_jwk = _jwk(ec_key)
    rsa_jwk = _jwk(rsa_key)
    x = b64url_decode(ec_jwk["x"], "x")
    cases: list[tuple[dict[str, Any], Reason]] = [
        ({**ec_jwk, "d": "AAAA"}, Reason.MALFORMED),  # private member in a public JWK
        ({**rsa_jwk, "n": "AA" + rsa_jwk["n"]}, Reason.MALFORMED),  # not a minimal Base64urlUInt
        ({**rsa_jwk, "n": rsa_jwk["n"] + "="}, Reason.MALFORMED),  # padding
        ({**ec_jwk, "x": b64(b"\x00" + x)}, Reason.MALFORMED),  # coordinate too long
        ({**ec_jwk, "x": b64(x[1:])}, Reason.MALFORMED),  # coordinate too short
        ({**ec_jwk, "y": b64(bytes(32))}, Reason.MALFORMED),  # not on the curve
        ({**ec_jwk, "crv": "P-256K"}, Reason.ALGORITHM_NOT_ALLOWED),
        ({"kty": "OKP", "crv": "X25519", "x": b64(bytes(32))}, Reason.ALGORITHM_NOT_ALLOWED),
        ({"kty": "OKP", "crv": "Ed25519", "x": b64(bytes(31))}, Reason.MALFORMED),
        ({"kty": "oct", "k": b64(bytes(32))}, Reason.ALGORITHM_NOT_ALLOWED),  # symmetric not allowed here
        ({"kty": "DSA"}, Reason.ALGORITHM_NOT_ALLOWED),
        ({**ec_jwk, "use": "enc"}, Reason.WRONG_KEY_USAGE),
        ({**ec_jwk, "key_ops": ["sign"]}, Reason.WRONG_KEY_USAGE),
        ({**ec_jwk, "key_ops": "verify"}, Reason.MALFORMED),
        ({**ec_jwk, "key_ops": ["verify", "verify"]}, Reason.MALFORMED),
        ({**ec_jwk, "alg": "ES521"}, Reason.ALGORITHM_NOT_ALLOWED),
        ({**ec_jwk, "alg": "RSA-OAEP"}, Reason.WRONG_KEY_USAGE),
        ({**ec_jwk, "kid": 7}, Reason.MALFORMED),
        ({**rsa_jwk, "e": "Aw"}, Reason.WEAK_KEY),  # e = 3
        ({**rsa_jwk, "e": "AQ"}, Reason.WEAK_KEY),  # e = 1
    ]
    for jwk, reason in cases:
        with pytest.raises(VerificationError) as exc:
            parse_jwk(jwk)
        assert _reason(exc) is reason, jwk


def test_verification_key_binding(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> None:
    assert VerificationKey.from_jwk(_jwk(ec_key)).alg == "ES256"  # the curve fixes the algorithm
    assert VerificationKey.from_jwk(_jwk(rsa_key), alg="PS256").alg == "PS256"
    refused: list[tuple[dict[str, Any], str | None, Reason]] = [
        (_jwk(rsa_key), None, Reason.ALGORITHM_NOT_ALLOWED),  # RSA without alg: bind explicitly
        (_jwk(rsa_key, alg="RS256"), "PS256", Reason.ALGORITHM_NOT_ALLOWED),  # JWK alg and binding differ
        (_jwk(ec_key), "ES384", Reason.ALGORITHM_NOT_ALLOWED),  # P-256 cannot do ES384
        (_jwk(ec_key), "HS256", Reason.ALGORITHM_NOT_ALLOWED),
        ({"kty": "oct", "k": b64(bytes(31)), "alg": "HS256"}, None, Reason.WEAK_KEY),
        ({"kty": "oct", "k": b64(bytes(47))}, "HS384", Reason.WEAK_KEY),
        ({"kty": "oct", "k": ""}, "HS256", Reason.WEAK_KEY),
    ]
    for jwk, alg, reason in refused:
        with pytest.raises(VerificationError) as exc:
            VerificationKey.from_jwk(jwk, alg=alg, allow_symmetric=True)
        assert _reason(exc) is reason, (jwk, alg)
    with pytest.raises(InvalidSignature):
        VerificationKey(rsa_key.public_key(), "HS256")
    with pytest.raises(InvalidSignature):
        VerificationKey(HmacKey(b"k" * 64), "RS256")
    assert "secret-value" not in repr(HmacKey(b"secret-value"))


def test_jwk_set_import(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> None:
    enc = _jwk(rsa_key, use="enc", alg="RSA-OAEP", kid="enc")
    keys = verification_keys({"keys": [_jwk(ec_key, kid="a"), enc, _jwk(rsa_key, alg="PS256", kid="b")]})
    assert [(k.kid, k.alg) for k in keys] == [("a", "ES256"), ("b", "PS256")]  # the encryption key is left out
    with pytest.raises(InvalidSignature) as exc:
        verification_keys({"keys": [_jwk(ec_key, kid="a"), _jwk(rsa_key, alg="RS256", kid="a")]})
    assert _reason(exc) is Reason.AMBIGUOUS_KEY
    with pytest.raises(MalformedInput):  # one broken key rejects the set
        verification_keys({"keys": [_jwk(ec_key, kid="a"), {**_jwk(ec_key), "y": b64(bytes(32))}]})
    with pytest.raises(MalformedInput):
        verification_keys({"keys": {}})


# --- JWS: algorithms --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature", ["", "c2ln"])
def test_alg_none_in_any_spelling_is_refused(ec_key: ec.EllipticCurvePrivateKey, alg: str, signature: str) -> None:
    token = f"{b64(json.dumps({'alg': alg}).encode())}.{b64(b'{}')}.{signature}"
    key = VerificationKey(ec_key.public_key(), "ES256")
    with pytest.raises(InvalidToken) as exc:
        verify_jws(token, keys=[key], algorithms={"ES256"}, typ=None)
    assert _reason(exc) is Reason.ALGORITHM_NOT_ALLOWED


def test_none_cannot_be_allowed() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        verify_jws("a.b.c", algorithms={"none"}, typ=None)
    with pytest.raises(ValueError, match="non-empty"):
        verify_jws("a.b.c", algorithms=set(), typ=None)


def test_alg_must_be_allowed_and_a_string(ec_key: ec.EllipticCurvePrivateKey) -> None:
    key = VerificationKey(ec_key.public_key(), "ES256")
    token = sign_compact({"alg": "ES256"}, b"x", ec_key)
    with pytest.raises(InvalidToken) as exc:
        verify_jws(token, keys=[key], algorithms={"RS256"}, typ=None)
    assert _reason(exc) is Reason.ALGORITHM_NOT_ALLOWED
    for header in ({}, {"alg": ["ES256"]}, {"alg": None}):
        with pytest.raises(MalformedInput):
            verify_jws(sign_compact(header, b"x", ec_key), keys=[key], algorithms={"ES256"}, typ=None)


def test_hs_rs_confusion_is_impossible(rsa_key: rsa.RSAPrivateKey) -> None:
    """CVE-2022-29217 / CVE-2015-9235: an HS256 token MACed with the RSA public key as the secret."""
    pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    key = VerificationKey(rsa_key.public_key(), "RS256", kid="rsa")
    both = {"RS256", "HS256"}
    with_kid = sign_compact({"alg": "HS256", "kid": "rsa"}, b"x", pem)
    without_kid = sign_compact({"alg": "HS256"}, b"x", pem)
    with pytest.raises(InvalidToken) as exc:
        verify_jws(with_kid, keys=[key], algorithms=both, typ=None)
    assert _reason(exc) is Reason.ALGORITHM_NOT_ALLOWED
    with pytest.raises(InvalidToken) as exc:
        verify_jws(without_kid, keys=[key], algorithms=both, typ=None)
    assert _reason(exc) is Reason.UNKNOWN_KEY
    # even a deliberately configured HMAC key beside the RSA key: the sets never mix
    with pytest.raises(InvalidToken) as exc:
        verify_jws(without_kid, keys=[key, VerificationKey(HmacKey(pem), "HS256", kid="h")], algorithms=both, typ=None)
    assert _reason(exc) is Reason.ALGORITHM_NOT_ALLOWED


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_with_an_oct_key(alg: str) -> None:
    secret = bytes(range(64))
    key = VerificationKey.from_jwk({"kty": "oct", "k": b64(secret), "alg": alg}, allow_symmetric=True)
    token = sign_compact({"alg": alg}, b"payload", secret)
    assert verify_jws(token, keys=[key], algorithms={alg}, typ=None).payload == b"payload"
    head, mac = token.rsplit(".", 1)
    flipped = bytearray(b64url_decode(mac, "mac"))
    flipped[0] ^= 1
    with pytest.raises(InvalidSignature) as exc:
        verify_jws(f"{head}.{b64(bytes(flipped))}", keys=[key], algorithms={alg}, typ=None)
    assert _reason(exc) is Reason.BAD_SIGNATURE


def test_rsa_key_policy_applies_at_verification() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    token = sign_compact({"alg": "RS256"}, b"x", small)
    with pytest.raises(InvalidSignature) as exc:
        verify_jws(token, keys=[VerificationKey(small.public_key(), "RS256")], algorithms={"RS256"}, typ=None)
    assert _reason(exc) is Reason.WEAK_KEY


# --- JWS: header keys -------------------------------------------------------------------------------------------


def test_embedded_jwk_is_refused_by_default(ec_key: ec.EllipticCurvePrivateKey,
                                            attacker_key: ec.EllipticCurvePrivateKey) -> None:
    """CVE-2018-0114: the attacker signs with their own key and embeds it."""
    token = sign_compact({"alg": "ES256", "jwk": public_jwk(attacker_key.public_key())}, b"x", attacker_key)
    with pytest.raises(InvalidToken) as exc:
        verify_jws(token, keys=[VerificationKey(ec_key.public_key(), "ES256")], algorithms={"ES256"}, typ=None)
    assert _reason(exc) is Reason.HEADER_KEY_REFUSED


@pytest.mark.parametrize("member", ["jku", "x5u"])
def test_url_keys_are_never_followed(ec_key: ec.EllipticCurvePrivateKey, member: str) -> None:
    token = sign_compact({"alg": "ES256", member: "https://attacker.example/keys"}, b"x", ec_key)
    with pytest.raises(InvalidToken) as exc:
        verify_jws(token, keys=[VerificationKey(ec_key.public_key(), "ES256")], algorithms={"ES256"}, typ=None,
                   allow_embedded_jwk=True)
    assert _reason(exc) is Reason.HEADER_KEY_REFUSED


def test_embedded_jwk_rules_when_allowed(ec_key: ec.EllipticCurvePrivateKey, rsa_key: rsa.RSAPrivateKey) -> None:
    private = {**public_jwk(ec_key.public_key()),
               "d": b64(ec_key.private_numbers().private_value.to_bytes(32, "big"))}
    oct_jwk = {"kty": "oct", "k": b64(bytes(32))}
    for jwk, reason in ((private, Reason.MALFORMED), (oct_jwk, Reason.ALGORITHM_NOT_ALLOWED)):
        token = sign_compact({"alg": "ES256", "jwk": jwk}, b"x", ec_key)
        with pytest.raises(VerificationError) as exc:
            verify_jws(token, algorithms={"ES256", "HS256"}, typ=None, allow_embedded_jwk=True)
        assert _reason(exc) is reason
    # the embedded key is still bound to the allow-list: an RSA JWK cannot smuggle in RS256
    token = sign_compact({"alg": "RS256", "jwk": public_jwk(rsa_key.public_key())}, b"x", rsa_key)
    with pytest.raises(InvalidToken) as exc:
        verify_jws(token, algorithms={"ES256"}, typ=None, allow_embedded_jwk=True)
    assert _reason(exc) is Reason.ALGORITHM_NOT_ALLOWED
    both = sign_compact({"alg": "ES256", "jwk": public_jwk(ec_key.public_key()), "x5c": []}, b"x", ec_key)
    with pytest.raises(InvalidToken) as exc:
        verify_jws(both, algorithms={"ES256"}, typ=None, allow_embedded_jwk=True)
    assert _reason(exc) is Reason.HEADER_KEY_REFUSED


def _x5c_token(card: CardMaterial, payload: bytes = b'{"vct":"x"}', **header: Any) -> str:
    assert card.sign_certificate is not None
    assert card.sign_key is not None
    chain = [base64.b64encode(der(card.sign_certificate)).decode()]
    return sign_compact({"alg": "RS256", "x5c": chain, **header}, payload, card.sign_key)


def test_x5c_needs_a_trust_store_and_a_valid_path(card: CardMaterial, test_store: TrustStore, pki: TestPki) -> None:
    assert card.sign_key is not None
    token = _x5c_token(card)
    with pytest.raises(VerificationError) as exc:
        verify_jws(token, algorithms={"RS256"}, typ=None)
    assert _reason(exc) is Reason.HEADER_KEY_REFUSED
    trusted = X5cTrust(test_store, JPKI_SIGN, NOW)
    assert verify_jws(token, algorithms={"RS256"}, typ=None, x5c=trusted).path is not None
    production = TrustStore.build([(f"r{i}", der(r.certificate)) for i, r in enumerate(pki.roots())])
    with pytest.raises(VerificationError) as exc:  # test roots outside test mode
        verify_jws(token, algorithms={"RS256"}, typ=None, x5c=X5cTrust(production, JPKI_SIGN, NOW))
    assert _reason(exc) is Reason.TEST_ROOT_REFUSED
    other = pki.issue_card(now=NOW)
    assert other.sign_certificate is not None
    forged = sign_compact({"alg": "RS256", "x5c": [base64.b64encode(der(other.sign_certificate)).decode()]},
                          b"{}", card.sign_key)  # someone else's certificate, our key
    with pytest.raises(VerificationError) as exc:
        verify_jws(forged, algorithms={"RS256"}, typ=None, x5c=trusted)
    assert _reason(exc) is Reason.BAD_SIGNATURE


def test_x5c_shape_limits(card: CardMaterial, test_store: TrustStore) -> None:
    trusted = X5cTrust(test_store, JPKI_SIGN, NOW)
    assert card.sign_certificate is not None
    assert card.sign_key is not None
    cert = base64.b64encode(der(card.sign_certificate)).decode()
    for chain, error in (([cert] * 5, LimitExceeded), ([], MalformedInput), ("x", MalformedInput),
                         ([" " + cert], MalformedInput)):
        token = sign_compact({"alg": "RS256", "x5c": chain}, b"{}", card.sign_key)
        with pytest.raises(error):
            verify_jws(token, algorithms={"RS256"}, typ=None, x5c=trusted)


# --- JWS: kid ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kid", ["../../../../dev/null", "' OR '1'='1", "k1\x00", "K1", " k1", "k1 "])
def test_kid_injection_matches_nothing(ec_key: ec.EllipticCurvePrivateKey, kid: str) -> None:
    token = sign_compact({"alg": "ES256", "kid": kid}, b"x", ec_key)
    with pytest.raises(InvalidToken) as exc:
        verify_jws(token, keys=[VerificationKey(ec_key.public_key(), "ES256", "k1")], algorithms={"ES256"}, typ=None)
    assert _reason(exc) is Reason.UNKNOWN_KEY


@pytest.mark.parametrize("kid", [1, ["k1"], {"k": "k1"}, True])
def test_kid_must_be_a_string(ec_key: ec.EllipticCurvePrivateKey, kid: object) -> None:
    token = sign_compact({"alg": "ES256", "kid": kid}, b"x", ec_key)
    with pytest.raises(MalformedInput):
        verify_jws(token, keys=[VerificationKey(ec_key.public_key(), "ES256", "k1")], algorithms={"ES256"}, typ=None)


def test_kid_selection_and_ambiguity(ec_key: ec.EllipticCurvePrivateKey,
                                     attacker_key: ec.EllipticCurvePrivateKey) -> None:
    ours = VerificationKey(ec_key.public_key(), "ES256", "k1")
    other = VerificationKey(attacker_key.public_key(), "ES256", "k2")
    token = sign_compact({"alg": "ES256", "kid": "k1"}, b"x", ec_key)
    assert verify_jws(token, keys=[other, ours], algorithms={"ES256"}, typ=None).key is ours
    with pytest.raises(VerificationError) as exc:  # two keys with one kid
        verify_jws(token, keys=[ours, VerificationKey(attacker_key.public_key(), "ES256", "k1")],
                   algorithms={"ES256"}, typ=None)
    assert _reason(exc) is Reason.AMBIGUOUS_KEY
    no_kid = sign_compact({"alg": "ES256"}, b"x", ec_key)
    assert verify_jws(no_kid, keys=[ours], algorithms={"ES256"}, typ=None).key is ours
    with pytest.raises(InvalidToken) as exc:  # no kid and two candidates: never try keys in turn
        verify_jws(no_kid, keys=[ours, other], algorithms={"ES256"}, typ=None)
    assert _reason(exc) is Reason.AMBIGUOUS_KEY
    with pytest.raises(InvalidToken) as exc:
        verify_jws(no_kid, keys=[], algorithms={"ES256"}, typ=None)
    assert _reason(exc) is Reason.UNKNOWN_KEY


# --- JWS: crit, b64, typ, shape ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "understood", "reason"),
    [
        ({"crit": ["exp"], "exp": 1}, (), Reason.UNSUPPORTED_CRIT),
        ({"crit": ["alg"]}, (), Reason.UNSUPPORTED_CRIT),
        ({"crit": ["kid"], "kid": "k1"}, ("kid",), Reason.UNSUPPORTED_CRIT),
        ({"crit": []}, (), Reason.MALFORMED),
        ({"crit": "exp"}, (), Reason.MALFORMED),
        ({"crit": ["x", "x"], "x": 1}, ("x",), Reason.MALFORMED),
        ({"crit": [1]}, (), Reason.MALFORMED),
        ({"crit": ["x"]}, ("x",), Reason.MALFORMED),  # understood but absent
        ({"b64": False, "crit": ["b64"]}, (), Reason.UNSUPPORTED_CRIT),
        ({"b64": "false"}, (), Reason.UNSUPPORTED_CRIT),
    ],
)
def test_crit_rules(ec_key: ec.EllipticCurvePrivateKey, extra: dict[str, Any], understood: tuple[str, ...],
                    reason: Reason) -> None:
    token = sign_compact({"alg": "ES256", **extra}, b"x", ec_key)
    with pytest.raises(VerificationError) as exc:
        verify_jws(token, keys=[VerificationKey(ec_key.public_key(), "ES256")], algorithms={"ES256"}, typ=None,
                   understood_crit=understood)
    assert _reason(exc) is reason


def test_crit_understood_and_present_passes(ec_key: ec.EllipticCurvePrivateKey) -> None:
    key = VerificationKey(ec_key.public_key(), "ES256")
    token = sign_compact({"alg": "ES256", "crit": ["urn:x"], "urn:x": 1}, b"x", ec_key)
    assert verify_jws(token, keys=[key], algorithms={"ES256"}, typ=None, understood_crit={"urn:x"}).header["urn:x"] == 1
    token = sign_compact({"alg": "ES256", "b64": True}, b"x", ec_key)
    verify_jws(token, keys=[key], algorithms={"ES256"}, typ=None)


@pytest.mark.parametrize(
    ("token_typ", "expected", "ok"),
    [
        ("dpop+jwt", "dpop+jwt", True),
        ("DPoP+JWT", "dpop+jwt", True),
        ("application/dpop+jwt", "dpop+jwt", True),
        ("dpop+jwt", "application/dpop+jwt", True),
        ("JWT", "dpop+jwt", False),
        (None, "dpop+jwt", False),
        ("kb+jwt", "dpop+jwt", False),
        ("dpop+jwt", "kb+jwt", False),
        ("dc+sd-jwt", "kb+jwt", False),
        ("kb+jwt", "dc+sd-jwt", False),
        ("text/dpop+jwt", "dpop+jwt", False),
        ("JWT", None, True),
        ("jwt", None, True),
        ("application/jwt", None, True),
        (None, None, True),
        ("kb+jwt", None, False),
        ("at+jwt", None, False),
    ],
)
def test_typ_confusion(ec_key: ec.EllipticCurvePrivateKey, token_typ: str | None, expected: str | None,
                       ok: bool) -> None:
    header = {"alg": "ES256"} | ({"typ": token_typ} if token_typ is not None else {})
    token = sign_compact(header, b"{}", ec_key)
    key = VerificationKey(ec_key.public_key(), "ES256")
    if ok:
        verify_jws(token, keys=[key], algorithms={"ES256"}, typ=expected)
        return
    with pytest.raises(InvalidToken) as exc:
        verify_jws(token, keys=[key], algorithms={"ES256"}, typ=expected)
    assert _reason(exc) is Reason.TYP_MISMATCH


def test_typ_must_be_a_string(ec_key: ec.EllipticCurvePrivateKey) -> None:
    token = sign_compact({"alg": "ES256", "typ": ["JWT"]}, b"{}", ec_key)
    with pytest.raises(MalformedInput):
        verify_jws(token, keys=[VerificationKey(ec_key.public_key(), "ES256")], algorithms={"ES256"}, typ=None)


def test_token_shape(ec_key: ec.EllipticCurvePrivateKey) -> None:
    key = VerificationKey(ec_key.public_key(), "ES256")
    good = sign_compact({"alg": "ES256"}, b"x", ec_key)
    h, p, s = good.split(".")
    json_form = json.dumps({"payload": p, "protected": h, "signature": s})
    cases: list[tuple[str, type[VerificationError]]] = [
        (json_form, MalformedInput),
        (f"{h}.{p}.{s}.x.y", MalformedInput),  # JWE shape
        (f"{h}.{p}", MalformedInput),
        (f"{h}.{p}={s}", MalformedInput),
        (f"{h}=.{p}.{s}", MalformedInput),
        (f"{h}.{p}.{s}=", MalformedInput),
        (f" {good}", MalformedInput),
    ]
    for token, error in cases:
        with pytest.raises(error):
            verify_jws(token, keys=[key], algorithms={"ES256"}, typ=None)
    with pytest.raises(MalformedInput):
        verify_jws(good.encode(), keys=[key], algorithms={"ES256"}, typ=None)  # type: ignore[arg-type]


def test_duplicate_header_member_and_size_limit(ec_key: ec.EllipticCurvePrivateKey) -> None:
    key = VerificationKey(ec_key.public_key(), "ES256")
    token = sign_compact(b'{"alg":"ES256","alg":"HS256"}', b"x", ec_key)
    with pytest.raises(VerificationError) as exc:
        verify_jws(token, keys=[key], algorithms={"ES256", "HS256"}, typ=None)
    assert _reason(exc) is Reason.DUPLICATE_MEMBER
    big = sign_compact({"alg": "ES256"}, b"x" * 300, ec_key)
    with pytest.raises(VerificationError) as exc:
        verify_jws(big, keys=[key], algorithms={"ES256"}, typ=None, limits=Limits(jws_bytes=256))
    assert _reason(exc) is Reason.TOO_LARGE
    verify_jws(big, keys=[key], algorithms={"ES256"}, typ=None)


# --- JWT claims -------------------------------------------------------------------------------------------------


def _jwt(ec_key: ec.EllipticCurvePrivateKey, claims: Mapping[str, Any] | bytes, **header: Any) -> str:
    return sign_compact({"alg": "ES256", **header}, claims, ec_key)


def _check(
    ec_key: ec.EllipticCurvePrivateKey, token: str, *, at: dt.datetime = NOW, **options: Any
) -> Mapping[str, Any]:
    arguments: dict[str, Any] = {"issuer": "https://iss.example", "audience": "rp", "typ": None} | options
    key = VerificationKey(ec_key.public_key(), "ES256")
    return verify_jwt(token, keys=[key], algorithms={"ES256"}, at=at, **arguments).claims


def _outcome(ec_key: ec.EllipticCurvePrivateKey, token: str, reason: Reason | None,
             error: type[VerificationError] = VerificationError, **options: Any) -> None:
    """``token`` is accepted when ``reason`` is ``None``, else refused with ``error`` for ``reason``."""
    if reason is None:
        _check(ec_key, token, **options)
        return
    with pytest.raises(error) as exc:
        _check(ec_key, token, **options)
    assert _reason(exc) is reason


BASE = {"iss": "https://iss.example", "aud": "rp", "exp": T0 + 60}


@pytest.mark.parametrize(
    ("claims", "at", "leeway", "reason"),
    [
        ({"exp": T0}, NOW, 0, Reason.TOKEN_EXPIRED),  # exp is exclusive (RFC 7519 §4.1.4)
        ({"exp": T0 + 1}, NOW, 0, None),
        ({"exp": T0 - 30}, NOW, 30, Reason.TOKEN_EXPIRED),
        ({"exp": T0 - 29}, NOW, 30, None),
        ({"exp": T0 + 0.5}, NOW + dt.timedelta(seconds=0.5), 0, Reason.TOKEN_EXPIRED),
        ({"exp": T0 + 0.5}, NOW + dt.timedelta(seconds=0.499), 0, None),
        ({"nbf": T0}, NOW, 0, None),  # nbf is inclusive (RFC 7519 §4.1.5)
        ({"nbf": T0 + 1}, NOW, 0, Reason.TOKEN_NOT_YET_VALID),
        ({"nbf": T0 + 30}, NOW, 30, None),
        ({"nbf": T0 + 31}, NOW, 30, Reason.TOKEN_NOT_YET_VALID),
        ({"iat": T0}, NOW, 0, None),
        ({"iat": T0 + 1}, NOW, 0, Reason.TOKEN_ISSUED_IN_FUTURE),
        ({"iat": T0 + 30}, NOW, 30, None),
        ({"iat": T0 + 31}, NOW, 30, Reason.TOKEN_ISSUED_IN_FUTURE),
    ],
)
def test_time_claims_at_the_boundaries(ec_key: ec.EllipticCurvePrivateKey, claims: dict[str, Any],
                                       at: dt.datetime, leeway: int, reason: Reason | None) -> None:
    _outcome(ec_key, _jwt(ec_key, BASE | claims), reason, InvalidToken, at=at, leeway=dt.timedelta(seconds=leeway))


def test_max_age(ec_key: ec.EllipticCurvePrivateKey) -> None:
    five = dt.timedelta(minutes=5)
    _check(ec_key, _jwt(ec_key, BASE | {"iat": T0 - 300}), max_age=five)
    with pytest.raises(InvalidToken) as exc:
        _check(ec_key, _jwt(ec_key, BASE | {"iat": T0 - 301}), max_age=five)
    assert _reason(exc) is Reason.TOKEN_EXPIRED
    with pytest.raises(InvalidToken) as exc:
        _check(ec_key, _jwt(ec_key, BASE), max_age=five)
    assert _reason(exc) is Reason.MISSING_CLAIM


@pytest.mark.parametrize("value", [True, False, "1900000000", None, [T0 + 60], {"t": 1}])
def test_numeric_dates_are_numbers(ec_key: ec.EllipticCurvePrivateKey, value: object) -> None:
    for name in ("exp", "nbf", "iat"):
        with pytest.raises(MalformedInput):
            _check(ec_key, _jwt(ec_key, BASE | {name: value}))


@pytest.mark.parametrize(
    ("claims", "options", "reason"),
    [
        ({"iss": "https://iss.example/"}, {}, Reason.WRONG_ISSUER),
        ({"iss": "HTTPS://ISS.EXAMPLE"}, {}, Reason.WRONG_ISSUER),
        ({"iss": ["https://iss.example"]}, {}, Reason.WRONG_ISSUER),
        ({"aud": "rp2"}, {}, Reason.WRONG_AUDIENCE),
        ({"aud": ["rp2", "rp3"]}, {}, Reason.WRONG_AUDIENCE),
        ({"aud": []}, {}, Reason.MALFORMED),
        ({"aud": ["rp", 1]}, {}, Reason.MALFORMED),
        ({"aud": {"rp": 1}}, {}, Reason.MALFORMED),
        ({"aud": ["rp2", "rp"]}, {}, None),
        ({"aud": "rp2"}, {"audience": ["rp1", "rp2"]}, None),
        ({"aud": ["x", "rp2"]}, {"audience": ("rp1", "rp2")}, None),
    ],
)
def test_issuer_and_audience(ec_key: ec.EllipticCurvePrivateKey, claims: dict[str, Any], options: dict[str, Any],
                             reason: Reason | None) -> None:
    _outcome(ec_key, _jwt(ec_key, BASE | claims), reason, **options)


def test_required_claims(ec_key: ec.EllipticCurvePrivateKey) -> None:
    for missing in ("iss", "aud", "exp"):
        token = _jwt(ec_key, {k: v for k, v in BASE.items() if k != missing})
        with pytest.raises(InvalidToken) as exc:
            _check(ec_key, token)
        assert _reason(exc) is Reason.MISSING_CLAIM
    with pytest.raises(InvalidToken) as exc:
        _check(ec_key, _jwt(ec_key, BASE), required_claims=("exp", "jti"))
    assert _reason(exc) is Reason.MISSING_CLAIM
    claims = _check(ec_key, _jwt(ec_key, {"exp": T0 + 60}), issuer=None, audience=None)
    assert claims == {"exp": T0 + 60}


def test_claims_must_be_one_strict_json_object(ec_key: ec.EllipticCurvePrivateKey) -> None:
    for payload, reason in ((b'{"exp":1,"exp":9999999999,"iss":"https://iss.example","aud":"rp"}',
                             Reason.DUPLICATE_MEMBER),
                            (b"[1]", Reason.MALFORMED), (b"not json", Reason.MALFORMED)):
        with pytest.raises(MalformedInput) as exc:
            _check(ec_key, _jwt(ec_key, payload))
        assert _reason(exc) is reason
    with pytest.raises(MalformedInput):  # nested JWTs are not accepted
        _check(ec_key, _jwt(ec_key, BASE, cty="JWT"))


def test_claims_are_read_only_after_the_signature(ec_key: ec.EllipticCurvePrivateKey,
                                                  attacker_key: ec.EllipticCurvePrivateKey) -> None:
    """A forged token with broken claims fails on the signature, not on the claims."""
    token = _jwt(attacker_key, b'{"exp":"soon","exp":1}')
    with pytest.raises(InvalidSignature) as exc:
        _check(ec_key, token)
    assert _reason(exc) is Reason.BAD_SIGNATURE


def test_time_arguments_are_checked(ec_key: ec.EllipticCurvePrivateKey) -> None:
    token = _jwt(ec_key, BASE)
    with pytest.raises(ValueError, match="timezone"):
        _check(ec_key, token, at=NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="leeway"):
        _check(ec_key, token, leeway=dt.timedelta(seconds=-1))


# --- one example per caller -------------------------------------------------------------------------------------


def test_private_key_jwt_client_assertion(ec_key: ec.EllipticCurvePrivateKey, rsa_key: rsa.RSAPrivateKey) -> None:
    """RFC 7523 §3 / OIDC Core §9: iss = sub = client_id, aud = token endpoint (or issuer), exp, jti."""
    client_jwks = {"keys": [public_jwk(ec_key.public_key(), kid="sig-1"),
                            {**public_jwk(rsa_key.public_key(), kid="enc-1"), "use": "enc"}]}
    assertion = sign_compact({"alg": "ES256", "kid": "sig-1"},
                             {"iss": "client-1", "sub": "client-1", "aud": "https://op.example/token",
                              "jti": "a1", "exp": T0 + 60, "iat": T0}, ec_key)
    jwt = verify_jwt(assertion, keys=verification_keys(client_jwks), algorithms={"ES256", "PS256"}, typ=None,
                     issuer="client-1", audience=["https://op.example/token", "https://op.example"], at=NOW,
                     required_claims=("exp", "sub", "jti"), max_age=dt.timedelta(minutes=5))
    assert jwt.claims["sub"] == "client-1"
    assert jwt.key.kid == "sig-1"


def test_request_object(rsa_key: rsa.RSAPrivateKey) -> None:
    """RFC 9101 §10.8: typ oauth-authz-req+jwt, iss = client_id, aud = the OP's issuer."""
    key = VerificationKey.from_jwk(public_jwk(rsa_key.public_key(), kid="r1", alg="PS256"))
    request = sign_compact({"alg": "PS256", "kid": "r1", "typ": "oauth-authz-req+jwt"},
                           {"iss": "client-1", "aud": "https://op.example", "client_id": "client-1",
                            "response_type": "code", "exp": T0 + 300, "nbf": T0 - 1}, rsa_key)
    jwt = verify_jwt(request, keys=[key], algorithms={"PS256"}, typ="oauth-authz-req+jwt", issuer="client-1",
                     audience="https://op.example", at=NOW)
    assert jwt.claims["response_type"] == "code"


def test_dpop_proof(ec_key: ec.EllipticCurvePrivateKey) -> None:
    """RFC 9449 §4.3: typ dpop+jwt, the public key in jwk, claims jti/htm/htu/iat; the caller binds jkt."""
    jwk = public_jwk(ec_key.public_key())
    proof = sign_compact({"alg": "ES256", "typ": "dpop+jwt", "jwk": jwk},
                         {"jti": "p1", "htm": "POST", "htu": "https://op.example/token", "iat": T0}, ec_key)
    jwt = verify_jwt(proof, allow_embedded_jwk=True, algorithms={"ES256", "EdDSA"}, typ="dpop+jwt", issuer=None,
                     audience=None, at=NOW, required_claims=("jti", "htm", "htu", "iat"),
                     max_age=dt.timedelta(seconds=60), leeway=dt.timedelta(seconds=5))
    assert jwk_thumbprint(jwt.header["jwk"]) == jwk_thumbprint(jwk)
    # the same proof offered where a key-binding JWT is expected
    with pytest.raises(InvalidToken) as exc:
        verify_jwt(proof, allow_embedded_jwk=True, algorithms={"ES256"}, typ="kb+jwt", issuer=None, audience=None,
                   at=NOW, required_claims=())
    assert _reason(exc) is Reason.TYP_MISMATCH


def test_x5c_signed_credential_jws(card: CardMaterial, test_store: TrustStore) -> None:
    """An x5c-signed JWS whose chain validates to a pinned (here: test) root, as SD-JWT VC issuer JWTs and OID4VCI
    proofs with x5c are; the verified path comes back with the claims."""
    token = _x5c_token(card, json.dumps({"iss": "https://issuer.example", "vct": "urn:x", "exp": T0 + 60}).encode(),
                       typ="dc+sd-jwt")
    jwt = verify_jwt(token, x5c=X5cTrust(test_store, JPKI_SIGN, NOW), algorithms={"RS256"}, typ="dc+sd-jwt",
                     issuer="https://issuer.example", audience=None, at=NOW)
    assert jwt.path is not None
    assert jwt.path.leaf == card.sign_certificate


def test_key_binding_jwt(ec_key: ec.EllipticCurvePrivateKey) -> None:
    """SD-JWT KB-JWT: typ kb+jwt, verified with the holder key from the credential's cnf.jwk."""
    cnf_jwk = public_jwk(ec_key.public_key())
    kb = sign_compact({"alg": "ES256", "typ": "kb+jwt"},
                      {"iat": T0, "aud": "https://verifier.example", "nonce": "n-1", "sd_hash": "abc"}, ec_key)
    jwt = verify_jwt(kb, keys=[VerificationKey.from_jwk(cnf_jwk)], algorithms={"ES256", "EdDSA"}, typ="kb+jwt",
                     issuer=None, audience="https://verifier.example", at=NOW,
                     required_claims=("iat", "nonce", "sd_hash"), max_age=dt.timedelta(minutes=5))
    assert (jwt.claims["nonce"], jwt.claims["sd_hash"]) == ("n-1", "abc")


def test_generic_policy_is_explicit(ec_key: ec.EllipticCurvePrivateKey) -> None:
    """Ed448 is outside JOSE; a caller must opt into GENERIC for it."""
    from cryptography.hazmat.primitives.asymmetric import ed448

    key = ed448.Ed448PrivateKey.generate()
    jwk = {"kty": "OKP", "crv": "Ed448", "x": b64(key.public_key().public_bytes_raw())}
    with pytest.raises(InvalidSignature) as exc:
        VerificationKey.from_jwk(jwk)
    assert _reason(exc) is Reason.ALGORITHM_NOT_ALLOWED
    bound = VerificationKey.from_jwk(jwk, policy=GENERIC)
    token = sign_compact({"alg": "Ed448"}, b"x", key)  # type: ignore[arg-type]
    assert verify_jws(token, keys=[bound], algorithms={"Ed448"}, typ=None, policy=GENERIC).payload == b"x"
