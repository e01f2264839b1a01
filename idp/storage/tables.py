"""The schema (SQLAlchemy Core). Alembic migrations in ``migrations/versions`` create it; a test keeps
the two in step. Every row that expires has ``expires_at``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on both dialects (SQLite keeps naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused: pass an aware UTC datetime")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


JSON_DOCUMENT = JSON().with_variant(JSONB(), "postgresql")
ROW_ID = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(naming_convention=NAMING)

#: Short-lived protocol objects (codes, sessions, PAR requests, …), node-oidc-provider's adapter model.
objects = Table(
    "oidc_objects",
    metadata,
    Column("pk", ROW_ID, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("id", String(255), nullable=False),
    Column("payload", JSON_DOCUMENT, nullable=False),
    Column("grant_id", String(255)),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("consumed_at", UtcDateTime),
    UniqueConstraint("kind", "id", name="uq_oidc_objects_kind_id"),
    Index("ix_oidc_objects_grant_id", "grant_id"),
    Index("ix_oidc_objects_expires_at", "expires_at"),
)

#: Registered clients (admin CLI and dynamic registration, RFC 7591).
clients = Table(
    "clients",
    metadata,
    Column("client_id", String(255), primary_key=True),
    Column("auth_method", String(32), nullable=False),
    Column("secret_sha256", String(64)),
    Column("redirect_uris", JSON_DOCUMENT, nullable=False),
    Column("jwks", JSON_DOCUMENT),
    Column("jwks_uri", Text),
    Column("id_token_signed_response_alg", String(16), nullable=False),
    Column("userinfo_signed_response_alg", String(16)),
    Column("sector_identifier", String(255)),
    Column("require_par", Boolean, nullable=False),
    Column("post_logout_redirect_uris", JSON_DOCUMENT),
    Column("backchannel_logout_uri", Text),
    Column("backchannel_logout_session_required", Boolean, nullable=False, server_default=false()),
    Column("dpop_bound_access_tokens", Boolean, nullable=False, server_default=false()),
    Column("sector_identifier_uri", Text),
    Column("registration_token_sha256", String(64)),
    Column("client_id_issued_at", BigInteger),
)

#: The provider's signing keys (see keys.service.store.StoredKey).
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("alg", String(16), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("backend", String(16), nullable=False),
    Column("key_ref", String(255)),
    Column("kek_id", String(32)),
    Column("wrapped", LargeBinary),
    Column("public_jwk", JSON_DOCUMENT, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("activate_at", UtcDateTime, nullable=False),
    Column("retire_at", UtcDateTime),
    Column("expires_at", UtcDateTime),
    UniqueConstraint("alg", "generation", name="uq_signing_keys_alg_generation"),
    Index("ix_signing_keys_expires_at", "expires_at"),
)
