"""JOSE for the verification core (pure): strict JWS/JWT verification, JWK import and thumbprints.

Specs: RFC 7515 (JWS), RFC 7517 (JWK), RFC 7518 (JWA), RFC 7519 (JWT), RFC 7638 (thumbprint), RFC 8037 (OKP),
RFC 8725 (JWT BCP). Usage::

    key = VerificationKey.from_jwk(client_jwk)               # bound to the JWK's alg (or its curve's)
    jwt = verify_jwt(assertion, keys=[key], algorithms={"ES256"}, typ=None,
                     issuer=client_id, audience=token_endpoint, at=now)
"""

from keys.jose.jwk import HmacKey, VerificationKey, jwk_thumbprint, parse_jwk, public_jwk, verification_keys
from keys.jose.jws import VerifiedJws, X5cTrust, verify_jws
from keys.jose.jwt import VerifiedJwt, verify_jwt

__all__ = [
    "HmacKey",
    "VerificationKey",
    "VerifiedJws",
    "VerifiedJwt",
    "X5cTrust",
    "jwk_thumbprint",
    "parse_jwk",
    "public_jwk",
    "verification_keys",
    "verify_jws",
    "verify_jwt",
]
