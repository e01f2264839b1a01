"""The signing-key tables as :class:`keys.service.store.KeyStore` s: the provider's own keys (``signing_keys``)
and, with the same shape, the credential signing keys (``credential_signing_keys``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, delete, select, update
from sqlalchemy.exc import IntegrityError

from idp.storage.tables import signing_keys
from keys.service.encryption import WrappedKey
from keys.service.store import Retirement, StoredKey
from servicekit.database import Database


def _key(row: Any) -> StoredKey:
    wrapped = None if row.wrapped is None else WrappedKey(row.kek_id, bytes(row.wrapped))
    return StoredKey(kid=row.kid, alg=row.alg, generation=row.generation, backend=row.backend, ref=row.key_ref,
                     wrapped=wrapped, public_jwk=dict(row.public_jwk), created_at=row.created_at,
                     activate_at=row.activate_at, retire_at=row.retire_at, expires_at=row.expires_at)


class SqlKeyStore:
    """Signing keys in the provider's database, shared by every worker."""

    def __init__(self, db: Database, table: Table = signing_keys) -> None:
        self._db = db
        self._table = table

    async def load_keys(self) -> list[StoredKey]:
        """Every key row."""
        async with self._db.connection() as conn:
            rows = (await conn.execute(select(self._table).order_by(self._table.c.alg,
                                                                     self._table.c.generation))).all()
        return [_key(row) for row in rows]

    async def add_key(self, key: StoredKey, retire: Retirement | None) -> bool:
        """Insert ``key`` and retire its predecessor atomically; False if (alg, generation) is taken."""
        values = {"kid": key.kid, "alg": key.alg, "generation": key.generation, "backend": key.backend,
                  "key_ref": key.ref, "kek_id": None if key.wrapped is None else key.wrapped.kek_id,
                  "wrapped": None if key.wrapped is None else key.wrapped.blob, "public_jwk": dict(key.public_jwk),
                  "created_at": key.created_at, "activate_at": key.activate_at, "retire_at": key.retire_at,
                  "expires_at": key.expires_at}
        try:
            async with self._db.begin() as conn:
                await conn.execute(self._table.insert().values(**values))
                if retire is not None:
                    await conn.execute(update(self._table).where(self._table.c.kid == retire.kid)
                                       .values(retire_at=retire.retire_at, expires_at=retire.expires_at))
        except IntegrityError:
            return False
        return True

    async def replace_wrapped(self, kid: str, wrapped: WrappedKey) -> None:
        """Store the re-encrypted private key of ``kid``."""
        async with self._db.begin() as conn:
            await conn.execute(update(self._table).where(self._table.c.kid == kid)
                               .values(kek_id=wrapped.kek_id, wrapped=wrapped.blob))

    async def delete_keys(self, kids: Sequence[str]) -> None:
        """Delete the rows of ``kids``."""
        async with self._db.begin() as conn:
            await conn.execute(delete(self._table).where(self._table.c.kid.in_(list(kids))))
