"""Persistence of registered clients."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError

from idp.client_presentation import Presentation, presentation_from_metadata
from idp.clients import AuthMethod, Client
from idp.storage.tables import client_logos, clients
from servicekit.database import Database, Prepared

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
    """Clients by ``client_id``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, client: Client) -> None:
        """Register ``client``; raises :class:`ClientExists` when its id is taken."""
        try:
            async with self._db.begin() as conn:
                await conn.execute(clients.insert().values(**_values(client)))
        except IntegrityError:
            raise ClientExists(client.client_id) from None

    async def replace(self, client: Client) -> bool:
        """Replace the registration of ``client.client_id`` (RFC 7592 §2.2); False when there was none."""
        async with self._db.begin() as conn:
            result = await conn.execute(update(clients).where(clients.c.client_id == client.client_id)
                                        .values(**_values(client)))
        return bool(result.rowcount)

    async def get(self, client_id: str) -> Client | None:
        """The client, or None."""
        row = await self._db.first(_GET, {"b_client_id": client_id})
        return None if row is None else _client(dict(zip(_NAMES, row, strict=True)))

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
