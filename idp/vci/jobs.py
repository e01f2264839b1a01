"""The issuer's part of start-up and of the periodic jobs (idp.jobs): first credential signing keys and the
issuer client at start, expired datasets and codes deleted and retired credential keys pruned with the cleanup,
and the CRL sweep (:func:`idp.vci.revocation.sweep`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from idp.runtime import Services, utcnow
from idp.storage.audit import record
from idp.vci.preauth import ensure_issuer_client
from idp.vci.revocation import SweepReport, sweep
from idp.vci.service import issuer_of


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
    """One pass of the CRL sweep."""
    if (vci := issuer_of(services)) is None:
        return SweepReport(0, 0, 0)
    report = await sweep(vci.revocation, vci.store, services.settings, utcnow())
    if report.revoked or report.denied:
        await record(services, "credential_status", status="invalid", count=report.revoked, actor="crl_sweep")
    return report


__all__ = ["IssuerCleanup", "cleanup_issuer", "revocation_sweep", "start_issuer"]
