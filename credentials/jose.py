"""The strict JSON and unverified-JWS helpers the credentials package shares.

JWS creation is :func:`keys.service.jws.encode_jwt` (any protected header: ``x5c`` for SD-JWT VC and HAIP, no
``kid`` for a KB-JWT), the one signer for software and PKCS#11 keys; :func:`json_bytes` is its JSON encoding.
"""

from __future__ import annotations

from typing import Any

from keys.errors import MalformedInput, Reason
from keys.jose.b64 import b64url_decode
from keys.jose.json import loads_object
from keys.limits import Limits
from keys.service.jws import json_bytes as json_bytes


def unverified_header(jws: str, limits: Limits) -> dict[str, Any]:
    """The protected header of a compact JWS, strictly decoded, before any signature check.

    Used only to choose *how* to verify (``typ`` variant, ``x5c`` or issuer metadata); the header is then
    verified with the signature by :func:`keys.jose.verify_jws`.
    """
    header_b64 = jws.split(".", 1)[0]
    return loads_object(b64url_decode(header_b64, "JWS header"), what="JWS header", limits=limits)


def unverified_payload(jws: str, limits: Limits) -> dict[str, Any]:
    """The payload of a compact JWS as a strict JSON object, before any signature check (issuer lookup only)."""
    parts = jws.split(".")
    payload_b64 = parts[1] if len(parts) == 3 else ""
    return loads_object(b64url_decode(payload_b64, "JWS payload"), what="JWT claims", limits=limits)


def loads_value(data: bytes, *, what: str, limits: Limits, max_bytes: int) -> Any:
    """One strict JSON value of any type (:func:`keys.jose.json.loads_object` rules: no duplicate names, I-JSON
    strings and numbers, bounded depth).

    The value is parsed as the only member of a wrapping object; anything that is not exactly one JSON value
    either fails to parse or yields a second member, and is refused.
    """
    wrapped = loads_object(b'{"":' + data + b"}", what=what, limits=limits, max_bytes=max_bytes + 4)
    if list(wrapped) != [""]:
        raise MalformedInput(Reason.MALFORMED, f"{what} is not one JSON value")
    return wrapped[""]
