"""JWKs of the service keys and RFC 7638 thumbprints."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from keys.service.errors import KeyFault, KeyServiceError
from keys.service.jwks import jwk_thumbprint, jwks_document, public_jwk

# RFC 7638 §3.1: the example RSA key and its SHA-256 thumbprint.
RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3"
    "oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZ"
    "Hzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kE"
    "gU8awapJzKnqDKgw"
)
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_thumbprint_matches_rfc7638_example() -> None:
    jwk = {"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}
    assert jwk_thumbprint(jwk) == RFC7638_THUMBPRINT


def test_thumbprint_refuses_unknown_key_types() -> None:
    with pytest.raises(KeyServiceError) as caught:
        jwk_thumbprint({"kty": "oct", "k": "AAAA"})
    assert caught.value.fault is KeyFault.UNSUPPORTED_ALGORITHM


@pytest.mark.parametrize(("alg", "key"), [("ES256", ec.generate_private_key(ec.SECP256R1())),
                                          ("PS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))])
def test_public_jwk_round_trips_and_names_itself(alg: str, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    jwk = public_jwk(key.public_key(), alg)
    assert jwk["kid"] == jwk_thumbprint(jwk)
    assert (jwk["alg"], jwk["use"]) == (alg, "sig")
    assert not {"d", "p", "q"} & jwk.keys()
    loaded = jwt.PyJWK(jwk).key  # an independent JWK parser
    assert loaded.public_numbers() == key.public_key().public_numbers()


def test_p256_coordinates_keep_leading_zero_octets() -> None:
    # Find a key whose x starts with a zero octet: its base64url must still encode 32 octets.
    while True:
        key = ec.generate_private_key(ec.SECP256R1())
        if key.public_key().public_numbers().x < 1 << 248:
            break
    jwk = public_jwk(key.public_key(), "ES256")
    assert len(jwk["x"]) == 43


def test_other_curves_are_refused() -> None:
    with pytest.raises(KeyServiceError):
        public_jwk(ec.generate_private_key(ec.SECP384R1()).public_key(), "ES256")


def test_jwks_document_keeps_order() -> None:
    assert jwks_document([{"kid": "b"}, {"kid": "a"}]) == {"keys": [{"kid": "b"}, {"kid": "a"}]}
