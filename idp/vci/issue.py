"""The Credential, Deferred Credential and Notification endpoints' logic (OpenID4VCI 1.0 §8, §9, §11).

Credential Request, in order (each failure an :class:`~credentials.oid4vci.errors.IssuanceError` or an RFC 6750
authorization error):

1. the request (:func:`~credentials.oid4vci.request.parse_credential_request`);
2. the dataset: a ``credential_identifier`` of the token's issuance (``unknown_credential_identifier``), or — only
   when no identifiers were handed out — a ``credential_configuration_id`` (``unknown_credential_configuration``;
   a known one the token does not cover is ``insufficient_scope``);
3. the proofs (:func:`~credentials.oid4vci.proof.verify_proofs`: ``invalid_proof``);
4. idempotency: the same proofs for the same dataset get the kept answer back, byte for byte (a wallet that
   lost the response, a provider killed after the commit); any other request on a used dataset is
   ``credential_request_denied``;
5. the signing certificate's status (:mod:`idp.vci.revocation`): revoked — denied, facts deleted; unknown — the
   request is deferred (202, ``transaction_id``), its nonces consumed and its keys kept sealed; good — issued;
6. one transaction (:meth:`idp.storage.credentials.datasets.DatasetStore.issue`): nonces consumed (``invalid_nonce``
   otherwise, nothing written), random status indices, signatures, the sealed answer; the facts deleted.

A deferred transaction is retried at the Deferred Credential Endpoint with the same check 5. Notifications are
idempotent; ``credential_accepted`` deletes the kept answer, ``credential_failure`` and ``credential_deleted``
(the credentials never reached the wallet's store) also make them INVALID.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from credentials.oid4vci.configurations import CONFIGURATIONS, CredentialConfiguration, Dataset
from credentials.oid4vci.errors import IssuanceError, IssuanceErrorCode, IssuanceReason
from credentials.oid4vci.issuance import credential_response, deferred_response, sign_credentials
from credentials.oid4vci.proof import distinct_nonces, nonce_error, verify_proofs
from credentials.oid4vci.request import (
    parse_credential_request,
    parse_deferred_request,
    parse_notification_request,
)
from credentials.status.bits import StatusType
from credentials.status.check import StatusReference
from idp.errors import InsufficientScope
from idp.runtime import Services
from idp.storage.audit import digest_ref, record
from idp.storage.credentials import Conflict, DatasetRow, DatasetState, NonceRejected
from idp.vci.access import Answer, IssuerAccess
from idp.vci.service import Vci, issuer_of, request_key
from idp.vci.status import status_uri

_log = logging.getLogger("idp.vci.issue")


def _denied(reason: IssuanceReason, description: str) -> IssuanceError:
    return IssuanceError(IssuanceErrorCode.CREDENTIAL_REQUEST_DENIED, reason, description)


def _vci(services: Services) -> Vci:
    if (vci := issuer_of(services)) is None:
        raise _denied(IssuanceReason.UNKNOWN_CONFIGURATION, "this provider issues no credentials")
    return vci


def _lifetime(services: Services, config: CredentialConfiguration) -> dt.timedelta:
    options = services.settings.credentials
    return dt.timedelta(seconds=options.age_lifetime if config.kind == "age" else options.basic_lifetime)


async def _dataset_for(vci: Vci, access: IssuerAccess, identifier: str | None, configuration_id: str | None,
                       now: dt.datetime) -> DatasetRow:
    rows = await vci.store.datasets.of_issuance(access.issuance_id, now)
    if identifier is not None:
        row = next((r for r in rows if r.identifier == identifier), None)
        if row is None:
            raise IssuanceError(IssuanceErrorCode.UNKNOWN_CREDENTIAL_IDENTIFIER, IssuanceReason.UNKNOWN_IDENTIFIER,
                                "credential_identifier is not one this access token was issued for")
        return row
    if configuration_id not in CONFIGURATIONS:
        raise IssuanceError(IssuanceErrorCode.UNKNOWN_CREDENTIAL_CONFIGURATION, IssuanceReason.UNKNOWN_CONFIGURATION,
                            "credential_configuration_id is not a configuration of this issuer")
    if access.by_identifier:
        raise IssuanceError(IssuanceErrorCode.INVALID_CREDENTIAL_REQUEST, IssuanceReason.MALFORMED_REQUEST,
                            "the token response listed credential_identifiers: use credential_identifier")
    matching = [r for r in rows if r.configuration_id == configuration_id]
    if not matching:
        raise InsufficientScope("the access token does not cover this credential configuration")
    return matching[0]


def _kept(vci: Vci, row: DatasetRow) -> Answer | None:
    if row.response is None or row.response_kek_id is None or row.response_status is None:
        return None
    return Answer(row.response_status, vci.unseal(row.response_kek_id, row.response, "response:" + row.identifier))


async def _pause(services: Services, point: str) -> None:
    """Test mode only (``credentials.test_pause``): stop here, logged, so that a test can kill the process."""
    if services.settings.test_mode and services.settings.credentials.test_pause == point:
        _log.warning("test_pause", extra={"point": point})
        await asyncio.sleep(3600)


async def _verdict(services: Services, vci: Vci, row: DatasetRow, now: dt.datetime) -> str:
    crls = await vci.revocation.crls(services.settings, now)
    verdict = await vci.revocation.verdict(row.cert_issuer, row.cert_ref, crls, now)
    if verdict == "revoked":
        await vci.store.datasets.deny(row.identifier)
        _log.warning("credential_denied_certificate_revoked", extra={"configuration": row.configuration_id})
        raise _denied(IssuanceReason.CERTIFICATE_REVOKED, "the signing certificate behind this login is revoked")
    return verdict


async def _issue(services: Services, vci: Vci, row: DatasetRow, dataset: Dataset,
                 holder_keys: Sequence[Mapping[str, str]], *, nonces: Sequence[str], key: str,
                 from_state: DatasetState, now: dt.datetime) -> Answer:
    config = CONFIGURATIONS[row.configuration_id]
    issuer_key = await vci.keys.current(now)
    dataset = replace(dataset, not_after=min(dataset.not_after, issuer_key.chain[0].not_valid_after_utc))
    lifetime, issuer = _lifetime(services, config), services.settings.issuer
    exp = config.draft(dataset, issuer=issuer, at=now, lifetime=lifetime).exp
    notification_id = secrets.token_urlsafe(24)

    issued: list[tuple[int, int]] = []

    def sign(entries: Sequence[tuple[int, int]]) -> dict[str, Any]:
        issued[:] = entries
        statuses = [StatusReference(idx, status_uri(issuer, list_id)) for list_id, idx in entries]
        credentials = sign_credentials(config, dataset, issuer=issuer, holder_keys=holder_keys, statuses=statuses,
                                       key=issuer_key, at=now, lifetime=lifetime)
        return credential_response(credentials, notification_id)

    async def pause(point: str) -> None:
        await _pause(services, point)

    body = await vci.store.datasets.issue(
        row.identifier, from_state=from_state, request_key=key,
        nonces=nonces, count=len(holder_keys), cert_ref=row.cert_ref, configuration_id=config.id, expires_at=exp,
        lists=vci.lists, sign=sign, seal=lambda b: vci.seal(b, "response:" + row.identifier),
        notification_id=notification_id,
        response_expires_at=now + dt.timedelta(seconds=services.settings.credentials.response_ttl), now=now,
        pause=pause)
    _log.info("credentials_issued", extra={"configuration": config.id, "count": len(holder_keys),
                                           "deferred": from_state is DatasetState.DEFERRED})
    for list_id in sorted({list_id for list_id, _ in issued}):
        await record(services, "credential_issued", now, configuration_id=config.id, count=len(issued),
                     status_list=list_id, status_indexes=[idx for lid, idx in issued if lid == list_id])
    return Answer(200, body)


async def _after_conflict(vci: Vci, identifier: str, key: str, now: dt.datetime) -> Answer:
    """Another request used the dataset first: its answer if it was this very request, else denied."""
    row = await vci.store.datasets.find(identifier, now)
    if row is not None and row.request_key == key and (kept := _kept(vci, row)) is not None:
        return kept
    raise _denied(IssuanceReason.ALREADY_ISSUED, "these credentials were already issued for this authorization")


async def credential_request(services: Services, access: IssuerAccess, document: Mapping[str, Any],
                             now: dt.datetime) -> Answer:
    """Answer a Credential Request (steps in the module docstring)."""
    vci = _vci(services)
    request = parse_credential_request(document, batch_size=services.settings.credentials.batch_size)
    row = await _dataset_for(vci, access, request.credential_identifier, request.credential_configuration_id, now)
    proofs = verify_proofs(request.proofs, policy=vci.proofs, at=now, client_id=access.client_id)
    key = request_key(row.identifier, *sorted(request.proofs))
    if row.request_key == key and (kept := _kept(vci, row)) is not None:
        return kept
    if row.state is not DatasetState.GRANTED or row.sealed is None or row.kek_id is None:
        raise _denied(IssuanceReason.ALREADY_ISSUED, "these credentials were already issued for this authorization")
    dataset = Dataset.from_json(vci.unseal(row.kek_id, row.sealed, row.identifier)["dataset"])
    holder_keys = [dict(p.jwk) for p in proofs]
    nonces = distinct_nonces(proofs)
    try:
        if await _verdict(services, vci, row, now) == "unknown":
            return await _defer(services, vci, row, dataset, holder_keys, nonces=nonces, key=key, now=now)
        return await _issue(services, vci, row, dataset, holder_keys, nonces=nonces, key=key,
                            from_state=DatasetState.GRANTED, now=now)
    except NonceRejected:
        raise nonce_error() from None
    except Conflict:
        return await _after_conflict(vci, row.identifier, key, now)


async def _defer(services: Services, vci: Vci, row: DatasetRow, dataset: Dataset,
                 holder_keys: Sequence[Mapping[str, str]], *, nonces: Sequence[str], key: str,
                 now: dt.datetime) -> Answer:
    options = services.settings.credentials
    transaction_id = secrets.token_urlsafe(24)
    body = deferred_response(transaction_id, int(options.deferred_interval))
    kek_id, sealed = vci.seal({"dataset": dataset.to_json(), "holder_keys": list(holder_keys)}, row.identifier)
    await vci.store.datasets.defer(row.identifier, request_key=key, nonces=nonces, kek_id=kek_id, sealed=sealed,
                                   body=body, seal=lambda b: vci.seal(b, "response:" + row.identifier),
                                   transaction_id=transaction_id,
                                   expires_at=now + dt.timedelta(seconds=options.deferred_ttl), now=now)
    _log.info("credential_deferred", extra={"configuration": row.configuration_id, "reason": "revocation_unknown"})
    return Answer(202, body)


async def deferred_request(services: Services, access: IssuerAccess, document: Mapping[str, Any],
                           now: dt.datetime) -> Answer:
    """Answer a Deferred Credential Request (§9)."""
    vci = _vci(services)
    transaction_id = parse_deferred_request(document)
    row = await vci.store.datasets.by_transaction(transaction_id, now)
    if row is None or row.issuance_id != access.issuance_id:
        raise IssuanceError(IssuanceErrorCode.INVALID_TRANSACTION_ID, IssuanceReason.UNKNOWN_TRANSACTION,
                            "transaction_id is unknown, expired or another token's")
    if row.state is DatasetState.ISSUED:
        if (kept := _kept(vci, row)) is not None:
            return kept
        raise IssuanceError(IssuanceErrorCode.INVALID_TRANSACTION_ID, IssuanceReason.UNKNOWN_TRANSACTION,
                            "the credentials of this transaction were already obtained")
    if row.state is not DatasetState.DEFERRED or row.sealed is None or row.kek_id is None or row.request_key is None:
        raise _denied(IssuanceReason.CERTIFICATE_REVOKED, "these credentials can no longer be issued")
    sealed = vci.unseal(row.kek_id, row.sealed, row.identifier)
    dataset = Dataset.from_json(sealed["dataset"])
    if await _verdict(services, vci, row, now) == "unknown":
        kept = _kept(vci, row)
        return kept if kept is not None else Answer(202, deferred_response(
            transaction_id, int(services.settings.credentials.deferred_interval)))
    try:
        return await _issue(services, vci, row, dataset, sealed["holder_keys"], nonces=(), key=row.request_key,
                            from_state=DatasetState.DEFERRED, now=now)
    except Conflict:
        return await _after_conflict(vci, row.identifier, row.request_key, now)


async def notification(services: Services, access: IssuerAccess, document: Mapping[str, Any]) -> None:
    """Record a Notification Request (§11)."""
    vci = _vci(services)
    request = parse_notification_request(document)
    row = await vci.store.datasets.by_notification(request.notification_id)
    if row is None or row.issuance_id != access.issuance_id:
        raise IssuanceError(IssuanceErrorCode.INVALID_NOTIFICATION_ID, IssuanceReason.UNKNOWN_NOTIFICATION,
                            "notification_id is unknown or another token's")
    await vci.store.datasets.note(request.notification_id, request.event, drop_response=True)
    if request.event != "credential_accepted":
        await vci.store.status_lists.set_status(StatusType.INVALID, dataset=row.identifier)
        await record(services, "credential_status", status="invalid", actor="notification",
                     dataset_ref=digest_ref(row.identifier))
    _log.info("credential_notification", extra={"event": request.event, "configuration": row.configuration_id})


__all__ = ["Answer", "credential_request", "deferred_request", "notification"]
