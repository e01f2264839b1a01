"""Fuzz targets of OID4VCI and the test wallet: credential offer links, ``authorization_details`` and the
wallet's reading of an Authorization Request by value.

Errors let through: :class:`credentials.oid4vci.errors.IssuanceError` (offers),
:class:`credentials.oid4vci.authorization_details.InvalidAuthorizationDetails`, and for the wallet
:class:`credentials.wallet.http.WalletError` with the strict-JSON errors of :mod:`keys`
(:class:`keys.errors.VerificationError`)."""

from __future__ import annotations

import datetime as dt
import functools
import json
from contextlib import suppress
from urllib.parse import quote, urlencode

import httpx

from credentials.oid4vci.authorization_details import InvalidAuthorizationDetails, parse_authorization_details
from credentials.oid4vci.errors import IssuanceError
from credentials.oid4vci.offer import parse_offer_link
from credentials.wallet.http import WalletError
from credentials.wallet.presentation import read_request
from keys.errors import VerificationError
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
