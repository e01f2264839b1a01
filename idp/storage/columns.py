"""Column types, and the column blocks of the tables as their migration created them.

One definition serves both the migration that creates a table (``op.create_table(name, *block())``) and the table
definition in :mod:`idp.storage.tables` (``Table(name, metadata, *block())``); a test compares the migrated schema
with the table definitions. Constraint and index names are explicit, since migrations run without the naming
convention.

Frozen: each block is what its migration created. A later schema change is a new migration that alters the table
plus a column added in :mod:`idp.storage.tables`, never an edit here (it would change what an old migration does
to a new database, not to the existing ones).
"""

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
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.schema import SchemaItem

from servicekit import audit


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


def _indexes(table: str, *indexed: str) -> list[SchemaItem]:
    """The indexes ``ix_<table>_<column>`` of ``indexed`` columns."""
    return [Index(f"ix_{table}_{column}", column) for column in indexed]


def oidc_objects() -> list[SchemaItem]:
    """``oidc_objects`` (migration 0001): short-lived protocol objects."""
    return [Column("pk", ROW_ID, primary_key=True, autoincrement=True),
            Column("kind", String(32), nullable=False),
            Column("id", String(255), nullable=False),
            Column("payload", JSON_DOCUMENT, nullable=False),
            Column("grant_id", String(255)),
            Column("expires_at", UtcDateTime, nullable=False),
            Column("consumed_at", UtcDateTime),
            PrimaryKeyConstraint("pk", name="pk_oidc_objects"),
            UniqueConstraint("kind", "id", name="uq_oidc_objects_kind_id"),
            *_indexes("oidc_objects", "grant_id", "expires_at")]


def clients() -> list[SchemaItem]:
    """``clients`` (migration 0001), before the columns of 0002 and 0003."""
    return [Column("client_id", String(255), nullable=False),
            Column("auth_method", String(32), nullable=False),
            Column("secret_sha256", String(64)),
            Column("redirect_uris", JSON_DOCUMENT, nullable=False),
            Column("jwks", JSON_DOCUMENT),
            Column("jwks_uri", Text),
            Column("id_token_signed_response_alg", String(16), nullable=False),
            Column("sector_identifier", String(255)),
            Column("require_par", Boolean, nullable=False),
            PrimaryKeyConstraint("client_id", name="pk_clients")]


def client_registration() -> list[Column[Any]]:
    """The ``clients`` columns of migration 0003: dynamic registration, logout metadata, DPoP-bound tokens."""
    return [Column("post_logout_redirect_uris", JSON_DOCUMENT),
            Column("backchannel_logout_uri", Text),
            Column("backchannel_logout_session_required", Boolean, nullable=False, server_default=false()),
            Column("dpop_bound_access_tokens", Boolean, nullable=False, server_default=false()),
            Column("sector_identifier_uri", Text),
            Column("registration_token_sha256", String(64)),
            Column("client_id_issued_at", BigInteger)]


def signing_keys(table: str) -> list[SchemaItem]:
    """A signing-key table (see keys.service.store.StoredKey): ``signing_keys`` (migration 0001) and the start of
    ``credential_signing_keys`` (0005); constraint names per table."""
    return [Column("kid", String(64), nullable=False),
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
            PrimaryKeyConstraint("kid", name=f"pk_{table}"),
            UniqueConstraint("alg", "generation", name=f"uq_{table}_alg_generation"),
            *_indexes(table, "expires_at")]


def credential_datasets() -> list[SchemaItem]:
    """``credential_datasets`` (migration 0005)."""
    return [Column("identifier", String(64), nullable=False),
            Column("issuance_id", String(64), nullable=False),
            Column("configuration_id", String(64), nullable=False),
            Column("state", String(16), nullable=False),
            Column("kek_id", String(32)),
            Column("sealed", LargeBinary),
            Column("cert_ref", String(64), nullable=False),
            Column("cert_issuer", String(64), nullable=False),
            Column("request_key", String(64)),
            Column("response_status", Integer),
            Column("response_kek_id", String(32)),
            Column("response", LargeBinary),
            Column("transaction_id", String(64)),
            Column("notification_id", String(64)),
            Column("notification_event", String(32)),
            Column("created_at", UtcDateTime, nullable=False),
            Column("expires_at", UtcDateTime, nullable=False),
            PrimaryKeyConstraint("identifier", name="pk_credential_datasets"),
            UniqueConstraint("transaction_id", name="uq_credential_datasets_transaction_id"),
            UniqueConstraint("notification_id", name="uq_credential_datasets_notification_id"),
            *_indexes("credential_datasets", "issuance_id", "cert_ref", "expires_at")]


