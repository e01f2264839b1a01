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
    SmallInteger,
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


def _signing_key_columns(table: str) -> list[Any]:
    """The columns of a signing-key table (see keys.service.store.StoredKey), constraint names per table."""
    return [Column("kid", String(64), primary_key=True),
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
            UniqueConstraint("alg", "generation", name=f"uq_{table}_alg_generation"),
            Index(f"ix_{table}_expires_at", "expires_at")]


#: The provider's signing keys (see keys.service.store.StoredKey).
signing_keys = Table("signing_keys", metadata, *_signing_key_columns("signing_keys"))


#: The keys that sign credentials and status lists, each with the certificate the issuing CA made for it.
credential_signing_keys = Table(
    "credential_signing_keys",
    metadata,
    *_signing_key_columns("credential_signing_keys"),
    Column("certificate", LargeBinary),
)

#: Credential Datasets (OpenID4VCI 1.0 §3.3.4): one per configuration a login granted. ``sealed`` holds the facts
#: (AES-GCM under the KEKs) until the credentials are issued or the row expires; ``response`` the issued answer
#: (sealed too) for ``credentials.response_ttl``; ``cert_ref`` a keyed hash of the signing certificate's issuer
#: and serial (never the serial), which is how a revoked certificate finds its credentials.
credential_datasets = Table(
    "credential_datasets",
    metadata,
    Column("identifier", String(64), primary_key=True),
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
    UniqueConstraint("transaction_id", name="uq_credential_datasets_transaction_id"),
    UniqueConstraint("notification_id", name="uq_credential_datasets_notification_id"),
    Index("ix_credential_datasets_issuance_id", "issuance_id"),
    Index("ix_credential_datasets_cert_ref", "cert_ref"),
    Index("ix_credential_datasets_expires_at", "expires_at"),
)

#: Token Status Lists (draft-ietf-oauth-status-list): their size, how many entries are handed out, and a version
#: bumped with every status change (so that workers know when to sign a new Status List Token).
status_lists = Table(
    "status_lists",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("bits", SmallInteger, nullable=False),
    Column("size", Integer, nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("allocated", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

#: Every credential issued: its status entry (a random index, unique per list), its status, and the keyed
#: certificate reference the revocation job matches against the CRLs. No claim value, no holder key.
issued_credentials = Table(
    "issued_credentials",
    metadata,
    Column("id", ROW_ID, primary_key=True, autoincrement=True),
    Column("status_list_id", Integer, nullable=False),
    Column("status_idx", Integer, nullable=False),
    Column("status", SmallInteger, nullable=False),
    Column("configuration_id", String(64), nullable=False),
    Column("dataset", String(64), nullable=False),
    Column("cert_ref", String(64), nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    UniqueConstraint("status_list_id", "status_idx", name="uq_issued_credentials_status_list_id"),
    Index("ix_issued_credentials_cert_ref", "cert_ref"),
    Index("ix_issued_credentials_dataset", "dataset"),
)

#: Pre-authorized codes (OpenID4VCI 1.0 §3.5): stored as digests, with the Transaction Code's digest and the
#: count of wrong attempts; consumed once.
pre_authorized_codes = Table(
    "pre_authorized_codes",
    metadata,
    Column("code_digest", String(64), primary_key=True),
    Column("issuance_id", String(64), nullable=False),
    Column("tx_code_digest", String(64)),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("consumed_at", UtcDateTime),
    Index("ix_pre_authorized_codes_expires_at", "expires_at"),
)
