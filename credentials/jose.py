"""JWS creation with any protected header, and the strict JSON helpers the credentials package shares.

:func:`keys.service.jws.compact_jws` writes ``alg``, ``kid`` and ``typ`` only; credentials also need ``x5c``
(SD-JWT VC, HAIP) and a header without ``kid`` (a KB-JWT is verified with the ``cnf`` key, which has none).
Signing itself stays behind the :class:`keys.service.signer.Signer` protocol, so HSM keys sign alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from keys.errors import MalformedInput, Reason
from keys.jose.b64 import b64url_decode, b64url_encode
from keys.jose.json import loads_object
from keys.limits import Limits
from keys.service.signer import Signer


def json_bytes(value: object) -> bytes:
    """Compact UTF-8 JSON (RFC 8259) for JWT payloads and headers."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign_compact(
    signer: Signer, payload: Mapping[str, Any], *, typ: str, header: Mapping[str, Any] | None = None,
    with_kid: bool = True,
) -> str:
    """RFC 7515 §5.1 / §7.1: a compact JWS of ``payload`` with ``alg`` (and ``kid``) of the signer, ``typ``, and the
    extra ``header`` members (``x5c``, ...), which must not name ``alg``, ``kid`` or ``typ`` again."""
    protected: dict[str, Any] = {"alg": signer.alg, "typ": typ}
    if with_kid:
        protected["kid"] = signer.kid
    extra = dict(header or {})
    if clash := {"alg", "kid", "typ"} & extra.keys():
        raise ValueError(f"header members set by the signer: {sorted(clash)}")
    protected.update(extra)
    signing_input = f"{b64url_encode(json_bytes(protected))}.{b64url_encode(json_bytes(payload))}"
    return f"{signing_input}.{b64url_encode(signer.sign(signing_input.encode('ascii')))}"


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
