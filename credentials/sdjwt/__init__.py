"""SD-JWT (RFC 9901), hand-written: issuance, Holder selection, Key Binding and strict verification.

Usage::

    issued = issue_sd_jwt({"iss": iss, "given_name": SD("太郎")}, signer=signer, typ="dc+sd-jwt")
    held = HeldSdJwt.parse(issued.compact)
    presentation = held.present([("given_name",)])
    presentation += key_binding_jwt(presentation, signer=holder, audience=aud, nonce=nonce, iat=now)
    verified = verify_sd_jwt(presentation, issuer=IssuerCheck(typ=("dc+sd-jwt",), keys=issuer_keys),
                             key_binding=KeyBindingPolicy(audience=aud, nonce=nonce), at=now)
"""

from credentials.sdjwt.compact import CompactSdJwt
from credentials.sdjwt.disclosure import DEFAULT_HASH_ALG, HASH_ALGS, Disclosure
from credentials.sdjwt.holder import HeldSdJwt
from credentials.sdjwt.issue import SD, IssuedSdJwt, Randomness, SecureRandomness, build_payload, issue_sd_jwt
from credentials.sdjwt.keybinding import KB_JWT_TYP, KeyBindingPolicy, key_binding_jwt
from credentials.sdjwt.verify import VALIDITY_CLAIMS, IssuerCheck, VerifiedSdJwt, verify_sd_jwt

__all__ = [
    "DEFAULT_HASH_ALG",
    "HASH_ALGS",
    "KB_JWT_TYP",
    "SD",
    "VALIDITY_CLAIMS",
    "CompactSdJwt",
    "Disclosure",
    "HeldSdJwt",
    "IssuedSdJwt",
    "IssuerCheck",
    "KeyBindingPolicy",
    "Randomness",
    "SecureRandomness",
    "VerifiedSdJwt",
    "build_payload",
    "issue_sd_jwt",
    "key_binding_jwt",
    "verify_sd_jwt",
]
