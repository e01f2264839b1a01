"""Compact JWS and JWT creation with a :class:`~keys.service.signer.Signer`.

Assembled here rather than through a JOSE library so that a key whose private half never leaves an
HSM signs exactly like a software key: the library would need the private key object.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from keys.service.jwks import b64url
from keys.service.signer import Signer


def _json(value: Mapping[str, object]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def compact_jws(signer: Signer, payload: bytes, *, typ: str | None = None) -> str:
    """RFC 7515 §5.1 and §7.1: ``b64url(header).b64url(payload).b64url(signature)``.

    The protected header holds ``alg`` and ``kid`` of the signer, and ``typ`` when given (RFC 7515 §4.1.9).
    """
    header: dict[str, str] = {"alg": signer.alg, "kid": signer.kid}
    if typ is not None:
        header["typ"] = typ
    signing_input = f"{b64url(_json(header))}.{b64url(payload)}"
    return f"{signing_input}.{b64url(signer.sign(signing_input.encode('ascii')))}"


def encode_jwt(claims: Mapping[str, object], signer: Signer, *, typ: str = "JWT") -> str:
    """A signed JWT (RFC 7519 §7.1) whose payload is ``claims`` as compact UTF-8 JSON."""
    return compact_jws(signer, _json(claims), typ=typ)
