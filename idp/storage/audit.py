"""The provider's audit trail: security events in the hash chain of :mod:`servicekit.audit` (tables ``audit_log``
and ``audit_head``), with references only.

Events (``type``: fields; every entry also has its seq, UTC time and hashes):

* ``card_login``: outcome (``success`` | ``refused``), reason (the refusal), key (``auth`` | ``sign``),
  certificate_ref, account_ref, client_id, revocation_source (``crl`` | ``ocsp`` | ``platform``) with crl_issuer
  and crl_number, or operator;
* ``login``: a login handed to an authorization (every authenticator): client_id, account_ref, acr, amr;
* ``consent``: outcome (``given`` | ``refused``), client_id, account_ref, scope, claims (names only);
* ``token_issued``: grant_type, client_id; ``grant_revoked``: grant_ref, reason (a reused code or refresh
  token, or ``client_request`` at the revocation endpoint with its client_id): the whole family is revoked;
* ``credential_issued``: configuration_id, count, status_list, status_indexes; ``credential_status``: status
  (``invalid`` | ``suspended`` | ``valid``), count (credentials changed), the selection (credential_id,
  status_list and status_index, or dataset_ref), actor (``cli`` | ``admin_api`` | ``crl_sweep`` |
  ``notification``);
* ``client_registered`` | ``client_updated`` | ``client_deleted``: client_id, actor (``cli`` | ``registration``);
* ``key_created`` | ``key_pruned``: kid, alg, actor (``job`` | ``cli``); ``keys_rewrapped``: count, actor;
  ``audit_pruned``: count, seq (the new anchor).
* ``signing_consent``: outcome (``given`` | ``refused``), client_id, request_ref, count (documents);
  ``document_signing``: outcome (``success`` | ``refused``), reason, client_id, request_ref, count, certificate_ref
  and the revocation fields of ``card_login``; ``signing_results``: outcome (``fetched`` | ``refused``),
  client_id, request_ref (``request_ref`` = hex SHA-256 of the signing request id; :mod:`idp.sign`).
* ``card_link``: outcome (``success`` | ``refused``), reason, client_id, account_ref, via (``card`` |
  ``operator`` | ``consent``): a key joined an account, or was refused (:mod:`idp.login.accounts`);
  ``card_unlink``: outcome (``success`` | ``refused``), reason (``first_key`` | ``not_linked``), account_ref (the
  account left), key_ref (the leaving key's own account_ref, the one its later logins record), actor (``cli``).

References: ``account_ref`` = base64url(HMAC-SHA256(audit.reference_key, "mynacard-id audit account v1" || 0x00 ||
account id)) — neither the account id nor any ``sub`` a relying party sees; ``certificate_ref`` = hex SHA-256 of
the certificate DER (never the certificate); ``grant_ref`` = hex SHA-256 of the grant id. Any other field name is
refused (:data:`FIELDS`), so no name, birthdate, address, PIN or 個人番号 can be logged.

Usage (``services`` is an :class:`idp.runtime.Services`, or anything with ``settings`` and ``db``)::

    await record(services, "token_issued", now, client_id=client.client_id, grant_type=grant_type)
    await record(services, "consent", now, account=login.account_id, outcome="given", claims=approved)
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import logging
import secrets
import weakref
from pathlib import Path
from typing import Final, Literal, Protocol

from idp.settings import Settings
from idp.storage.tables import audit_head, audit_log
from keys.jose.b64 import b64url_encode
from servicekit.audit import AuditKey, AuditSchema, AuditTrail, Entry, FieldKind
from servicekit.database import Database
from servicekit.secret_files import write_once

EventType = Literal["card_login", "login", "consent", "token_issued", "grant_revoked", "credential_issued",
                    "credential_status", "client_registered", "client_updated", "client_deleted", "key_created",
                    "key_pruned", "keys_rewrapped", "audit_pruned", "signing_consent", "document_signing",
                    "signing_results", "card_link", "card_unlink"]

#: The allowed fields (servicekit.audit's personal-data rule): references and words from fixed vocabularies.
FIELDS: Final = AuditSchema({
    "account_ref": FieldKind.REFERENCE,
    "key_ref": FieldKind.REFERENCE,
    "certificate_ref": FieldKind.DIGEST,
    "grant_ref": FieldKind.DIGEST,
    "client_id": FieldKind.IDENTIFIER,
    "kid": FieldKind.IDENTIFIER,
    "alg": FieldKind.IDENTIFIER,
    "grant_type": FieldKind.IDENTIFIER,
    "configuration_id": FieldKind.IDENTIFIER,
    "operator": FieldKind.IDENTIFIER,
    "crl_issuer": FieldKind.DISTINGUISHED_NAME,
    "crl_number": FieldKind.COUNT,
    "status_list": FieldKind.COUNT,
    "status_index": FieldKind.COUNT,
    "status_indexes": FieldKind.COUNTS,
    "credential_id": FieldKind.COUNT,
    "dataset_ref": FieldKind.DIGEST,
    "count": FieldKind.COUNT,
    "seq": FieldKind.COUNT,
    "outcome": FieldKind.TOKEN,
    "reason": FieldKind.TOKEN,
    "key": FieldKind.TOKEN,
    "acr": FieldKind.TOKEN,
    "revocation_source": FieldKind.TOKEN,
    "status": FieldKind.TOKEN,
    "actor": FieldKind.TOKEN,
    "via": FieldKind.TOKEN,
    "amr": FieldKind.NAMES,
    "scope": FieldKind.NAMES,
    "claims": FieldKind.NAMES,
    "request_ref": FieldKind.DIGEST,
})
DEV_REFERENCE_KEY_FILE: Final = "dev-audit-reference-key"
_ACCOUNT_CONTEXT: Final = b"mynacard-id audit account v1\x00"
_log = logging.getLogger("idp.audit")


class AuditContext(Protocol):
    """What recording an event needs (an :class:`idp.runtime.Services` is one)."""

    @property
    def settings(self) -> Settings:
        """The provider's settings."""
        ...

    @property
    def db(self) -> Database:
        """The provider's database."""
        ...


