"""The ``jpki_sign`` authorization details type (RFC 9396 §2; shaped like its Appendix A.3 ``sign`` example): "sign
these digests with the card's signing key".

Two forms of one entry (exactly one of them)::

    {"type": "jpki_sign",
     "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1",
     "documentDigests": [{"hash": "<base64 digest>", "label": "Credit Contract"}],
     "signatureFormat": "cades-bes"}                     # optional: "cades-bes" (default) or "pades"

    {"type": "jpki_sign",
     "documentDigestInfos": [{"digestInfo": "<base64 DER DigestInfo>", "label": "Application to J-LIS"}]}

``hash`` and ``digestInfo`` are base64 with padding (RFC 4648 §4, as in App. A.3). Validated strictly (RFC 9396 §5:
anything else is ``invalid_authorization_details``): no other members (``locations``, a list of strings, is
accepted and carries nothing we act on); the hash algorithm on the allow-list of :mod:`keys.cms.digest_info`
(SHA-256/384/512), each digest exactly that algorithm's length, a DigestInfo in strict DER with NULL parameters;
1 to :data:`MAX_DOCUMENTS` documents; one ``jpki_sign`` entry per request; labels that may be shown
(:func:`keys.cms.display.displayable_label`: 1 to 100 characters, no control, format, private-use or unassigned
character: labels are shown on the consent page and on the card agent's PIN pad, nothing may hide text there).

A request with this type always needs a new card login with the signing key (``fresh_login``, ``acr`` sign-cert):
a browser session never stands in for the signing password. The token response returns the granted entries
(RFC 9396 §7); the grant names the signing request (member ``signing_request``), whose results the business
fetches once (:mod:`idp.endpoints.sign_results`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from idp.login.authenticator import ACR_SIGN
from idp.oauth.authorization_request.details import (
    AuthorizationDetailsType,
    InvalidAuthorizationDetailsError,
    Login,
    register_authorization_details_type,
)
from idp.oauth.authorization_request.request import AuthorizationRequest
from idp.runtime import Services
from idp.sign.requests import PROFILES, Document, SigningRequests
from keys.cms.digest_info import HashAlgorithm, encode_digest_info, hash_algorithm_by_oid, parse_digest_info
from keys.cms.display import MAX_LABEL_CHARS, displayable_label
from keys.errors import VerificationError

JPKI_SIGN: Final = "jpki_sign"
MAX_DOCUMENTS: Final = 10
#: The grant member naming the signing request whose results the grant's access tokens may fetch.
GRANT_MEMBER: Final = "signing_request"
_MEMBERS: Final = frozenset({"type", "locations", "hashAlgorithmOID", "documentDigests", "documentDigestInfos",
                             "signatureFormat"})


def _invalid(what: str) -> InvalidAuthorizationDetailsError:
    return InvalidAuthorizationDetailsError(f"jpki_sign: {what}")


def _base64(value: object, what: str) -> bytes:
    if not isinstance(value, str) or len(value) > 256:
        raise _invalid(f"{what} is base64")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(f"{what} is base64 (RFC 4648 §4, with padding)") from None


def _label(value: object) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_LABEL_CHARS:
        raise _invalid(f"a label is 1 to {MAX_LABEL_CHARS} characters")
    if not displayable_label(value):
        raise _invalid("a label has no control, format or private-use characters and no surrounding spaces")
    return value


def _items(entry: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    items = entry[name]
    if not isinstance(items, list) or not 0 < len(items) <= MAX_DOCUMENTS:
        raise _invalid(f"{name} is an array of 1 to {MAX_DOCUMENTS} objects")
    for item in items:
        if not isinstance(item, Mapping):
            raise _invalid(f"{name} is an array of objects")
    return items


def _digest_documents(entry: Mapping[str, Any], profile: str) -> tuple[Document, ...]:
    oid = entry.get("hashAlgorithmOID")
    if not isinstance(oid, str):
        raise _invalid("hashAlgorithmOID is required with documentDigests")
    try:
        algorithm = hash_algorithm_by_oid(oid)
    except VerificationError:
        raise _invalid(f"hash algorithm {oid[:64]} is not allowed (allowed: "
                       f"{', '.join(a.oid for a in HashAlgorithm)})") from None
    documents = []
    for item in _items(entry, "documentDigests"):
        if set(item) != {"hash", "label"}:
            raise _invalid("each document digest has exactly hash and label")
        digest = _base64(item["hash"], "hash")
        if len(digest) != algorithm.digest_size:
            raise _invalid(f"a {algorithm.value} digest is {algorithm.digest_size} octets, not {len(digest)}")
        documents.append(Document(_label(item["label"]), algorithm.value, digest,
                                  encode_digest_info(algorithm, digest), profile))
    return tuple(documents)


def _digest_info_documents(entry: Mapping[str, Any], profile: str) -> tuple[Document, ...]:
    if "hashAlgorithmOID" in entry:
        raise _invalid("hashAlgorithmOID goes with documentDigests (a DigestInfo names its algorithm)")
    documents = []
    for item in _items(entry, "documentDigestInfos"):
        if set(item) != {"digestInfo", "label"}:
            raise _invalid("each document DigestInfo has exactly digestInfo and label")
        der = _base64(item["digestInfo"], "digestInfo")
        try:
            algorithm, digest = parse_digest_info(der)
        except VerificationError as exc:
            raise _invalid(f"digestInfo: {exc.detail}") from None
        documents.append(Document(_label(item["label"]), algorithm.value, digest, der, profile))
    return tuple(documents)


def documents_of(entry: Mapping[str, Any]) -> tuple[Document, ...]:
    """The documents of one ``jpki_sign`` entry, validated (raises ``invalid_authorization_details``)."""
    unknown = set(entry) - _MEMBERS
    if unknown:
        raise _invalid(f"unknown member {sorted(unknown)[0][:64]!r}")
    locations = entry.get("locations")
    if locations is not None and not (isinstance(locations, list) and all(isinstance(x, str) for x in locations)):
        raise _invalid("locations is an array of strings (RFC 9396 §2.2)")
    profile = entry.get("signatureFormat", "cades-bes")
    if profile not in PROFILES:
        raise _invalid(f"signatureFormat is one of {', '.join(PROFILES)}")
    if ("documentDigests" in entry) == ("documentDigestInfos" in entry):
        raise _invalid("exactly one of documentDigests and documentDigestInfos")
    if "documentDigests" in entry:
        return _digest_documents(entry, profile)
    return _digest_info_documents(entry, profile)


def parse_entries(entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``jpki_sign`` entries of a request, validated and normalised (RFC 9396 §5): one entry per request."""
    if len(entries) != 1:
        raise _invalid("one jpki_sign entry per request (it may list several documents)")
    entry = entries[0]
    documents_of(entry)
    return [{name: entry[name] for name in sorted(_MEMBERS) if name in entry}]