def status_lists() -> list[SchemaItem]:
    """``status_lists`` (migration 0005)."""
    return [Column("id", Integer, autoincrement=False, nullable=False),
            Column("bits", SmallInteger, nullable=False),
            Column("size", Integer, nullable=False),
            Column("capacity", Integer, nullable=False),
            Column("allocated", Integer, nullable=False),
            Column("version", Integer, nullable=False),
            Column("created_at", UtcDateTime, nullable=False),
            PrimaryKeyConstraint("id", name="pk_status_lists")]


def issued_credentials() -> list[SchemaItem]:
    """``issued_credentials`` (migration 0005)."""
    return [Column("id", ROW_ID, primary_key=True, autoincrement=True),
            Column("status_list_id", Integer, nullable=False),
            Column("status_idx", Integer, nullable=False),
            Column("status", SmallInteger, nullable=False),
            Column("configuration_id", String(64), nullable=False),
            Column("dataset", String(64), nullable=False),
            Column("cert_ref", String(64), nullable=False),
            Column("issued_at", UtcDateTime, nullable=False),
            Column("expires_at", UtcDateTime, nullable=False),
            PrimaryKeyConstraint("id", name="pk_issued_credentials"),
            UniqueConstraint("status_list_id", "status_idx", name="uq_issued_credentials_status_list_id"),
            *_indexes("issued_credentials", "cert_ref", "dataset")]


def pre_authorized_codes() -> list[SchemaItem]:
    """``pre_authorized_codes`` (migration 0005)."""
    return [Column("code_digest", String(64), nullable=False),
            Column("issuance_id", String(64), nullable=False),
            Column("tx_code_digest", String(64)),
            Column("attempts", Integer, nullable=False),
            Column("max_attempts", Integer, nullable=False),
            Column("created_at", UtcDateTime, nullable=False),
            Column("expires_at", UtcDateTime, nullable=False),
            Column("consumed_at", UtcDateTime),
            PrimaryKeyConstraint("code_digest", name="pk_pre_authorized_codes"),
            *_indexes("pre_authorized_codes", "expires_at")]


def audit_log() -> list[SchemaItem]:
    """``audit_log`` (migration 0006): the hash-chained entries (servicekit.audit)."""
    return audit.entry_columns("audit_log")


def audit_head() -> list[SchemaItem]:
    """``audit_head`` (migration 0006): the chain's head row and retention anchor (servicekit.audit)."""
    return audit.head_columns("audit_head")


def client_presentation() -> list[Column[Any]]:
    """The ``clients`` columns of migration 0007: presentation metadata (idp.client_presentation) and the digest of
    the stored logo."""
    return [Column("presentation", JSON_DOCUMENT),
            Column("logo_sha256", String(64))]


def client_logos() -> list[SchemaItem]:
    """``client_logos`` (migration 0007): each client's logo as fetched once, checked and re-encoded as PNG."""
    return [Column("client_id", String(255), nullable=False),
            Column("png", LargeBinary, nullable=False),
            PrimaryKeyConstraint("client_id", name="pk_client_logos")]


def certificate_watches() -> list[SchemaItem]:
    """``certificate_watches`` (migration 0008): the certificates behind live credentials that the online
    revocation sources re-check (idp.vci.watch)."""
    return [Column("cert_ref", String(64), nullable=False),
            Column("purpose", String(8), nullable=False),
            Column("kek_id", String(32), nullable=False),
            Column("sealed", LargeBinary, nullable=False),
            Column("checked_at", UtcDateTime, nullable=False),
            Column("expires_at", UtcDateTime, nullable=False),
            PrimaryKeyConstraint("cert_ref", name="pk_certificate_watches"),
            *_indexes("certificate_watches", "checked_at", "expires_at")]
