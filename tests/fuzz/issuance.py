"""Fuzz targets of OID4VCI and the test wallet: credential offer links, ``authorization_details``, Credential
and Notification Requests, SD-JWT VC issuer metadata and the wallet's reading of an Authorization Request.

Errors let through: :class:`credentials.oid4vci.errors.IssuanceError` (offers, requests),
:class:`credentials.oid4vci.authorization_details.InvalidAuthorizationDetails`,
:class:`credentials.errors.CredentialError` (issuer metadata), and for the wallet
:class:`credentials.wallet.http.WalletError` with the strict-JSON errors of :mod:`keys`
(:class:`keys.errors.VerificationError`)."""

from __future__ import annotations

import datetime as dt
import functools
import json
from contextlib import suppress
from urllib.parse import quote, urlencode

import httpx

from conformance.vc import load
from credentials.errors import CredentialError
from credentials.oid4vci.authorization_details import InvalidAuthorizationDetails, parse_authorization_details
from credentials.oid4vci.errors import IssuanceError
from credentials.oid4vci.offer import parse_offer_link
from credentials.oid4vci.request import parse_credential_request, parse_notification_request
from credentials.sdjwtvc import JwtVcIssuerMetadata
from credentials.wallet.http import WalletError
from credentials.wallet.presentation import read_request
from keys.errors import VerificationError
from keys.jose.json import loads_object
from tests.fuzz.harness import json_values, target
from tests.fuzz.jose import text

ISSUER = "https://id.example.jp"
AT = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)


def _link(document: object) -> bytes:
    return ("openid-credential-offer://?credential_offer=" + quote(json.dumps(document))).encode()


def _offer_seeds() -> dict[str, bytes]:
    offer = {"credential_issuer": ISSUER, "credential_configuration_ids": ["age"],
             "grants": {"urn:ietf:params:oauth:grant-type:pre-authorized_code": {
                 "pre-authorized_code": "abc", "tx_code": {"input_mode": "numeric", "length": 6}}}}
    return {"by_value": _link(offer),
            "by_reference": b"haip-vci://?credential_offer_uri=https%3A%2F%2Fid.example.jp%2Foffer%2F1",
            # regression: json.loads raised RecursionError on a deeply nested offer
            "regress-deep-json": b"openid-credential-offer://?credential_offer=" + b"[" * 3000,
            # regressions: urlsplit's ValueError (an unclosed IPv6 bracket) escaped
            "regress-ipv6-link": b"http://[",
            "regress-ipv6-issuer": _link(dict(offer, credential_issuer="https://["))}


@target("credential_offer", seeds=_offer_seeds, shaped=lambda: json_values(30).map(_link))
def credential_offer(data: bytes) -> None:
    """:func:`parse_offer_link` (OID4VCI 1.0 §4.1): the offer by value or the URI to fetch it from."""
    with suppress(IssuanceError):
        parse_offer_link(text(data), allow_http=False)


def _details_seeds() -> dict[str, bytes]:
    details = [{"type": "openid_credential", "credential_configuration_id": "age",
                "claims": [{"path": ["age_equal_or_over", "20"]}], "locations": [ISSUER]}]
    return {"details.json": json.dumps(details).encode(), "regress-deep-json": b"[" * 3000}


@target("authorization_details", seeds=_details_seeds,
        shaped=lambda: json_values(30).map(lambda v: json.dumps(v).encode()))
def authorization_details(data: bytes) -> None:
    """:func:`parse_authorization_details` (RFC 9396 §2, OID4VCI 1.0 §5.1.1) of a form value."""
    with suppress(InvalidAuthorizationDetails):
        parse_authorization_details(text(data), issuer=ISSUER)


@functools.cache
def offline() -> httpx.Client:
    """The wallet's HTTP client: every fetch answers 404 here (the by-value requests fetched nothing)."""
    return httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(404)))


def _request_url(query: object) -> bytes:
    params = {"client_id": "redirect_uri:https://verifier.example/r", "response_type": "vp_token",
              "response_mode": "direct_post", "response_uri": "https://verifier.example/r", "nonce": "n-1",
              "dcql_query": json.dumps(query)}
    return ("openid4vp://?" + urlencode(params)).encode()


def _request_seeds() -> dict[str, bytes]:
    query = {"credentials": [{"id": "age", "format": "dc+sd-jwt", "claims": [{"path": ["age_equal_or_over", "20"]}]}]}
    return {"by_value": _request_url(query), "regress-bad-json": _request_url(query)[:-6],
            "regress-deep-json": b"openid4vp://?client_id=redirect_uri%3Ax&dcql_query=" + b"[" * 3000,
            "regress-ipv6": b"openid4vp://["}


@target("wallet_request", seeds=_request_seeds, shaped=lambda: json_values(30).map(_request_url))
def wallet_request(data: bytes) -> None:
    """The wallet's :func:`read_request` of an Authorization Request URL (OpenID4VP 1.0 §5)."""
    with suppress(WalletError, VerificationError):
        read_request(text(data), http=offline(), at=AT)


def _credential_request_seeds() -> dict[str, bytes]:
    request = {"credential_configuration_id": "age", "proofs": {"jwt": ["eyJ.eyJ.sig"]}}
    return {"request.json": json.dumps(request).encode(),
            "identifier.json": json.dumps({"credential_identifier": "age-1", "proof": {"proof_type": "jwt",
                                                                                      "jwt": "a.b.c"}}).encode(),
            "notification.json": json.dumps({"notification_id": "n-1", "event": "credential_accepted"}).encode()}


@target("credential_request", seeds=_credential_request_seeds,
        shaped=lambda: json_values(30).map(lambda v: json.dumps(v).encode()))
def credential_request(data: bytes) -> None:
    """The issuer's :func:`parse_credential_request` (OID4VCI 1.0 §8.2) and :func:`parse_notification_request`
    (§11.1) of a strict JSON body."""
    with suppress(VerificationError):
        document = loads_object(data, what="request")
        with suppress(IssuanceError):
            parse_credential_request(document, batch_size=4)
        with suppress(IssuanceError):
            parse_notification_request(document)


def _metadata_seeds() -> dict[str, bytes]:
    return {"metadata.json": json.dumps(load("sd_jwt_vc.json")["issuer_metadata"]["document"]).encode(),
            "uri.json": json.dumps({"issuer": ISSUER, "jwks_uri": ISSUER + "/jwks"}).encode()}


@target("issuer_metadata", seeds=_metadata_seeds, shaped=lambda: json_values(30).map(lambda v: json.dumps(
    {"issuer": ISSUER, "jwks": v}).encode()))
def issuer_metadata(data: bytes) -> None:
    """:meth:`JwtVcIssuerMetadata.parse` (SD-JWT VC §5) of a fetched document, inline ``jwks`` or not."""
    with suppress(VerificationError):
        document = loads_object(data, what="issuer metadata")
        with suppress(CredentialError):
            JwtVcIssuerMetadata.parse(document, jwks=document.get("keys_for_uri") or {"keys": []})
