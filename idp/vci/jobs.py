"""The issuer's part of start-up and of the periodic jobs (idp.jobs): first credential signing keys and the
issuer client at start, expired datasets and codes deleted and retired credential keys pruned with the cleanup,
and the revocation sweep: the CRLs (:func:`idp.vci.revocation.sweep`) and the online sources
(:func:`idp.vci.watch.recheck`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from idp.runtime import Services, utcnow
from idp.storage.audit import record
from idp.vci.preauth import ensure_issuer_client
from idp.vci.revocation import SweepReport, sweep
from idp.vci.service import issuer_of
from idp.vci.watch import recheck


@dataclass(frozen=True, slots=True)
class IssuerCleanup:
    """Rows deleted and credential keys pruned."""

    deleted: int
    pruned_keys: list[str]


async def start_issuer(services: Services) -> None:
    """The first credential signing key and the issuer client."""
    if (vci := issuer_of(services)) is not None:
        await vci.keys.keyset.rotate(utcnow())
        await ensure_issuer_client(services)


async def cleanup_issuer(services: Services, now: dt.datetime) -> IssuerCleanup:
    """Delete expired datasets (with their sealed facts and answers) and pre-authorized codes; prune keys."""
    vci = issuer_of(services)
    if vci is None:
        return IssuerCleanup(0, [])
    deleted = await vci.store.delete_expired(now, services.settings.cleanup.batch_size)
    return IssuerCleanup(deleted, await vci.keys.keyset.prune(now))


async def revocation_sweep(services: Services) -> SweepReport:
    """One pass of the CRL sweep, then of the online re-check (:func:`idp.vci.watch.recheck`)."""
    if (vci := issuer_of(services)) is None:
        return SweepReport(0, 0, 0)
    now = utcnow()
    report = await sweep(vci.revocation, vci.store, services.settings, now)
    if report.revoked or report.denied:
        await record(services, "credential_status", status="invalid", count=report.revoked, actor="crl_sweep")
    online = await recheck(vci.store, vci.unseal, services.settings, now)
    if online.revoked or online.denied:
        await record(services, "credential_status", status="invalid", count=online.revoked, actor="online_recheck")
    return replace(report, revoked=report.revoked + online.revoked, denied=report.denied + online.denied)


__all__ = ["IssuerCleanup", "cleanup_issuer", "revocation_sweep", "start_issuer"]
