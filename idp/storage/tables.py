"""The schema (SQLAlchemy Core). Alembic migrations in ``migrations/versions`` create it, from the column blocks of
:mod:`idp.storage.columns` and the columns added since; a test keeps the two in step. Every row that expires has
``expires_at``."""

from __future__ import annotations

from sqlalchemy import Column, LargeBinary, MetaData, String, Table

import idp.storage.columns as columns

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

#: Short-lived protocol objects (codes, sessions, PAR requests, …), node-oidc-provider's adapter model.
objects = Table("oidc_objects", metadata, *columns.oidc_objects())

#: Registered clients (admin CLI and dynamic registration, RFC 7591).
clients = Table(
    "clients",
    metadata,
    *columns.clients(),
    Column("userinfo_signed_response_alg", String(16)),  # migration 0002
    *columns.client_registration(),
    *columns.client_presentation(),
)

#: Each client's logo as the provider serves it (idp.web.logos).
client_logos = Table("client_logos", metadata, *columns.client_logos())

#: The provider's signing keys (see keys.service.store.StoredKey).
signing_keys = Table("signing_keys", metadata, *columns.signing_keys("signing_keys"))

#: The keys that sign credentials and status lists, each with the certificate the issuing CA made for it.
credential_signing_keys = Table("credential_signing_keys", metadata, *columns.signing_keys("credential_signing_keys"),
                                Column("certificate", LargeBinary))

#: Credential Datasets (OpenID4VCI 1.0 §3.3.4): one per configuration a login granted. ``sealed`` holds the facts
#: (AES-GCM under the KEKs) until the credentials are issued or the row expires; ``response`` the issued answer
#: (sealed too) for ``credentials.response_ttl``; ``cert_ref`` a keyed hash of the signing certificate's issuer
#: and serial (never the serial), which is how a revoked certificate finds its credentials.
credential_datasets = Table("credential_datasets", metadata, *columns.credential_datasets())

#: Token Status Lists (draft-ietf-oauth-status-list): their size, how many entries are handed out, and a version
#: bumped with every status change (so that workers know when to sign a new Status List Token).
status_lists = Table("status_lists", metadata, *columns.status_lists())

#: Every credential issued: its status entry (a random index, unique per list), its status, and the keyed
#: certificate reference the revocation job matches against the CRLs. No claim value, no holder key.
issued_credentials = Table("issued_credentials", metadata, *columns.issued_credentials())

#: Pre-authorized codes (OpenID4VCI 1.0 §3.5): stored as digests, with the Transaction Code's digest and the
#: count of wrong attempts; consumed once.
pre_authorized_codes = Table("pre_authorized_codes", metadata, *columns.pre_authorized_codes())

#: The audit trail (idp.storage.audit): hash-chained entries holding references only, and the chain's head row.
audit_log = Table("audit_log", metadata, *columns.audit_log())
audit_head = Table("audit_head", metadata, *columns.audit_head())

#: The certificates behind live credentials, re-checked with the online revocation sources (OCSP, the platform
#: operator) by idp.vci.watch: the keyed ``cert_ref``, and — sealed under the KEKs — the issuer's key identifier,
#: the serial, the certificate's SHA-256 and its OCSP responder; never the certificate.
certificate_watches = Table("certificate_watches", metadata, *columns.certificate_watches())
