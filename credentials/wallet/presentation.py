"""Presenting credentials (OpenID4VP 1.0, wallet side): the request, DCQL, selective disclosure, key binding,
``direct_post``.

:func:`read_request` takes the Authorization Request URL (any scheme: ``openid4vp://``, ``haip-vp://``, https):

* by reference (``request_uri``, §5.10; ``request_uri_method`` ``get`` or ``post`` with a ``wallet_nonce``): the
  Request Object must be typed ``oauth-authz-req+jwt``, its ``client_id`` the URL's, and be signed as the Client
  Identifier Prefix demands (§5.9.3): ``x509_hash`` — the leaf of ``x5c`` hashes to the identifier and its key
  verifies the signature (with a verifier trust store, the whole chain must validate too); ``x509_san_dns`` — the
  chain validates to the verifier trust store and the leaf's dNSName is the identifier; ``redirect_uri`` —
  unsigned (``alg: none``), the response URI being the identifier;
* by value: only the ``redirect_uri`` prefix (nothing else may go unsigned).

The request must ask for ``response_type=vp_token`` with ``response_mode=direct_post`` and carry a ``nonce`` and a
``dcql_query``. :func:`present` matches the query against the wallet's credentials (:func:`credentials.dcql.
match_dcql`), releases exactly the claims the query selects — or, when the person chose, only ``disclose`` —
adds a KB-JWT (``aud`` the full Client Identifier, ``nonce``, ``iat``, ``sd_hash``) with each credential's own
holder key, and posts ``vp_token`` (and ``state``) to the response URI.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from cryptography import x509

from credentials.dcql import match_dcql
from credentials.sdjwt.holder import HeldSdJwt
from credentials.sdjwt.keybinding import key_binding_jwt
from credentials.sdjwt.process import Path
from credentials.wallet.http import WalletError
from credentials.wallet.keys import HolderKey
from credentials.wallet.store import WalletFile
from keys.errors import VerificationError
from keys.jose.b64 import b64_decode, b64url_decode, b64url_encode
from keys.jose.json import loads_object
from keys.jose.jws import X5cTrust
from keys.jose.jwt import verify_jwt
from keys.signatures import JOSE, PublicKey, SigAlg, verify_signature
from keys.trust import TrustStore
from keys.x509.profile import GENERIC

REQUEST_TYP = "oauth-authz-req+jwt"
_ALGORITHMS = frozenset({"ES256", "PS256", "RS256"})


@dataclass(frozen=True, slots=True)
class PresentationRequest:
    """A validated Authorization Request for a presentation."""

    client_id: str
    response_uri: str
    nonce: str
    state: str | None
    dcql_query: Mapping[str, Any]


def _unsigned(jwt: str) -> dict[str, Any]:
    header_b64, payload_b64, signature = [*jwt.split("."), "", "", ""][:3]
    header = loads_object(b64url_decode(header_b64, "header"), what="JWS header")
    if header.get("alg") != "none" or signature:
        raise WalletError("only redirect_uri requests may be unsigned, and those must be")
    if header.get("typ") != REQUEST_TYP:
        raise WalletError(f"the request object is not typed {REQUEST_TYP}")
    return loads_object(b64url_decode(payload_b64, "payload"), what="request object")


def _signed(jwt: str, client_id: str, trust: TrustStore | None, at: dt.datetime) -> dict[str, Any]:
    prefix, _, original = client_id.partition(":")
    header = loads_object(b64url_decode(jwt.split(".", 1)[0], "header"), what="JWS header")
    chain = header.get("x5c")
    if not isinstance(chain, list) or not chain:
        raise WalletError("the request object has no x5c chain")
    leaf_der = b64_decode(str(chain[0]), "x5c certificate")
    leaf = x509.load_der_x509_certificate(leaf_der)
    try:
        if prefix == "x509_hash":
            if b64url_encode(hashlib.sha256(leaf_der).digest()) != original:
                raise WalletError("x509_hash: the leaf certificate does not hash to the Client Identifier")
            if trust is None:  # the identifier pins the very certificate whose key must have signed
                return _verified_by(jwt, header, leaf)
        elif prefix == "x509_san_dns":
            if trust is None:
                raise WalletError("x509_san_dns needs a verifier trust store (--verifier-root)")
            names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            if original not in names.get_values_for_type(x509.DNSName):
                raise WalletError("x509_san_dns: the Client Identifier is not a dNSName of the leaf certificate")
        else:
            raise WalletError(f"unsupported Client Identifier Prefix {prefix!r}")
        return dict(verify_jwt(jwt, algorithms=_ALGORITHMS, typ=REQUEST_TYP, issuer=None, audience=None, at=at,
                               required_claims=(), x5c=X5cTrust(trust, GENERIC, at)).claims)
    except VerificationError as exc:
        raise WalletError(f"the request object does not verify: {exc.reason.value}", exc.reason.value) from None


def _verified_by(jwt: str, header: Mapping[str, Any], leaf: x509.Certificate) -> dict[str, Any]:
    """The payload of ``jwt`` signed by the key of the pinned ``leaf`` (strict ``alg`` and ``typ``)."""
    header_b64, payload_b64, signature_b64 = jwt.split(".")
    alg, public = header.get("alg"), leaf.public_key()
    if alg not in _ALGORITHMS or header.get("typ") != REQUEST_TYP or not isinstance(public, PublicKey):
        raise WalletError(f"the request object is not a {REQUEST_TYP} signed with an accepted algorithm")
    verify_signature(public, b64url_decode(signature_b64, "signature"), f"{header_b64}.{payload_b64}".encode("ascii"),
                     alg=SigAlg(str(alg)), policy=JOSE)
    return loads_object(b64url_decode(payload_b64, "payload"), what="request object")


def read_request(url: str, *, http: httpx.Client | None = None, trust: TrustStore | None = None,
                 at: dt.datetime | None = None) -> PresentationRequest:
    """Fetch (by reference) and validate an Authorization Request (rules in the module docstring)."""
    now = at or dt.datetime.now(dt.UTC)
    client = http or httpx.Client(timeout=30)
    try:
        params = dict(parse_qsl(urlsplit(url).query, keep_blank_values=False))
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise WalletError("the request is not a URL") from None
    client_id = params.get("client_id", "")
    if "request_uri" in params:
        wallet_nonce = None
        if params.get("request_uri_method") == "post":
            wallet_nonce = secrets.token_urlsafe(16)
            metadata = {"vp_formats_supported": {"dc+sd-jwt": {"sd-jwt_alg_values": ["ES256"],
                                                               "kb-jwt_alg_values": ["ES256"]}}}
            fetched = client.post(params["request_uri"], headers={"Accept": "application/oauth-authz-req+jwt"},
                                  data={"wallet_nonce": wallet_nonce, "wallet_metadata": json.dumps(metadata)})
        else:
            fetched = client.get(params["request_uri"], headers={"Accept": "application/oauth-authz-req+jwt"})
        if fetched.status_code != 200:
            raise WalletError(f"request_uri: {fetched.status_code}", status=fetched.status_code)
        jwt = fetched.text.strip()
        claims = _unsigned(jwt) if client_id.startswith("redirect_uri:") else _signed(jwt, client_id, trust, now)
        if claims.get("client_id") != client_id:
            raise WalletError("the request object's client_id is not the request's")
        if wallet_nonce is not None and claims.get("wallet_nonce") != wallet_nonce:
            raise WalletError("the request object does not carry our wallet_nonce")
    else:
        if not client_id.startswith("redirect_uri:"):
            raise WalletError("a request by value is accepted only with the redirect_uri prefix (it cannot be signed)")
        claims = dict(params)
        if "dcql_query" in claims:
            try:
                claims["dcql_query"] = json.loads(claims["dcql_query"])
            except (ValueError, RecursionError):  # RecursionError: nesting deeper than the interpreter's stack
                raise WalletError("the request's dcql_query is not JSON") from None
    return _validated(claims, client_id)


def _validated(claims: Mapping[str, Any], client_id: str) -> PresentationRequest:
    if claims.get("response_type") != "vp_token":
        raise WalletError("response_type must be vp_token")
    if claims.get("response_mode") != "direct_post":
        raise WalletError("this wallet answers with response_mode direct_post only")
    response_uri, nonce, query = claims.get("response_uri"), claims.get("nonce"), claims.get("dcql_query")
    if not isinstance(response_uri, str) or not isinstance(nonce, str) or not nonce or not isinstance(query, Mapping):
        raise WalletError("the request lacks response_uri, nonce or dcql_query")
    if client_id.startswith("redirect_uri:") and response_uri != client_id.removeprefix("redirect_uri:"):
        raise WalletError("redirect_uri prefix: the response URI must be the Client Identifier")
    state = claims.get("state")
    return PresentationRequest(client_id, response_uri, nonce, state if isinstance(state, str) else None, query)


def parse_path(text: str) -> Path:
    """A claim path from ``a.b.0`` or a JSON array."""
    if text.startswith("["):
        return tuple(json.loads(text))
    return tuple(int(p) if p.isdigit() else p for p in text.split("."))


@dataclass(frozen=True, slots=True)
class Presented:
    """What was sent and what the verifier answered."""

    vp_token: Mapping[str, list[str]]
    status: int
    response: Any


def present(wallet: WalletFile, request: PresentationRequest, *, disclose: Sequence[Path] | None = None,
            http: httpx.Client | None = None, at: dt.datetime | None = None) -> Presented:
    """Answer ``request`` from the wallet's credentials (see the module docstring)."""
    now = at or dt.datetime.now(dt.UTC)
    held = [HeldSdJwt.parse(c["credential"]) for c in wallet.credentials]
    selections = match_dcql(request.dcql_query, held)
    vp_token: dict[str, list[str]] = {}
    for query_id, chosen in selections.items():
        for selection in chosen:
            sd_jwt = selection.presentation if disclose is None else held[selection.credential].present(disclose)
            if selection.key_binding:
                key = HolderKey.from_jwk(wallet.credentials[selection.credential]["key"])
                sd_jwt += key_binding_jwt(sd_jwt, signer=key.signer, audience=request.client_id, nonce=request.nonce,
                                          iat=now)
            vp_token.setdefault(query_id, []).append(sd_jwt)
    form = {"vp_token": json.dumps(vp_token)}
    if request.state is not None:
        form["state"] = request.state
    response = (http or httpx.Client(timeout=30)).post(request.response_uri, data=form)
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    return Presented(vp_token, response.status_code, body)


__all__ = ["REQUEST_TYP", "PresentationRequest", "Presented", "parse_path", "present", "read_request"]
