"""Compact JWS and JWT creation with a :class:`~keys.service.signer.Signer`: the one JWS signer of the project.

Assembled here rather than through a JOSE library so that a key whose private half never leaves an
HSM (:class:`~keys.service.pkcs11.Pkcs11Signer`) signs exactly like a software key
(:class:`~keys.service.signer.SoftwareSigner`): the library would need the private key object. Every
token the services produce goes through :func:`compact_jws` (ID and access tokens, logout tokens, signed
UserInfo, SD-JWT VCs, status list tokens, key-binding JWTs, request objects, the test wallet's proofs).

Usage::

    token = encode_jwt({"iss": issuer, "sub": sub}, signer)                     # typ JWT, alg and kid of signer
    vc = encode_jwt(payload, signer, typ="dc+sd-jwt", header={"x5c": chain})   # extra protected members
    kb = encode_jwt(claims, holder, typ="kb+jwt", with_kid=False)              # verified with the cnf key
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from keys.jose.b64 import b64url_encode
from keys.service.signer import Signer

#: Header members the signer sets itself; ``header`` may not name them again.
_SIGNER_MEMBERS: Final = frozenset({"alg", "kid", "typ"})


def json_bytes(value: object) -> bytes:
    """Compact UTF-8 JSON (RFC 8259) for JWT payloads and headers."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def compact_jws(
    signer: Signer, payload: bytes, *, typ: str | None = None, header: Mapping[str, Any] | None = None,
    with_kid: bool = True,
) -> str:
    """RFC 7515 §5.1 and §7.1: ``base64url(header).base64url(payload).base64url(signature)``.

    The protected header holds ``alg`` and (unless ``with_kid`` is false) ``kid`` of the signer, ``typ`` when
    given (RFC 7515 §4.1.9), then the extra ``header`` members (``x5c``, ``jwk``, ...), which must not name
    ``alg``, ``kid`` or ``typ`` again.
    """
    protected: dict[str, Any] = {"alg": signer.alg}
    if with_kid:
        protected["kid"] = signer.kid
    if typ is not None:
        protected["typ"] = typ
    extra = dict(header or {})
    if clash := _SIGNER_MEMBERS & extra.keys():
        raise ValueError(f"header members set by the signer: {sorted(clash)}")
    protected.update(extra)
    signing_input = f"{b64url_encode(json_bytes(protected))}.{b64url_encode(payload)}"
    return f"{signing_input}.{b64url_encode(signer.sign(signing_input.encode('ascii')))}"


def encode_jwt(
    claims: Mapping[str, object], signer: Signer, *, typ: str = "JWT", header: Mapping[str, Any] | None = None,
    with_kid: bool = True,
) -> str:
    """A signed JWT (RFC 7519 §7.1) whose payload is ``claims`` as compact UTF-8 JSON; see :func:`compact_jws`."""
    return compact_jws(signer, json_bytes(claims), typ=typ, header=header, with_kid=with_kid)
