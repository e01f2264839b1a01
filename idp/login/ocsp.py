"""Fetching an OCSP response for a card's authentication certificate (RFC 6960 §A.1, HTTP POST; RFC 8954 nonce).

Only after the certificate's path to a pinned root has been validated is the responder named in its
authorityInformationAccess contacted, so a certificate cannot make the provider call an address of its choosing;
the request goes through an :class:`~servicekit.outbound.OutboundClient` all the same (the address policy,
``card_login.ocsp_timeout`` for the whole request, no redirects). It blocks: callers run it in a worker thread.
J-LIS answers registered verifiers only (jpki-card-and-certs.md §2.4); signing certificates name no responder.
Any failure here (no responder, network, HTTP status, size) simply yields no response: the revocation policy then
decides on the CRLs alone and fails closed when nothing fresh is left. The response itself is judged by
:func:`keys.revocation.check_ocsp_response` (signature, CertID, nonce, freshness).

Cache
-----

As with the platform operator's answers (:mod:`idp.login.platform`), a verdict established from a fetched response
(good, or revoked) is stored in the ``objects`` table (kind :data:`CACHE_KIND`, id the certificate's SHA-256 hex):
status, thisUpdate, the end of its use, revocation time and reason, and the hash, never the response or the
certificate. It is kept until the earlier of the response's nextUpdate and ``thisUpdate +
card_login.revocation_freshness``, so every worker reuses it for that long instead of asking the responder, and
all of them stop using it at the same moment. At each login it is judged again by
:func:`keys.revocation.judge_cached_ocsp` (this certificate, freshness, status).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from typing import Any, Final
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from idp.storage import ObjectStore
from keys.der import subject_public_key_bits
from keys.limits import DEFAULT_LIMITS, Limits
from keys.revocation import CachedOcspStatus, CertificateId, CertStatus, RevocationStatus
from keys.x509.path import ValidatedPath
from servicekit.outbound import OutboundClient, OutboundError, request_sync

CACHE_KIND: Final = "OcspStatus"
_ISO: Final = "%Y-%m-%dT%H:%M:%SZ"
_log = logging.getLogger("idp.login")
_REQUEST_TYPE = "application/ocsp-request"
_RESPONSE_TYPE = "application/ocsp-response"


def responder_url(certificate: x509.Certificate) -> str | None:
    """The first http(s) OCSP responder of the certificate's authorityInformationAccess, if any."""
    try:
        access = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    for description in access:
        location = description.access_location
        if description.access_method == AuthorityInformationAccessOID.OCSP and isinstance(
                location, x509.UniformResourceIdentifier) and urlsplit(location.value).scheme in ("http", "https"):
            return location.value
    return None


def fetch_ocsp(path: ValidatedPath, *, timeout: float, outbound: OutboundClient,
               limits: Limits = DEFAULT_LIMITS) -> tuple[bytes, bytes] | None:
    """Ask the leaf's responder about the leaf, within ``timeout`` seconds for the whole request: the DER response
    and the nonce sent, or ``None``."""
    url = responder_url(path.leaf)
    if url is None:
        return None
    return ask_ocsp(url, CertificateId.of(path.leaf), path.issuer, timeout=timeout, outbound=outbound, limits=limits)


def ask_ocsp(url: str, certificate: CertificateId, issuer: x509.Certificate, *, timeout: float,
             outbound: OutboundClient, limits: Limits = DEFAULT_LIMITS) -> tuple[bytes, bytes] | None:
    """Ask ``url`` about the certificate ``issuer`` issued with ``certificate``'s serial (the CertID is built from
    the issuer and the serial, so no certificate is needed: the re-check of :mod:`idp.vci.watch`): the DER response
    and the nonce sent, or ``None``."""
    nonce = secrets.token_bytes(16)
    # SHA-1 names the certificate in the CertID (an identifier, not a signature: RFC 6960 §4.1.1, RFC 5019 §2.1.1)
    algorithm = hashes.SHA1()  # noqa: S303
    spki = issuer.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    name_hash = hashlib.sha1(issuer.subject.public_bytes()).digest()  # noqa: S324 - CertID identifier
    key_hash = hashlib.sha1(subject_public_key_bits(spki)).digest()  # noqa: S324 - CertID identifier
    request = (ocsp.OCSPRequestBuilder()
               .add_certificate_by_hash(name_hash, key_hash, certificate.serial_number, algorithm)
               .add_extension(x509.OCSPNonce(nonce), critical=False).build())
    try:
        answer = request_sync(outbound, "POST", url, content=request.public_bytes(serialization.Encoding.DER),
                              headers={"Content-Type": _REQUEST_TYPE, "Accept": _RESPONSE_TYPE}, deadline=timeout,
                              max_bytes=limits.ocsp_bytes)
    except OutboundError as exc:
        _log.warning("ocsp_unavailable", extra={"error": exc.reason.value})
        return None
    if answer.status != 200 or answer.media_type != _RESPONSE_TYPE:
        _log.warning("ocsp_unavailable", extra={"status": answer.status})
        return None
    return answer.content, nonce


class OcspCache:
    """OCSP verdicts in the ``objects`` table, by certificate hash (see the module docstring)."""

    def __init__(self, objects: ObjectStore) -> None:
        self._objects = objects

    async def get(self, digest: str, now: dt.datetime) -> CachedOcspStatus | None:
        """The stored verdict about the certificate with SHA-256 ``digest``, while it is usable."""
        found = await self._objects.find(CACHE_KIND, digest, now=now)
        try:
            return None if found is None else _cached(digest, found.payload)
        except (KeyError, TypeError, ValueError):  # unreadable: ask the responder again
            return None

    async def put(self, digest: str, status: RevocationStatus, *, freshness: dt.timedelta, now: dt.datetime) -> None:
        """Store an OCSP verdict (good or revoked, as judged from a fetched response) while it is usable."""
        if status.source != "ocsp" or status.status is CertStatus.UNCHECKED or status.next_update is None:
            return
        until = min(status.next_update, status.this_update + freshness)
        if until > now:
            await self._objects.upsert(CACHE_KIND, digest, {
                "status": status.status.value, "this_update": _time(status.this_update), "next_update": _time(until),
                "revoked_at": None if status.revoked_at is None else _time(status.revoked_at),
                "reason": None if status.reason_code is None else status.reason_code.value,
            }, until)


def _time(value: dt.datetime) -> str:
    return value.strftime(_ISO)


def _cached(digest: str, payload: dict[str, Any]) -> CachedOcspStatus:
    def time(name: str) -> dt.datetime | None:
        value = payload[name]
        return None if value is None else dt.datetime.strptime(value, _ISO).replace(tzinfo=dt.UTC)

    this_update = time("this_update")
    if this_update is None:
        raise ValueError("no thisUpdate")
    reason = payload["reason"]
    status = RevocationStatus(CertStatus(payload["status"]), "ocsp", this_update, time("next_update"),
                              time("revoked_at"), None if reason is None else x509.ReasonFlags(reason))
    return CachedOcspStatus(digest, status)


__all__ = ["CACHE_KIND", "OcspCache", "ask_ocsp", "fetch_ocsp", "responder_url"]
