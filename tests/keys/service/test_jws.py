"""The one JWS signer: tokens from a software key and from a PKCS#11 key (SoftHSM) verify alike with the
project's own verifier (:func:`keys.jose.verify_jws`), with the header members the credentials need."""

from __future__ import annotations

import json

import pytest

from keys.jose import VerificationKey, verify_jws
from keys.jose.b64 import b64url_decode
from keys.service.jwks import public_jwk
from keys.service.jws import compact_jws, encode_jwt
from keys.service.pkcs11 import Pkcs11Backend
from keys.service.signer import SIGNING_ALGORITHMS, Signer, SoftwareSigner, generate_private_key
from tests.keys.service.softhsm import HsmToken

CLAIMS = {"iss": "https://op.example", "sub": "s", "name": "山田"}


def _software(alg: str) -> tuple[Signer, dict[str, str]]:
    key = generate_private_key(alg)
    jwk = public_jwk(key.public_key(), alg)
    return SoftwareSigner(key, alg, jwk["kid"]), jwk


@pytest.fixture(scope="module")
def hsm_backend(hsm_token: HsmToken) -> Pkcs11Backend:
    return Pkcs11Backend(hsm_token.module, hsm_token.label, hsm_token.pin)


@pytest.fixture(params=["software", "pkcs11"])
def signers(request: pytest.FixtureRequest) -> dict[str, tuple[Signer, dict[str, str]]]:
    """One signer per algorithm, in process memory or in the SoftHSM token."""
    if request.param == "software":
        return {alg: _software(alg) for alg in SIGNING_ALGORITHMS}
    backend: Pkcs11Backend = request.getfixturevalue("hsm_backend")
    made = {}
    for alg in SIGNING_ALGORITHMS:
        generated = backend.generate(alg)
        jwk = public_jwk(generated.public_key, alg)
        made[alg] = (backend.signer(alg, jwk["kid"], generated.ref, None), jwk)
    return made


@pytest.mark.parametrize("alg", SIGNING_ALGORITHMS)
def test_both_signers_verify_with_keys_jose(signers: dict[str, tuple[Signer, dict[str, str]]], alg: str) -> None:
    signer, jwk = signers[alg]
    key = VerificationKey.from_jwk(jwk, alg=alg)
    token = encode_jwt(CLAIMS, signer, typ="dc+sd-jwt", header={"extra": "member"})
    verified = verify_jws(token, algorithms={alg}, typ="dc+sd-jwt", keys=[key])
    assert json.loads(verified.payload) == CLAIMS
    assert dict(verified.header) == {"alg": alg, "kid": signer.kid, "typ": "dc+sd-jwt", "extra": "member"}


def test_without_kid_and_untyped() -> None:
    signer, jwk = _software("ES256")
    key = VerificationKey.from_jwk(jwk, alg="ES256")
    token = compact_jws(signer, b"payload", with_kid=False)
    assert json.loads(b64url_decode(token.split(".")[0], "header")) == {"alg": "ES256"}
    assert verify_jws(token, algorithms={"ES256"}, typ=None, keys=[key]).payload == b"payload"


@pytest.mark.parametrize("member", ["alg", "kid", "typ"])
def test_header_cannot_override_the_signer(member: str) -> None:
    signer, _ = _software("ES256")
    with pytest.raises(ValueError, match="set by the signer"):
        encode_jwt(CLAIMS, signer, header={member: "x"})
