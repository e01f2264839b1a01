"""Credential Offers (OpenID4VCI 1.0 §4.1): the offer object, by value or by reference, as a deep link and a QR code.

* :class:`CredentialOffer` is the JSON object of §4.1.1 with its two grants: ``authorization_code``
  (``issuer_state``) and ``urn:ietf:params:oauth:grant-type:pre-authorized_code`` (``pre-authorized_code`` and the
  ``tx_code`` *description*). The Transaction Code itself has no field here: it never travels in an offer
  (§4.1.1; the errata text), the End-User reads it from another channel.
* :func:`offer_link` writes ``openid-credential-offer://?credential_offer=…`` (by value, §4.1.2) or
  ``…?credential_offer_uri=…`` (by reference, §4.1.3, what a QR code should carry); :func:`parse_offer_link` is
  the wallet side; :func:`qr_svg` draws the link (segno).
* :meth:`CredentialOffer.parse` validates an offer strictly (wallet side): issuer an https URL (http on loopback
  only when ``allow_http``), unique configuration identifiers, grants well-formed.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

import segno

from credentials.oid4vci.errors import IssuanceError, IssuanceErrorCode, IssuanceReason

PRE_AUTHORIZED_CODE_GRANT: Final = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
AUTHORIZATION_CODE_GRANT: Final = "authorization_code"
#: The custom scheme of §12.1.1 and the HAIP 1.0 one.
OFFER_SCHEME: Final = "openid-credential-offer://"
HAIP_SCHEME: Final = "haip-vci://"
#: Largest offer a wallet reads (by value or fetched by reference).
MAX_OFFER_OCTETS: Final = 16 * 1024
_MAX_DESCRIPTION: Final = 300


def _bad(detail: str) -> IssuanceError:
    return IssuanceError(IssuanceErrorCode.INVALID_CREDENTIAL_REQUEST, IssuanceReason.MALFORMED_REQUEST,
                         f"credential offer: {detail}")


@dataclass(frozen=True, slots=True)
class TxCode:
    """The ``tx_code`` object: how the Transaction Code looks (never its value)."""

    input_mode: Literal["numeric", "text"] = "numeric"
    length: int | None = None
    description: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The offer member."""
        member: dict[str, Any] = {"input_mode": self.input_mode}
        if self.length is not None:
            member["length"] = self.length
        if self.description is not None:
            member["description"] = self.description[:_MAX_DESCRIPTION]
        return member


