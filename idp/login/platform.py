"""Asking a platform operator (プラットフォーム事業者) whether a card certificate is revoked, over HTTP, with the
answers cached in the database that every worker shares.

The JSON contract (request members, the signed answer's payload, how an answer is judged) is
:mod:`keys.revocation.platform`. This module is its HTTP binding and its client:

HTTP binding (version 1)
------------------------

Request::

    POST {card_login.platform_url}
    Content-Type: application/json
    Accept: application/jose

    {"certificate": "<base64url DER>", "purpose": "auth" | "sign", "nonce": "<base64url, 32 random octets>"}

or, for the re-check of a certificate the provider no longer has (:mod:`idp.vci.watch`), the contract's
``certificate_id`` form with ``certificate_sha256`` (:mod:`keys.revocation.platform`); or, for the certificate
link of a renewed card (:meth:`HttpPlatformOperator.previous_key`), the ``link_for`` form of
:mod:`keys.revocation.certlink`, answered by a JWS of ``typ`` ``platform-link+jws``.

Answer: ``200`` with ``Content-Type: application/jose`` and a compact JWS (RFC 7515 §7.1), ``alg`` RS256 or
ES256, header ``typ`` :data:`ANSWER_TYPE`, signed with a key of the operator's JWK Set
(``card_login.platform_jwks``, a file the deployment pins; an ``x5c`` or ``jwk`` header is never trusted), at most
:data:`MAX_ANSWER_OCTETS`. Its payload is the contract's answer object; ``operator`` must be
``card_login.platform_operator``, ``certificate_sha256`` the certificate asked about and ``nonce`` the request's.
Any other status code, media type, size or a signature that does not verify is *no answer* (logged with the
reason, never with the certificate): the login then fails closed unless another configured source has a fresh
status. The request goes through an :class:`~servicekit.outbound.OutboundClient` (the address policy: an operator
on an internal network must be named in ``http.outbound_allow``; ``card_login.platform_timeout`` for the whole
request; no redirects); it blocks, so the caller runs it in a worker thread.

Only after the certificate's path to a pinned root has been validated is the operator asked, so a stranger's
certificate never costs a request.

Cache
-----

A usable answer (signature verified, about this certificate, echoing the nonce) is stored in the ``objects``
table (kind :data:`CACHE_KIND`, id the certificate's SHA-256 hex) as the contract's payload — status, times and
hash, never the certificate — until the earliest of its ``next_update``, ``checked_at + max_age`` and
``checked_at + card_login.revocation_freshness``. Every worker reads the same rows, so a status one worker
fetched serves the next login on any worker, and all of them stop using it at the same moment. A cached answer
is judged again at each login by :func:`keys.revocation.judge_platform_answer` (freshness, status); its nonce
was checked when it was fetched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from idp.storage import ObjectStore
from keys.errors import Reason, RevocationUnavailable, VerificationError
from keys.jose import VerificationKey, verification_keys, verify_jws
from keys.jose.b64 import b64url_encode
from keys.jose.json import loads_object
from keys.revocation import CertificateId, PlatformAnswer, parse_platform_answer
from keys.revocation.certlink import LINK_TYPE, judge_link_answer, parse_link_answer
from keys.x509.profile import Purpose
from servicekit.outbound import AddressPolicy, OutboundClient, OutboundError, request_sync

CACHE_KIND: Final = "RevocationStatus"
ANSWER_TYPE: Final = "platform-status+jws"
ANSWER_MEDIA_TYPE: Final = "application/jose"
ANSWER_ALGORITHMS: Final = frozenset({"RS256", "ES256"})
MAX_ANSWER_OCTETS: Final = 16 * 1024
NONCE_OCTETS: Final = 32
_ISO: Final = "%Y-%m-%dT%H:%M:%SZ"
_log = logging.getLogger("idp.login")


def certificate_digest(certificate: bytes) -> str:
    """Lower-case hex SHA-256 of a certificate's DER: the cache key and the answer's ``certificate_sha256``."""
    return hashlib.sha256(certificate).hexdigest()


def load_operator_keys(path: Path) -> tuple[VerificationKey, ...]:
    """The operator's pinned verification keys from a JWK Set file (RS256/ES256 keys only)."""
    document = loads_object(path.read_bytes(), what="platform operator JWK Set")
    keys = tuple(k for k in verification_keys(document) if k.alg in ANSWER_ALGORITHMS)
    if not keys:
        raise ValueError("the platform operator's JWK Set has no RS256 or ES256 signature key")
    return keys


def _payload(answer: PlatformAnswer) -> dict[str, Any]:
    """The contract's payload of ``answer`` (what the cache stores)."""
    def time(value: dt.datetime | None) -> str | None:
        return None if value is None else value.strftime(_ISO)

    return {
        "operator": answer.operator,
        "certificate_sha256": answer.certificate_sha256,
        "status": answer.status.value,
        "checked_at": time(answer.checked_at),
        "next_update": time(answer.next_update),
        "max_age": None if answer.max_age is None else int(answer.max_age.total_seconds()),
        "revoked_at": time(answer.revoked_at),
        "reason": None if answer.reason is None else answer.reason.value,
        "nonce": None if answer.nonce is None else b64url_encode(answer.nonce),
    }


def usable_until(answer: PlatformAnswer, freshness: dt.timedelta) -> dt.datetime:
    """When an answer stops being usable: the earliest of its own limits and ours."""
    limits = [answer.checked_at + freshness, answer.next_update]
    if answer.max_age is not None:
        limits.append(answer.checked_at + answer.max_age)
    return min(d for d in limits if d is not None)


