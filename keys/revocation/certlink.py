"""Certificate links from a platform operator (証明書紐付け, oidc-anchors.md §1): which certificate a renewed one
replaces, and the pure judgement of the operator's answer.

J-LIS gives platform operators the link from an old certificate to the new one issued to the same person (on
renewal, and for a signing certificate on any change of the 4 facts). A provider keeps no certificate, so it asks
the other way round, about the certificate it has just seen, and learns the predecessor's PUBLIC KEY — all it
needs to find the account (:func:`keys.cardlogin.account_id_for`) and nothing personal.

JSON contract (version 1, next to the status request of :mod:`keys.revocation.platform`, same operator key):

Request::

    {"link_for": "<base64url DER of the certificate>", "purpose": "auth" | "sign", "nonce": "<base64url>"}

Answer: a compact JWS (``typ`` :data:`LINK_TYPE`) whose payload has exactly these members:

========================  ================  ===================================================================
member                    type              meaning
========================  ================  ===================================================================
``operator``              string            operator id (as configured for the pinned key)
``certificate_sha256``    string            lower-case hex SHA-256 of the certificate asked about
``previous``              object or null    the certificate it replaced: ``{"public_key": "<base64url SPKI
                                            DER>", "purpose": "auth" | "sign"}``; ``null`` when J-LIS links none
``checked_at``            string            RFC 3339 UTC: when the operator looked the link up
``nonce``                 string            the request nonce echoed, base64url
========================  ================  ===================================================================

:func:`judge_link_answer` fails closed: an unverified signature (``BAD_SIGNATURE``), another operator, another
certificate or nonce (``REVOCATION_SCOPE``, ``NONCE_MISMATCH``), an answer from the future or older than
``max_age`` (``STALE_REVOCATION_DATA``), a predecessor of another purpose or not an RSA key (``MALFORMED``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from keys.cardlogin import account_id_for
from keys.errors import InvalidSignature, MalformedInput, Reason, RevocationUnavailable
from keys.jose.b64 import b64url_decode_loose
from keys.revocation.status import DEFAULT_SKEW
from keys.x509.profile import Purpose

LINK_TYPE = "platform-link+jws"
_MEMBERS = frozenset({"operator", "certificate_sha256", "previous", "checked_at", "nonce"})
_ISO = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True, slots=True)
class LinkAnswer:
    """An operator's certificate-link answer; ``previous_key_id`` is the predecessor's key id, or ``None``."""

    operator: str
    certificate_sha256: str
    previous_key_id: str | None
    checked_at: dt.datetime
    nonce: bytes


def parse_link_answer(payload: Mapping[str, object], *, purpose: Purpose) -> LinkAnswer:
    """Read a verified answer's payload (strict members), deriving the predecessor's key id for ``purpose``."""
    if set(payload) != _MEMBERS:
        raise MalformedInput(Reason.MALFORMED, "link answer members are not the contract's")
    operator, digest, checked, nonce = (payload[n] for n in ("operator", "certificate_sha256", "checked_at", "nonce"))
    if not all(isinstance(v, str) and v for v in (operator, digest, checked, nonce)):
        raise MalformedInput(Reason.MALFORMED, "link answer members are not non-empty strings")
    try:
        checked_at = dt.datetime.strptime(str(checked), _ISO).replace(tzinfo=dt.UTC)
        nonce_octets = b64url_decode_loose(str(nonce))
    except ValueError:
        raise MalformedInput(Reason.MALFORMED, "link answer checked_at or nonce") from None
    previous = payload["previous"]
    key_id = None
    if previous is not None:
        if not isinstance(previous, dict) or set(previous) != {"public_key", "purpose"}:
            raise MalformedInput(Reason.MALFORMED, "link answer previous is not {public_key, purpose}")
        if previous["purpose"] != purpose.value:
            raise MalformedInput(Reason.MALFORMED, "link answer names a certificate of another purpose")
        try:
            public_key = load_der_public_key(b64url_decode_loose(str(previous["public_key"])))
        except ValueError:
            raise MalformedInput(Reason.MALFORMED, "link answer previous public_key is not an SPKI") from None
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise MalformedInput(Reason.MALFORMED, "link answer previous public_key is not an RSA key")
        key_id = account_id_for(public_key, purpose)
    return LinkAnswer(str(operator), str(digest), key_id, checked_at, nonce_octets)


def judge_link_answer(answer: LinkAnswer, *, signature_verified: bool, operator: str, certificate_sha256: str,
                      nonce: bytes, at: dt.datetime, max_age: dt.timedelta,
                      skew: dt.timedelta = DEFAULT_SKEW) -> str | None:
    """The predecessor's key id if ``answer`` is usable for the certificate asked about; raise otherwise."""
    if not signature_verified:
        raise InvalidSignature(Reason.BAD_SIGNATURE, "link answer signature was not verified")
    if answer.operator != operator:
        raise RevocationUnavailable(Reason.REVOCATION_SCOPE, "link answer from another operator")
    if answer.certificate_sha256 != certificate_sha256:
        raise RevocationUnavailable(Reason.REVOCATION_SCOPE, "link answer is about another certificate")
    if answer.nonce != nonce:
        raise RevocationUnavailable(Reason.NONCE_MISMATCH, "link answer nonce is not the request nonce")
    if answer.checked_at > at + skew or at - answer.checked_at > max_age + skew:
        raise RevocationUnavailable(Reason.STALE_REVOCATION_DATA, "link answer is not fresh")
    return answer.previous_key_id


__all__ = ["LINK_TYPE", "LinkAnswer", "judge_link_answer", "parse_link_answer"]
