"""Software signers and compact JWS assembly, verified by cryptography and by PyJWT."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from keys.jose.b64 import b64url_decode_loose as _b64decode
from keys.service.errors import KeyFault, KeyServiceError
from keys.service.jwks import public_jwk
from keys.service.jws import compact_jws, encode_jwt
from keys.service.signer import SIGNING_ALGORITHMS, Signer, SoftwareSigner, generate_private_key


def verify_with_cryptography(token: str, public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey, alg: str) -> None:
    """Verify a compact JWS by hand (RFC 7515 §5.2), independently of the code under test."""
    header, payload, signature = token.split(".")
    signing_input = f"{header}.{payload}".encode("ascii")
    sig = _b64decode(signature)
    if alg == "ES256":
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        assert len(sig) == 64
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        public_key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
    elif alg == "PS256":
        assert isinstance(public_key, rsa.RSAPublicKey)
        public_key.verify(sig, signing_input, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                          hashes.SHA256())
    else:
        assert isinstance(public_key, rsa.RSAPublicKey)
        public_key.verify(sig, signing_input, padding.PKCS1v15(), hashes.SHA256())


@pytest.fixture(scope="module", params=SIGNING_ALGORITHMS)
def signer_and_key(request: pytest.FixtureRequest) -> tuple[Signer, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey]:
    key = generate_private_key(request.param)
    return SoftwareSigner(key, request.param, public_jwk(key.public_key(), request.param)["kid"]), key


def test_jws_verifies_with_cryptography(signer_and_key: tuple[Signer, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey]
                                        ) -> None:
    signer, key = signer_and_key
    token = compact_jws(signer, b'{"hello":"world"}', typ="JWT")
    verify_with_cryptography(token, key.public_key(), signer.alg)
    header = json.loads(_b64decode(token.split(".")[0]))
    assert header == {"alg": signer.alg, "kid": signer.kid, "typ": "JWT"}


def test_tampered_jws_fails(signer_and_key: tuple[Signer, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey]) -> None:
    signer, key = signer_and_key
    header, _, signature = compact_jws(signer, b"{}").split(".")
    other_payload = base64.urlsafe_b64encode(b'{"a":1}').rstrip(b"=").decode()
    forged = f"{header}.{other_payload}.{signature}"
    with pytest.raises(InvalidSignature):
        verify_with_cryptography(forged, key.public_key(), signer.alg)


def test_jwt_verifies_with_pyjwt(signer_and_key: tuple[Signer, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey]) -> None:
    signer, key = signer_and_key
    claims = {"iss": "https://op.example", "sub": "s", "aud": "rp", "exp": 4_000_000_000, "name": "山田"}
    token = encode_jwt(claims, signer)
    jwk = jwt.PyJWK(public_jwk(key.public_key(), signer.alg))
    assert jwt.decode(token, jwk, algorithms=[signer.alg], audience="rp") == claims
    assert jwt.get_unverified_header(token)["kid"] == signer.kid


def test_signer_refuses_mismatched_keys() -> None:
    with pytest.raises(KeyServiceError) as caught:
        SoftwareSigner(generate_private_key("ES256"), "RS256", "k")
    assert caught.value.fault is KeyFault.UNSUPPORTED_ALGORITHM
    with pytest.raises(KeyServiceError):
        SoftwareSigner(ec.generate_private_key(ec.SECP384R1()), "ES256", "k")


def test_unsupported_algorithms_are_refused() -> None:
    with pytest.raises(KeyServiceError):
        generate_private_key("HS256")
