"""The Authorization Request a Verifier sends to a Wallet (OpenID4VP 1.0 §5, RFC 9101 JAR).

An :class:`AuthorizationRequest` holds one transaction's parameters: ``response_type=vp_token``, the full
``client_id`` (prefix included, :mod:`.client_id`), ``response_mode`` ``direct_post`` or ``direct_post.jwt``
with its ``response_uri`` (§8.2, §8.3), a fresh ``nonce`` and ``state`` (at least 128 bits each, URL-safe
characters, §5.2 and §5.3), the ``dcql_query`` (§6) and ``client_metadata`` (§5.1: ``vp_formats_supported`` and,
for ``direct_post.jwt``, the ephemeral ``jwks`` and ``encrypted_response_enc_values_supported``).

It can be sent three ways (§5.4):

* **by value, unsigned** — every parameter in the URL (:meth:`~AuthorizationRequest.by_value`), JSON-valued
  parameters as JSON strings; the only way for the ``redirect_uri`` prefix;
* **by value, signed** — ``client_id`` plus ``request``, the Request Object
  (:meth:`~AuthorizationRequest.request_object`);
* **by reference** — ``client_id``, ``request_uri`` and ``request_uri_method=post`` (§5.10): the Wallet fetches
  the Request Object (GET, or POST with ``wallet_metadata``/``wallet_nonce``; the object then carries
  ``wallet_nonce``). HAIP 1.0 §5 requires signed requests by reference.

A Request Object is a JWS with ``typ: oauth-authz-req+jwt`` (§5: Wallets refuse any other), the chain in ``x5c``
(no ``kid``: the X.509 prefixes identify the key by certificate), ``aud`` ``https://self-issued.me/v2`` (§5.8,
static discovery), ``iat``/``exp`` bounding its use, and no ``iss`` (§5: the Wallet would ignore it).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final
from urllib.parse import urlencode

from credentials.dcql import SD_JWT_VC_FORMAT
from credentials.oid4vp.client_id import VerifierIdentity
from credentials.oid4vp.encryption import ENC_VALUES, ResponseKey
from keys.service.jws import encode_jwt

#: The Request Object ``typ`` (RFC 9101 §10.8, OpenID4VP 1.0 §5).
REQUEST_OBJECT_TYP: Final = "oauth-authz-req+jwt"
#: ``aud`` of a Request Object under static discovery (§5.8).
STATIC_AUDIENCE: Final = "https://self-issued.me/v2"
#: The Response Type of this Verifier (§5.6, HAIP: the only one).
RESPONSE_TYPE: Final = "vp_token"
#: Random octets in a ``nonce`` or ``state`` (§13.3 step 1 asks for at least 16).
RANDOM_OCTETS: Final = 32


class ResponseMode(StrEnum):
    """The Response Modes this Verifier offers (§8.2, §8.3)."""

    DIRECT_POST = "direct_post"
    DIRECT_POST_JWT = "direct_post.jwt"


def random_value() -> str:
    """A fresh ``nonce``/``state``: 256 bits from the OS CSPRNG, base64url (URL-safe characters only, §5.2)."""
    return secrets.token_urlsafe(RANDOM_OCTETS)


def client_metadata(
    response_key: ResponseKey | None, *, enc_values: Collection[str] = ENC_VALUES,
    algorithms: Collection[str] = ("ES256",),
) -> dict[str, Any]:
    """``client_metadata`` (§5.1, §11.1, Appendix B.3.3): the SD-JWT VC algorithms this Verifier accepts and,
    with a response key, its JWK Set and the ``enc`` values for the encrypted response."""
    algs = sorted(algorithms)
    metadata: dict[str, Any] = {
        "vp_formats_supported": {SD_JWT_VC_FORMAT: {"sd-jwt_alg_values": algs, "kb-jwt_alg_values": algs}},
    }
    if response_key is not None:
        metadata["jwks"] = {"keys": [response_key.public_jwk()]}
        metadata["encrypted_response_enc_values_supported"] = list(enc_values)
    return metadata


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """The parameters of one presentation request (module docstring)."""

    client_id: str
    response_uri: str
    response_mode: ResponseMode
    nonce: str
    state: str
    dcql_query: Mapping[str, Any]
    client_metadata: Mapping[str, Any]

    def parameters(self) -> dict[str, Any]:
        """The Authorization Request parameters, JSON-valued ones as objects."""
        return {
            "response_type": RESPONSE_TYPE,
            "client_id": self.client_id,
            "response_uri": self.response_uri,
            "response_mode": self.response_mode.value,
            "nonce": self.nonce,
            "state": self.state,
            "dcql_query": dict(self.dcql_query),
            "client_metadata": dict(self.client_metadata),
        }

    def by_value(self) -> dict[str, str]:
        """URL query parameters of the unsigned request (objects JSON-serialized, §5.1)."""
        return {k: v if isinstance(v, str) else json.dumps(v, separators=(",", ":"), ensure_ascii=False)
                for k, v in self.parameters().items()}

    def request_object(
        self, identity: VerifierIdentity, *, iat: dt.datetime, lifetime: dt.timedelta, wallet_nonce: str | None = None
    ) -> str:
        """The signed Request Object, valid from ``iat`` for ``lifetime``, with ``wallet_nonce`` when the Wallet
        sent one (§5.10)."""
        if identity.signer is None:
            raise ValueError("this Client Identifier Prefix cannot sign Request Objects")
        claims = self.parameters()
        claims.update({"aud": STATIC_AUDIENCE, "iat": int(iat.timestamp()), "exp": int((iat + lifetime).timestamp())})
        if wallet_nonce is not None:
            claims["wallet_nonce"] = wallet_nonce
        return encode_jwt(claims, identity.signer, typ=REQUEST_OBJECT_TYP, header={"x5c": identity.x5c()},
                          with_kid=False)

    def signed_by_value(self, request_object: str) -> dict[str, str]:
        """URL query parameters carrying the Request Object by value (RFC 9101 §5.1)."""
        return {"client_id": self.client_id, "request": request_object}

    def by_reference(self, request_uri: str) -> dict[str, str]:
        """URL query parameters pointing at the Request Object (RFC 9101 §5.2, OpenID4VP 1.0 §5.10)."""
        return {"client_id": self.client_id, "request_uri": request_uri, "request_uri_method": "post"}


def wallet_url(authorization_endpoint: str, query: Mapping[str, str]) -> str:
    """The Wallet invocation URL (§7): the Wallet's authorization endpoint (``openid4vp://``, ``haip-vp://`` or
    a claimed https URL) with the request parameters."""
    separator = "&" if "?" in authorization_endpoint else "?"
    return f"{authorization_endpoint}{separator}{urlencode(query)}"