@dataclass(frozen=True, slots=True)
class HttpPlatformOperator:
    """A platform operator's validity-check service over HTTP (:class:`keys.revocation.PlatformOperator`)."""

    url: str
    operator: str
    keys: tuple[VerificationKey, ...]
    #: Seconds for the whole request.
    timeout: float = 5.0
    outbound: OutboundClient = field(default_factory=lambda: OutboundClient(AddressPolicy()))

    def check(self, certificate_der: bytes, purpose: Purpose, *, nonce: bytes) -> PlatformAnswer:
        """Ask about one certificate; the answer is signature-verified and bound to it and to ``nonce``.
        Raises :class:`~keys.errors.RevocationUnavailable` (no usable answer) or another
        :class:`~keys.errors.VerificationError` (a malformed or forged one)."""
        token = self._post({"certificate": b64url_encode(certificate_der), "purpose": purpose.value,
                            "nonce": b64url_encode(nonce)})
        return self._answer(token, certificate_digest(certificate_der), nonce)

    def check_id(self, certificate: CertificateId, purpose: Purpose, *, nonce: bytes) -> PlatformAnswer:
        """The same for a certificate known by issuer, serial and hash only (the re-check of
        :mod:`idp.vci.watch`; request form in :mod:`keys.revocation.platform`)."""
        token = self._post({"certificate_id": {"issuer": b64url_encode(certificate.issuer.public_bytes()),
                                               "serial_number": str(certificate.serial_number)},
                            "certificate_sha256": certificate.sha256, "purpose": purpose.value,
                            "nonce": b64url_encode(nonce)})
        return self._answer(token, certificate.sha256, nonce)

    def previous_key(self, certificate_der: bytes, purpose: Purpose, *, at: dt.datetime,
                     max_age: dt.timedelta = dt.timedelta(minutes=5)) -> str | None:
        """The key id of the certificate ``certificate_der`` renewed (J-LIS's certificate link), or ``None``: the
        contract of :mod:`keys.revocation.certlink`, JWS ``typ`` ``platform-link+jws`` by the same pinned keys.
        Raises :class:`~keys.errors.VerificationError` for no usable answer (forged, about another certificate,
        stale)."""
        nonce = new_nonce()
        token = self._post({"link_for": b64url_encode(certificate_der), "purpose": purpose.value,
                            "nonce": b64url_encode(nonce)})
        verified = verify_jws(token, algorithms=ANSWER_ALGORITHMS, typ=LINK_TYPE, keys=self.keys)
        answer = parse_link_answer(loads_object(verified.payload, what="link answer"), purpose=purpose)
        return judge_link_answer(answer, signature_verified=True, operator=self.operator,
                                 certificate_sha256=certificate_digest(certificate_der), nonce=nonce, at=at,
                                 max_age=max_age)

    def _answer(self, token: str, digest: str, nonce: bytes) -> PlatformAnswer:
        verified = verify_jws(token, algorithms=ANSWER_ALGORITHMS, typ=ANSWER_TYPE, keys=self.keys)
        answer = parse_platform_answer(loads_object(verified.payload, what="platform answer"),
                                       signature_verified=True)
        if answer.operator != self.operator:
            raise RevocationUnavailable(Reason.REVOCATION_SCOPE, "platform answer from another operator")
        if answer.certificate_sha256 != digest:
            raise RevocationUnavailable(Reason.REVOCATION_SCOPE, "platform answer is about another certificate")
        if answer.nonce != nonce:
            raise RevocationUnavailable(Reason.NONCE_MISMATCH, "platform answer nonce is not the request nonce")
        return answer

    def _post(self, body: dict[str, object]) -> str:
        def unavailable(detail: str) -> RevocationUnavailable:
            return RevocationUnavailable(Reason.REVOCATION_UNAVAILABLE, f"platform operator: {detail}")

        try:
            answer = request_sync(self.outbound, "POST", self.url, content=json.dumps(body).encode("ascii"),
                                  headers={"Content-Type": "application/json", "Accept": ANSWER_MEDIA_TYPE},
                                  deadline=self.timeout, max_bytes=MAX_ANSWER_OCTETS)
        except OutboundError as exc:
            raise unavailable(exc.reason.value) from None
        if answer.status != 200 or answer.media_type != ANSWER_MEDIA_TYPE:
            raise unavailable(f"HTTP {answer.status} {answer.media_type or 'without a media type'}")
        try:
            return answer.content.decode("ascii").strip()
        except UnicodeDecodeError:
            raise unavailable("answer is not a compact JWS") from None


class RevocationCache:
    """Platform answers in the ``objects`` table, by certificate hash (see the module docstring)."""

    def __init__(self, objects: ObjectStore) -> None:
        self._objects = objects

    async def get(self, digest: str, now: dt.datetime) -> PlatformAnswer | None:
        """The stored answer about the certificate with SHA-256 ``digest``, while it is usable."""
        found = await self._objects.find(CACHE_KIND, digest, now=now)
        if found is None:
            return None
        try:
            return parse_platform_answer(found.payload, signature_verified=True)  # verified before it was stored
        except VerificationError:
            return None

    async def put(self, answer: PlatformAnswer, *, freshness: dt.timedelta, now: dt.datetime) -> None:
        """Store ``answer`` (already checked by :meth:`HttpPlatformOperator.check`) while it is usable."""
        until = usable_until(answer, freshness)
        if until > now:
            await self._objects.upsert(CACHE_KIND, answer.certificate_sha256, _payload(answer), until)


def new_nonce() -> bytes:
    """A request nonce."""
    return secrets.token_bytes(NONCE_OCTETS)


__all__ = ["ANSWER_ALGORITHMS", "ANSWER_MEDIA_TYPE", "ANSWER_TYPE", "CACHE_KIND", "MAX_ANSWER_OCTETS",
           "HttpPlatformOperator", "RevocationCache", "certificate_digest", "load_operator_keys", "new_nonce",
           "usable_until"]