def requested_documents(request: AuthorizationRequest) -> tuple[Document, ...]:
    """The documents a (validated) authorization request asks to sign; empty when it asks for none."""
    return tuple(d for entry in request.details_of(JPKI_SIGN) for d in documents_of(entry))


def signing_request_of(grant: Mapping[str, Any] | None) -> str | None:
    """The signing request an access token's grant may fetch the results of."""
    value = None if grant is None else grant.get(GRANT_MEMBER)
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class GrantedSigning:
    """What a ``jpki_sign`` request granted: the signed request's results, for the grant's access tokens."""

    request_id: str
    entries: tuple[Mapping[str, Any], ...]

    def grant_members(self, *, by_identifier: bool) -> dict[str, Any]:
        """The grant names the signing request."""
        return {GRANT_MEMBER: self.request_id}

    def token_details(self) -> list[dict[str, Any]]:
        """RFC 9396 §7: the granted entries, as requested."""
        return [dict(entry) for entry in self.entries]


async def on_code(services: Services, request: AuthorizationRequest, login: Login, *, approved: Collection[str],
                  now: dt.datetime) -> GrantedSigning | None:
    """At code issuance: the login's verified signatures move to the grant (kept until fetched or the refresh
    lifetime ends). Nothing when the request asked for no signature (or the login carried none; the interaction's
    resume step refuses that case before a code is issued)."""
    if not request.details_of(JPKI_SIGN) or login.signing_request is None:
        return None
    expires_at = now + dt.timedelta(seconds=services.settings.tokens.refresh_token_ttl)
    granted = await SigningRequests(services.objects).grant(login.signing_request, expires_at=expires_at, now=now)
    return None if granted is None else GrantedSigning(granted.id, request.details_of(JPKI_SIGN))


JPKI_SIGN_TYPE: Final = AuthorizationDetailsType(JPKI_SIGN, on_code, parse_entries, fresh_login=True, acr=ACR_SIGN)


def install() -> None:
    """Register ``jpki_sign`` with :mod:`idp.oauth` (idempotent)."""
    register_authorization_details_type(JPKI_SIGN_TYPE)


__all__ = ["GRANT_MEMBER", "JPKI_SIGN", "JPKI_SIGN_TYPE", "MAX_DOCUMENTS", "MAX_LABEL_CHARS", "GrantedSigning",
           "documents_of", "install", "parse_entries", "requested_documents", "signing_request_of"]
