"""The certificates behind live credentials that the online revocation sources re-check (table
``certificate_watches``, migration 0008; the job is :mod:`idp.vci.watch`).

One row per certificate reference: what identifies the certificate to OCSP and to a platform operator, sealed by the
caller (never the certificate), when it was last checked, and until when credentials from it can be live. Workers
share the rows; :meth:`WatchStore.claim_due` hands each due row to exactly one of them (one conditional
``UPDATE … RETURNING``), so a certificate is asked about once per interval however many workers run::

    watches = WatchStore(db)
    await watches.add(NewWatch(cert_ref, "sign", kek_id, sealed, expires_at), now)
    for row in await watches.claim_due(now, stale_before=now - interval, limit=100):
        ...                                   # ask the sources; a revocation: store.revoke_references([row.cert_ref])
    await watches.remove([row.cert_ref])
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from idp.storage.tables import certificate_watches
from servicekit.database import Database

_W = certificate_watches.c
_EXTEND: Final = (update(certificate_watches)
                  .where(_W.cert_ref == bindparam("b_ref"), _W.expires_at < bindparam("b_expires"))
                  .values(expires_at=bindparam("b_expires")))


@dataclass(frozen=True, slots=True)
class NewWatch:
    """A certificate to watch: its reference, key purpose, sealed identity and how long to watch it."""

    cert_ref: str
    purpose: str
    kek_id: str
    sealed: bytes
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class WatchRow:
    """A watched certificate handed to a re-check."""

    cert_ref: str
    purpose: str
    kek_id: str
    sealed: bytes
    expires_at: dt.datetime


class WatchStore:
    """The watched certificates, shared by every worker."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, watch: NewWatch, now: dt.datetime) -> None:
        """Watch a certificate until ``watch.expires_at`` (a later expiry extends an existing row; the first
        check is due at once — the login checked it at ``now``, so it counts as checked then)."""
        async with self._db.connection() as conn:
            extended = await conn.execute(_EXTEND, {"b_ref": watch.cert_ref, "b_expires": watch.expires_at})
            if extended.rowcount:
                return
            exists = (await conn.execute(select(_W.cert_ref).where(_W.cert_ref == watch.cert_ref))).first()
        if exists is not None:
            return
        try:
            async with self._db.connection() as conn:
                await conn.execute(insert(certificate_watches).values(
                    cert_ref=watch.cert_ref, purpose=watch.purpose, kek_id=watch.kek_id, sealed=watch.sealed,
                    checked_at=now, expires_at=watch.expires_at))
        except IntegrityError:  # another worker added it first: keep the later expiry
            async with self._db.connection() as conn:
                await conn.execute(_EXTEND, {"b_ref": watch.cert_ref, "b_expires": watch.expires_at})

    async def claim_due(self, now: dt.datetime, *, stale_before: dt.datetime, limit: int) -> list[WatchRow]:
        """Up to ``limit`` unexpired rows last checked at or before ``stale_before``, oldest first, marked checked
        at ``now`` in the same statement: of concurrent callers only one gets each row."""
        due = (select(_W.cert_ref).where(_W.checked_at <= stale_before, _W.expires_at > now)
               .order_by(_W.checked_at).limit(limit)).scalar_subquery()
        claim = (update(certificate_watches).where(_W.cert_ref.in_(due), _W.checked_at <= stale_before)
                 .values(checked_at=now)
                 .returning(_W.cert_ref, _W.purpose, _W.kek_id, _W.sealed, _W.expires_at))
        async with self._db.connection() as conn:
            rows = (await conn.execute(claim)).all()
        return [WatchRow(r.cert_ref, r.purpose, r.kek_id, bytes(r.sealed), r.expires_at) for r in rows]

    async def remove(self, references: Iterable[str]) -> int:
        """Stop watching these certificates (revoked, or no live credential left)."""
        refs = list(references)
        if not refs:
            return 0
        async with self._db.connection() as conn:
            return int((await conn.execute(delete(certificate_watches).where(_W.cert_ref.in_(refs)))).rowcount)

    async def delete_expired(self, now: dt.datetime) -> int:
        """Delete the rows no live credential can need any more."""
        async with self._db.connection() as conn:
            return int((await conn.execute(delete(certificate_watches).where(_W.expires_at <= now))).rowcount)


__all__ = ["NewWatch", "WatchRow", "WatchStore"]
