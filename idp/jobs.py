"""Periodic work every worker runs: key rotation checks (the provider's and the credential signing keys), cleanup
of expired rows and of audit entries past their retention, and the re-check of issued credentials against the
CRLs (idp.vci.revocation).

Both are safe to run in several processes at once (rotations collide on a unique key and the loser
backs off; deletes are idempotent), so no leader election is needed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from idp.runtime import Services, utcnow
from idp.storage import delete_expired
from idp.storage.audit import apply_retention, record
from idp.vci.jobs import cleanup_issuer, revocation_sweep
from idp.vci.service import issuer_of

_log = logging.getLogger("idp.jobs")


async def rotate_keys(services: Services) -> int:
    """Create the successor keys that are due; log and count them."""
    created = await services.keyset.rotate(utcnow())
    if (vci := issuer_of(services)) is not None:
        created += await vci.keys.keyset.rotate(utcnow())
    for key in created:
        await record(services, "key_created", kid=key.kid, alg=key.alg, actor="job")
        _log.info("key_created", extra={"kid": key.kid, "alg": key.alg, "activate_at": key.activate_at.isoformat()})
    return len(created)


@dataclass(frozen=True, slots=True)
class CleanupReport:
    """Expired objects deleted (and in how many batches) and signing keys pruned."""

    deleted: int
    batches: int
    pruned_keys: list[str]


async def cleanup(services: Services) -> CleanupReport:
    """Delete expired objects in batches and prune keys whose retention has ended."""
    now = utcnow()
    result = await delete_expired(services.db, now, services.settings.cleanup.batch_size)
    issuer = await cleanup_issuer(services, now)
    pruned = await services.keyset.prune(now) + issuer.pruned_keys
    for kid in pruned:
        await record(services, "key_pruned", now, kid=kid, actor="job")
    await apply_retention(services, now)
    _log.info("cleanup", extra={"deleted": result.deleted, "batches": result.batches, "pruned_keys": pruned})
    return CleanupReport(result.deleted + issuer.deleted, result.batches, pruned)


async def _every(seconds: float, name: str, job: Callable[[], Awaitable[object]]) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await job()
        except Exception:
            _log.exception("job_failed", extra={"job": name})


@asynccontextmanager
async def background_jobs(services: Services) -> AsyncIterator[None]:
    """Run the periodic jobs for the duration of the block (intervals of 0 disable a job)."""
    settings = services.settings
    schedule = [(settings.keys.rotation_check_interval, "rotate_keys", lambda: rotate_keys(services)),
                (settings.cleanup.interval, "cleanup", lambda: cleanup(services)),
                (settings.credentials.revocation_check_interval, "credential_revocation",
                 lambda: revocation_sweep(services))]
    tasks = [asyncio.create_task(_every(seconds, name, job), name=name)
             for seconds, name, job in schedule if seconds > 0]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