@functools.lru_cache(maxsize=8)
def _development_key(data: str) -> bytes:
    path = Path(data).resolve() / DEV_REFERENCE_KEY_FILE
    write_once(path, secrets.token_urlsafe(32) + "\n")
    return path.read_text(encoding="ascii").strip().encode("ascii")


def account_ref(settings: Settings, account_id: str) -> str:
    """The pseudonymous reference of an account in audit entries (module docstring)."""
    key = settings.audit.reference_key
    secret = key.reveal().encode("utf-8") if key else _development_key(settings.data_dir)
    return b64url_encode(hmac.new(secret, _ACCOUNT_CONTEXT + account_id.encode("utf-8"), hashlib.sha256).digest())


def digest_ref(value: str | bytes) -> str:
    """Hex SHA-256 of ``value`` (a certificate's DER, a grant id)."""
    return hashlib.sha256(value.encode("utf-8") if isinstance(value, str) else value).hexdigest()


def audit_keys(settings: Settings) -> tuple[AuditKey, ...]:
    """The chain keys of ``audit.hmac_keys`` (the first authenticates new entries)."""
    configured = settings.audit.hmac_keys.reveal()
    return tuple(AuditKey(key.strip().encode("utf-8")) for key in configured.split(",")) if configured else ()


def audit_trail(settings: Settings, db: Database) -> AuditTrail:
    """The provider's audit trail (one per database and settings: its keys and statements are made once)."""
    cached = _TRAILS.get(db)
    if cached is None or cached[0] is not settings:
        cached = _TRAILS[db] = (settings, AuditTrail(db, audit_log, audit_head, FIELDS, keys=audit_keys(settings),
                                                     unkeyed_until=settings.audit.unkeyed_until))
    return cached[1]


#: The trail of each open database (gone with it).
_TRAILS: weakref.WeakKeyDictionary[Database, tuple[Settings, AuditTrail]] = weakref.WeakKeyDictionary()


async def record(context: AuditContext, event: EventType, at: dt.datetime | None = None, *,
                 account: str | None = None, grant: str | None = None, **fields: object) -> Entry:
    """Append ``event`` with ``fields`` (allowed names only); ``account`` (an account id) is recorded as its
    ``account_ref`` and ``grant`` (a grant id) as its ``grant_ref``, never as themselves."""
    if account is not None:
        fields["account_ref"] = account_ref(context.settings, account)
    if grant is not None:
        fields["grant_ref"] = digest_ref(grant)
    return await audit_trail(context.settings, context.db).append(event, fields, at=at or dt.datetime.now(dt.UTC))


async def apply_retention(context: AuditContext, now: dt.datetime) -> int:
    """Delete the entries older than ``audit.retention`` (recording an ``audit_pruned`` event when any went) and
    log the chain's head, so that the logs keep a copy of it outside the database; return how many went."""
    trail = audit_trail(context.settings, context.db)
    retention = context.settings.audit.retention
    deleted = await trail.prune(now - dt.timedelta(seconds=retention)) if retention > 0 else 0
    if deleted:
        await record(context, "audit_pruned", now, count=deleted, seq=(await trail.head()).anchor.seq)
    head = await trail.head()
    _log.info("audit_head", extra={"seq": head.seq, "hash": head.hash, "anchor_seq": head.anchor.seq,
                                   "pruned": deleted})
    return deleted


__all__ = ["FIELDS", "AuditContext", "EventType", "account_ref", "apply_retention", "audit_keys", "audit_trail",
           "digest_ref", "record"]
