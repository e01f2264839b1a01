"""Persistence of registered clients, with a per-process cache of the clients read.

A client is read on nearly every protocol request (client authentication, the authorization request, userinfo)
and changes rarely, so each process keeps the clients it read, on PostgreSQL only (SQLite reads in process, at
about the cost of a dictionary look-up and a copy): an entry is used while the process's :class:`Watch` on
:data:`CHANNEL` is up and has not moved since the entry was read, and for at most ``cache_seconds``. Every change
through this store (registration, RFC 7592 updates and deletes, ``idp clients``, the issuer's own client) announces
itself on the channel in its transaction, so every worker of every host forgets its copies when the change commits
(this process at once); ``cache_seconds`` bounds how long a change made around the provider (SQL by hand, a restore)
or a notification lost with an unnoticed dead connection is missed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError

from idp.client_presentation import Presentation, presentation_from_metadata
from idp.clients import AuthMethod, Client
from idp.storage.tables import client_logos, clients
from servicekit.database import Connection, Database, Prepared

#: The :meth:`Database.watch` channel of client changes (the payload: the client_id).
CHANNEL: Final = "mynacard_clients"
#: Clients each process keeps at most (the least recently read go first).
CACHE_ENTRIES: Final = 1000

#: Built once: executing a prepared statement skips SQLAlchemy's per-statement construction and cache-key work.
_GET = Prepared(select(clients).where(clients.c.client_id == bindparam("b_client_id")))
_NAMES = tuple(clients.c.keys())


class ClientExists(Exception):
    """A client with this ``client_id`` is already registered."""


def _client(row: Mapping[str, Any]) -> Client:
    return Client(client_id=row["client_id"], auth_method=AuthMethod(row["auth_method"]),
                  redirect_uris=tuple(row["redirect_uris"]),
                  id_token_signed_response_alg=row["id_token_signed_response_alg"],
                  userinfo_signed_response_alg=row["userinfo_signed_response_alg"],
                  jwks=row["jwks"], jwks_uri=row["jwks_uri"], sector_identifier=row["sector_identifier"],
                  require_par=row["require_par"], secret_sha256=row["secret_sha256"],
                  post_logout_redirect_uris=tuple(row["post_logout_redirect_uris"] or ()),
                  backchannel_logout_uri=row["backchannel_logout_uri"],
                  backchannel_logout_session_required=row["backchannel_logout_session_required"],
                  dpop_bound_access_tokens=row["dpop_bound_access_tokens"],
                  sector_identifier_uri=row["sector_identifier_uri"],
                  registration_token_sha256=row["registration_token_sha256"],
                  client_id_issued_at=row["client_id_issued_at"],
                  presentation=_presentation(row["presentation"]), logo_sha256=row["logo_sha256"])


def _presentation(stored: Any) -> Presentation:
    """The stored metadata, checked when it was registered (in test mode, where http URLs were allowed)."""
    return Presentation() if not stored else presentation_from_metadata(stored, test_mode=True)


def _values(client: Client) -> dict[str, Any]:
    return {"client_id": client.client_id, "auth_method": client.auth_method.value,
            "secret_sha256": client.secret_sha256, "redirect_uris": list(client.redirect_uris),
            "jwks": None if client.jwks is None else dict(client.jwks), "jwks_uri": client.jwks_uri,
            "id_token_signed_response_alg": client.id_token_signed_response_alg,
            "userinfo_signed_response_alg": client.userinfo_signed_response_alg,
            "sector_identifier": client.sector_identifier, "require_par": client.require_par,
            "post_logout_redirect_uris": list(client.post_logout_redirect_uris),
            "backchannel_logout_uri": client.backchannel_logout_uri,
            "backchannel_logout_session_required": client.backchannel_logout_session_required,
            "dpop_bound_access_tokens": client.dpop_bound_access_tokens,
            "sector_identifier_uri": client.sector_identifier_uri,
            "registration_token_sha256": client.registration_token_sha256,
            "client_id_issued_at": client.client_id_issued_at,
            "presentation": client.presentation.metadata() or None, "logo_sha256": client.logo_sha256}


class ClientStore:
    """Clients by ``client_id``; ``cache_seconds`` > 0 keeps the clients read (module docstring)."""

    def __init__(self, db: Database, *, cache_seconds: float = 0.0) -> None:
        self._db = db
        self._cache_seconds = cache_seconds
        self._watch = db.watch(CHANNEL)
        self._cache: dict[str, tuple[int, float, Client]] = {}  # client_id: (generation, monotonic expiry, client)

    async def _changed(self, conn: Connection, client_id: str) -> None:
        self._watch.changed()
        await self._db.announce(conn, CHANNEL, client_id)

    async def add(self, client: Client) -> None:
        """Register ``client``; raises :class:`ClientExists` when its id is taken."""
        try:
            async with self._db.begin() as conn:
                await conn.execute(clients.insert().values(**_values(client)))
                await self._changed(conn, client.client_id)
        except IntegrityError:
            raise ClientExists(client.client_id) from None

    async def replace(self, client: Client) -> bool:
        """Replace the registration of ``client.client_id`` (RFC 7592 §2.2); False when there was none."""
        async with self._db.begin() as conn:
            result = await conn.execute(update(clients).where(clients.c.client_id == client.client_id)
                                        .values(**_values(client)))
            await self._changed(conn, client.client_id)
        self._watch.changed()  # a read between the announcement and the commit may have kept the old one
        return bool(result.rowcount)

    async def get(self, client_id: str) -> Client | None:
        """The client, or None."""
        cached = self._cache.get(client_id)
        if cached is not None and cached[0] == self._watch.generation and time.monotonic() < cached[1] \
                and await self._watch.up() and cached[0] == self._watch.generation:
            return cached[2]
        generation = self._watch.generation
        row = await self._db.first(_GET, {"b_client_id": client_id})
        if row is None:
            self._cache.pop(client_id, None)
            return None
        client = _client(dict(zip(_NAMES, row, strict=True)))
        if self._cache_seconds > 0 and await self._watch.up() and generation == self._watch.generation:
            self._cache.pop(client_id, None)
            while len(self._cache) >= CACHE_ENTRIES:
                del self._cache[next(iter(self._cache))]
            self._cache[client_id] = (generation, time.monotonic() + self._cache_seconds, client)
        return client

    async def all(self) -> list[Client]:
        """Every client, by ``client_id``."""
        async with self._db.connection() as conn:
            rows = (await conn.execute(select(clients).order_by(clients.c.client_id))).all()
        return [_client(dict(row._mapping)) for row in rows]

    async def remove(self, client_id: str) -> bool:
        """Delete the client; False when there was none."""
        async with self._db.begin() as conn:
            result = await conn.execute(delete(clients).where(clients.c.client_id == client_id))
            await conn.execute(delete(client_logos).where(client_logos.c.client_id == client_id))
            await self._changed(conn, client_id)
        self._watch.changed()
        return bool(result.rowcount)

    async def set_logo(self, client_id: str, png: bytes | None) -> None:
        """Store (or, with None, delete) the logo the provider serves for ``client_id``."""
        async with self._db.begin() as conn:
            await conn.execute(delete(client_logos).where(client_logos.c.client_id == client_id))
            if png is not None:
                await conn.execute(client_logos.insert().values(client_id=client_id, png=png))

    async def logo(self, client_id: str) -> bytes | None:
        """The stored logo (PNG), or None."""
        async with self._db.connection() as conn:
            row = (await conn.execute(select(client_logos.c.png)
                                      .where(client_logos.c.client_id == client_id))).first()
        return None if row is None else bytes(row.png)
