"""The ``c_nonce`` values of the Nonce Endpoint (OpenID4VCI 1.0 §7) and their single use.

The Nonce Endpoint stores each value as a short-lived object of kind :data:`NONCE_KIND` (:mod:`idp.storage.objects`,
deleted by the object cleanup once expired); a Credential Request consumes the values its proofs carry inside its
own transaction (:meth:`idp.storage.credentials.datasets.DatasetStore.issue`), all or nothing::

    await objects.upsert(NONCE_KIND, value, {}, expires_at)          # POST /nonce
    async with db.begin() as conn:
        await consume_nonces(conn, ["n1", "n2"], now)                # NonceRejected unless each one was live
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

from sqlalchemy import bindparam, update

from idp.storage.tables import objects
from servicekit.database import Connection

NONCE_KIND: Final = "CredentialNonce"
_MAX_NONCE: Final = 255

# One conditional statement per nonce: of concurrent consumers of a nonce, in any process, exactly one gets its row
# back. Per nonce, not one ``IN (...)`` for all: PostgreSQL may plan a prepared ``IN`` list (generic plan) as a scan
# of every nonce filtered by id, where one id is always a lookup (tests/idp/test_object_plans.py).
_CONSUME: Final = (update(objects)
                   .where(objects.c.kind == NONCE_KIND, objects.c.id == bindparam("b_id"),
                          objects.c.consumed_at.is_(None), objects.c.expires_at > bindparam("now"))
                   .values(consumed_at=bindparam("now")).returning(objects.c.id))


class NonceRejected(Exception):
    """A ``c_nonce`` of the request is unknown, expired or already used; nothing was written."""


async def consume_nonces(conn: Connection, nonces: Sequence[str], now: dt.datetime) -> None:
    """Mark every one of ``nonces`` used at ``now`` in the caller's transaction; :class:`NonceRejected` unless each
    was stored, unexpired and unused (raised inside the transaction, it rolls back what this call marked)."""
    if not nonces:
        return
    if any(not 0 < len(n) <= _MAX_NONCE for n in nonces):
        raise NonceRejected
    for nonce in sorted(set(nonces)):
        if (await conn.execute(_CONSUME, {"b_id": nonce, "now": now})).first() is None:
            raise NonceRejected


__all__ = ["NONCE_KIND", "NonceRejected", "consume_nonces"]
