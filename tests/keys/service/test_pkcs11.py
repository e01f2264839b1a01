"""PKCS#11 keys on a private SoftHSM2 token: generate, sign, verify with cryptography, destroy."""

from __future__ import annotations

import jwt
import pytest

from keys.service.errors import KeyFault, KeyServiceError
from keys.service.jwks import public_jwk
from keys.service.jws import encode_jwt
from keys.service.pkcs11 import Pkcs11Backend
from keys.service.signer import SIGNING_ALGORITHMS
from tests.keys.service.softhsm import HsmToken
from tests.keys.service.test_signer import verify_with_cryptography


@pytest.fixture(scope="module")
def backend(hsm_token: HsmToken) -> Pkcs11Backend:
    return Pkcs11Backend(hsm_token.module, hsm_token.label, hsm_token.pin)


@pytest.mark.parametrize("alg", SIGNING_ALGORITHMS)
def test_sign_in_the_token_verify_outside(backend: Pkcs11Backend, alg: str) -> None:
    generated = backend.generate(alg)
    assert generated.secret is None
    assert generated.ref is not None
    jwk = public_jwk(generated.public_key, alg)
    signer = backend.signer(alg, jwk["kid"], generated.ref, None)
    token = encode_jwt({"iss": "https://op.example", "n": 1}, signer)
    verify_with_cryptography(token, generated.public_key, alg)
    assert jwt.decode(token, jwt.PyJWK(jwk), algorithms=[alg]) == {"iss": "https://op.example", "n": 1}


def test_destroyed_keys_are_gone(backend: Pkcs11Backend) -> None:
    generated = backend.generate("ES256")
    backend.destroy(generated.ref)
    backend.destroy(generated.ref)  # idempotent
    with pytest.raises(KeyServiceError) as caught:
        backend.signer("ES256", "kid", generated.ref, None)
    assert caught.value.fault is KeyFault.BACKEND_UNAVAILABLE


def test_wrong_pin_or_token_is_unavailable(hsm_token: HsmToken) -> None:
    for label, pin in ((hsm_token.label, "0000"), ("no-such-token", hsm_token.pin)):
        with pytest.raises(KeyServiceError) as caught:
            Pkcs11Backend(hsm_token.module, label, pin)
        assert caught.value.fault is KeyFault.BACKEND_UNAVAILABLE
        assert pin not in str(caught.value)