@dataclass(frozen=True, slots=True)
class CredentialOffer:
    """A Credential Offer object (§4.1.1)."""

    credential_issuer: str
    credential_configuration_ids: tuple[str, ...]
    issuer_state: str | None = None
    authorization_code: bool = False
    pre_authorized_code: str | None = None
    tx_code: TxCode | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object."""
        grants: dict[str, Any] = {}
        if self.authorization_code:
            grants[AUTHORIZATION_CODE_GRANT] = {} if self.issuer_state is None else {"issuer_state": self.issuer_state}
        if self.pre_authorized_code is not None:
            grant: dict[str, Any] = {"pre-authorized_code": self.pre_authorized_code}
            if self.tx_code is not None:
                grant["tx_code"] = self.tx_code.to_json()
            grants[PRE_AUTHORIZED_CODE_GRANT] = grant
        return {"credential_issuer": self.credential_issuer,
                "credential_configuration_ids": list(self.credential_configuration_ids), "grants": grants}

    @classmethod
    def parse(cls, value: object, *, allow_http: bool = False) -> CredentialOffer:
        """Validate an offer object (wallet side); unknown members are ignored (§4.1.1)."""
        if not isinstance(value, Mapping):
            raise _bad("not a JSON object")
        issuer = value.get("credential_issuer")
        if not isinstance(issuer, str) or not _issuer_url(issuer, allow_http):
            raise _bad("credential_issuer is not an https URL without query or fragment")
        ids = value.get("credential_configuration_ids")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids) \
                or len(set(ids)) != len(ids):
            raise _bad("credential_configuration_ids is not a non-empty array of unique strings")
        grants = value.get("grants", {})
        if not isinstance(grants, Mapping):
            raise _bad("grants is not an object")
        state, code, tx_code = None, None, None
        auth = grants.get(AUTHORIZATION_CODE_GRANT)
        if auth is not None:
            if not isinstance(auth, Mapping) or not isinstance(auth.get("issuer_state", ""), str):
                raise _bad("the authorization_code grant is malformed")
            state = auth.get("issuer_state")
        pre = grants.get(PRE_AUTHORIZED_CODE_GRANT)
        if pre is not None:
            if not isinstance(pre, Mapping) or not isinstance(pre.get("pre-authorized_code"), str) \
                    or not pre["pre-authorized_code"]:
                raise _bad("the pre-authorized_code grant has no pre-authorized_code")
            code = pre["pre-authorized_code"]
            if "tx_code" in pre:
                tx_code = _tx_code(pre["tx_code"])
        return cls(issuer, tuple(ids), state, auth is not None, code, tx_code)


def _tx_code(value: object) -> TxCode:
    if not isinstance(value, Mapping):
        raise _bad("tx_code is not an object")
    mode, length, description = value.get("input_mode", "numeric"), value.get("length"), value.get("description")
    if mode not in ("numeric", "text"):
        raise _bad("tx_code input_mode is numeric or text")
    if length is not None and (isinstance(length, bool) or not isinstance(length, int) or not 0 < length <= 64):
        raise _bad("tx_code length is a small positive integer")
    if description is not None and (not isinstance(description, str) or len(description) > _MAX_DESCRIPTION):
        raise _bad("tx_code description is a string of at most 300 characters")
    return TxCode(mode, length, description)


def _issuer_url(url: str, allow_http: bool) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return False
    if parts.query or parts.fragment or not parts.hostname or parts.username:
        return False
    if parts.scheme == "https":
        return True
    if parts.scheme != "http" or not allow_http:
        return False
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return parts.hostname == "localhost"


def offer_link(*, offer: CredentialOffer | None = None, uri: str | None = None, scheme: str = OFFER_SCHEME) -> str:
    """The deep link carrying ``offer`` by value or ``uri`` by reference (exactly one of them)."""
    if (offer is None) == (uri is None):
        raise ValueError("an offer link carries the offer or its URI, not both")
    if offer is not None:
        query = {"credential_offer": json.dumps(offer.to_json(), separators=(",", ":"), ensure_ascii=False)}
    else:
        query = {"credential_offer_uri": str(uri)}
    return f"{scheme}?{urlencode(query)}"


def parse_offer_link(link: str, *, allow_http: bool = False) -> CredentialOffer | str:
    """The offer of a deep link (any scheme): the offer itself (by value) or the URI to fetch it from."""
    if len(link.encode("utf-8")) > MAX_OFFER_OCTETS:
        raise _bad("the link is too large")
    try:
        params = dict(parse_qsl(urlsplit(link).query, keep_blank_values=False))
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise _bad("the link is not a URL") from None
    if ("credential_offer" in params) == ("credential_offer_uri" in params):
        raise _bad("exactly one of credential_offer and credential_offer_uri")
    if "credential_offer_uri" in params:
        uri = params["credential_offer_uri"]
        if not _issuer_url(uri.split("?", 1)[0], allow_http):
            raise _bad("credential_offer_uri is not an https URL")
        return uri
    try:
        document = json.loads(params["credential_offer"])
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the interpreter's stack
        raise _bad("credential_offer is not JSON") from None
    return CredentialOffer.parse(document, allow_http=allow_http)


def qr_svg(link: str, *, title: str = "Credential offer") -> str:
    """An inline SVG QR code of ``link`` (error correction M)."""
    return str(segno.make(link, error="m").svg_inline(scale=4, title=title))


__all__ = ["AUTHORIZATION_CODE_GRANT", "HAIP_SCHEME", "MAX_OFFER_OCTETS", "OFFER_SCHEME", "PRE_AUTHORIZED_CODE_GRANT",
           "CredentialOffer", "TxCode", "offer_link", "parse_offer_link", "qr_svg"]
