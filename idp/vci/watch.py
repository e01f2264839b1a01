"""Credentials follow their certificate whichever source reports the revocation: the online sources — OCSP and
the platform operator — are asked again about the certificates behind live credentials, not only at the login.

The CRL sweep (:mod:`idp.vci.revocation`) covers ``card_login.crl_dir``. This module covers the online sources
of the card-login configuration (``card_login.ocsp``, ``card_login.platform_url``), which otherwise protect only
the login itself:

* at the grant (:func:`watch_identity` at login, :func:`watch` when the datasets are stored), the certificate's
  identity is sealed under the KEKs into ``certificate_watches`` (:mod:`idp.storage.credentials.watches`): the
  issuer's key identifier (which pinned root issued it), its serial, its SHA-256 and its OCSP responder (if it
  names one). That is what OCSP's CertID (RFC 6960 §4.1.1: issuerNameHash and issuerKeyHash are recomputed from
  the pinned root, plus the serial) and the platform operator's ``certificate_id`` request need, and no more: the
  certificate itself is never kept (only a platform operator or certified verifier may keep it);
* :func:`recheck`, run by every worker with the CRL sweep (every ``credentials.revocation_check_interval``),
  claims the watches not checked for ``credentials.online_recheck_interval`` (each one by exactly one worker) and
  asks the configured sources. An authenticated *revoked* from any of them makes every credential of that
  certificate INVALID and denies its pending datasets (:meth:`~idp.storage.credentials.CredentialStore.
  revoke_references`), as the CRL sweep does. *Good*, *unknown* and no answer keep the watch for the next round.

Time bound: a revocation a source reports is in the status list within ``online_recheck_interval +
revocation_check_interval`` (plus the sources' own timeouts), and relying parties see it once their cached
Status List Token expires (``credentials.status_list_ttl``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Final

import anyio.to_thread
from cryptography import x509

from idp.login.ocsp import ask_ocsp, responder_url
from idp.login.platform import new_nonce
from idp.login.verifier import CardVerifier, NotConfigured, verifier_for
from idp.settings import Settings
from idp.storage.credentials import CredentialStore, NewWatch, WatchRow
from idp.vci.references import CertificateReference
from keys.errors import VerificationError
from keys.revocation import CertificateId, Revoked, Unchecked, check_revocation
from keys.service.errors import KeyServiceError
from keys.trust import authority_key_id
from keys.x509.profile import Purpose

_log = logging.getLogger("idp.vci.watch")
#: Watches claimed per statement.
_BATCH: Final = 200
_CONTEXT: Final = "certificate-watch:"


@dataclass(frozen=True, slots=True)
class RecheckReport:
    """What one re-check did: certificates asked about, found revoked, credentials revoked, datasets denied."""

    checked: int
    revoked_certificates: int
    revoked: int
    denied: int


def watch_identity(certificate: x509.Certificate) -> dict[str, Any]:
    """What the re-check needs to know of a certificate (kept with the login until the grant, then sealed)."""
    key_id = authority_key_id(certificate)
    return {"issuer_key_id": None if key_id is None else key_id.hex(), "serial": str(certificate.serial_number),
            "sha256": CertificateId.of(certificate).sha256, "ocsp": responder_url(certificate)}


def _issuer(verifier: CardVerifier, identity: dict[str, Any], purpose: Purpose) -> x509.Certificate | None:
    key_id = identity.get("issuer_key_id")
    for anchor in verifier.trust.anchors_for(purpose):
        if key_id is not None and anchor.key_id is not None and anchor.key_id.hex() == key_id:
            return anchor.certificate
    return None


Seal = Callable[[Any, str], tuple[str, bytes]]
Unseal = Callable[[str, bytes, str], Any]


async def watch(store: CredentialStore, seal: Seal, settings: Settings, reference: CertificateReference,
                identity: dict[str, Any] | None, *, expires_at: dt.datetime, now: dt.datetime) -> None:
    """Start (or extend) watching the certificate behind a grant; ``seal`` is :meth:`idp.vci.service.Vci.seal`.
    Nothing is kept when no configured online source could answer about it (no platform operator, and OCSP off or
    no responder named): the serial is then kept nowhere."""
    verifier = _online(settings)
    if identity is None or verifier is None or (verifier.platform is None and not identity.get("ocsp")):
        return
    kek_id, sealed = seal(identity, _CONTEXT + reference.ref)
    await store.watches.add(NewWatch(reference.ref, Purpose.SIGN.value, kek_id, sealed, expires_at), now)


def _ask(verifier: CardVerifier, row: WatchRow, identity: dict[str, Any], at: dt.datetime) -> bool:
    """Whether a configured online source reports the certificate revoked (blocking: run in a worker thread)."""
    purpose = Purpose(row.purpose)
    issuer = _issuer(verifier, identity, purpose)
    if issuer is None:
        _log.warning("watch_issuer_unknown", extra={"purpose": row.purpose})
        return False
    certificate = CertificateId(issuer.subject, int(identity["serial"]), str(identity["sha256"]))
    policy = replace(verifier.policy, required=False)
    answers: list[dict[str, Any]] = []
    if verifier.ocsp_timeout is not None and identity.get("ocsp"):
        fetched = ask_ocsp(str(identity["ocsp"]), certificate, issuer, timeout=verifier.ocsp_timeout,
                           outbound=verifier.outbound)
        if fetched is not None:
            answers.append({"ocsp_responses": [fetched[0]], "nonce": fetched[1]})
    if verifier.platform is not None:
        nonce = new_nonce()
        try:
            answers.append({"platform_answer": verifier.platform.check_id(certificate, purpose, nonce=nonce),
                            "nonce": nonce})
        except VerificationError as exc:
            _log.warning("platform_unavailable", extra={"reason": exc.reason.value, "detail": exc.detail})
    for given in answers:
        try:
            result = check_revocation(certificate, issuer, at=at, policy=policy, **given)
        except Revoked:
            return True
        if isinstance(result, Unchecked):
            _log.warning("watch_no_status", extra={"reasons": [f"{source}: {error.reason.value}"
                                                               for source, error in result.failures]})
    return False


def _online(settings: Settings) -> CardVerifier | None:
    try:
        verifier = verifier_for(settings)
    except NotConfigured:
        return None
    return verifier if verifier.ocsp_timeout is not None or verifier.platform is not None else None


async def recheck(store: CredentialStore, unseal: Unseal, settings: Settings, now: dt.datetime) -> RecheckReport:
    """Ask the online sources about every watched certificate that is due (see the module docstring);
    ``unseal`` is :meth:`idp.vci.service.Vci.unseal`."""
    verifier = _online(settings)
    if verifier is None:
        return RecheckReport(0, 0, 0, 0)
    stale_before = now - dt.timedelta(seconds=settings.credentials.online_recheck_interval)
    live = await store.active_references(now)
    checked = hits = revoked = denied = 0
    while rows := await store.watches.claim_due(now, stale_before=stale_before, limit=_BATCH):
        await store.watches.remove(r.cert_ref for r in rows if r.cert_ref not in live)
        for row in (r for r in rows if r.cert_ref in live):
            try:
                identity = unseal(row.kek_id, row.sealed, _CONTEXT + row.cert_ref)
            except KeyServiceError as exc:  # a KEK taken out of the configuration too early: kept for when it is back
                _log.error("watch_unreadable", extra={"fault": exc.fault.value})
                continue
            checked += 1
            if await anyio.to_thread.run_sync(_ask, verifier, row, identity, now):
                hits += 1
                counts = await store.revoke_references([row.cert_ref])
                revoked, denied = revoked + counts[0], denied + counts[1]
                await store.watches.remove([row.cert_ref])
        if len(rows) < _BATCH:
            break
    if hits:
        _log.warning("credentials_revoked_with_certificate", extra={"certificates": hits, "credentials": revoked,
                                                                    "datasets": denied, "source": "online"})
    return RecheckReport(checked, hits, revoked, denied)


__all__ = ["RecheckReport", "recheck", "watch", "watch_identity"]
