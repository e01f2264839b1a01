"""Deletion of expired rows in batches (``idp cleanup`` and the in-process job).

Each batch is its own short transaction, so cleanup never holds locks for long and any number of
processes may run it at once (a row deleted twice is simply not found the second time).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select

from idp.storage.tables import objects
from servicekit.database import Database


@dataclass(frozen=True, slots=True)
class CleanupResult:
    """Rows deleted and the number of non-empty batches it took."""

    deleted: int
    batches: int


async def delete_expired(db: Database, now: dt.datetime, batch_size: int) -> CleanupResult:
    """Delete objects whose ``expires_at`` is not after ``now``, at most ``batch_size`` per transaction."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    deleted = batches = 0
    while True:
        victims = select(objects.c.pk).where(objects.c.expires_at <= now).limit(batch_size)
        async with db.begin() as conn:
            count = int((await conn.execute(delete(objects).where(objects.c.pk.in_(victims)))).rowcount)
        if count:
            deleted += count
            batches += 1
        if count < batch_size:
            return CleanupResult(deleted, batches)
