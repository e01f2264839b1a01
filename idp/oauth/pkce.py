"""PKCE (RFC 7636) with the S256 method only (RFC 9700 §2.1.1; FAPI 2.0 Security Profile §5.3.2.2)."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Final

from idp.errors import InvalidRequest
from keys.jose.b64 import b64url_encode

S256: Final = "S256"
#: The ``code_challenge_methods_supported`` (RFC 8414 §2): S256 only, never ``plain``.
CODE_CHALLENGE_METHODS: Final = (S256,)
#: RFC 7636 §4.1: code-verifier = 43*128unreserved.
_VERIFIER: Final = re.compile(r"[A-Za-z0-9._~-]{43,128}")
#: An S256 challenge is the base64url (no padding) of a SHA-256 digest: 43 characters (RFC 7636 §4.2).
_CHALLENGE: Final = re.compile(r"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]")


def check_code_challenge(challenge: str | None, method: str | None) -> str:
    """The authorization request's ``code_challenge`` (RFC 7636 §4.3), required for every client with method
    S256; a missing challenge, a missing method (which would mean ``plain``) and ``plain`` itself are refused
    with :class:`idp.errors.InvalidRequest` (RFC 7636 §4.4.1, RFC 9700 §2.1.1)."""
    if challenge is None:
        raise InvalidRequest("code_challenge is required (PKCE, RFC 7636)")
    if method != S256:
        raise InvalidRequest("code_challenge_method must be S256")
    if not _CHALLENGE.fullmatch(challenge):
        raise InvalidRequest("code_challenge must be the base64url SHA-256 of the code_verifier (RFC 7636 §4.2)")
    return challenge


def s256_challenge(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))."""
    return b64url_encode(hashlib.sha256(verifier.encode("ascii")).digest())


def well_formed_verifier(verifier: str) -> bool:
    """RFC 7636 §4.1: code-verifier = 43*128unreserved."""
    return _VERIFIER.fullmatch(verifier) is not None


def verify_code_verifier(verifier: str, challenge: str) -> bool:
    """RFC 7636 §4.6: whether ``verifier`` is well-formed (§4.1) and its S256 challenge equals ``challenge``
    (compared in constant time)."""
    if not well_formed_verifier(verifier):
        return False
    return hmac.compare_digest(s256_challenge(verifier).encode("ascii"), challenge.encode("utf-8"))
