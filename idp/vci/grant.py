"""Issuance grants: what a login authorizes the wallet to receive, kept as Credential Datasets until issued.

:func:`begin_issuance` runs when the authorization code is issued (:func:`idp.oauth.authorization_response.
issue_code`): for each configuration the request asked for (scope values, ``authorization_details``) and the
claims the person approved for it on the consent page, one dataset with only those facts, sealed
(:meth:`idp.vci.service.Vci.seal`), valid ``credentials.issuance_ttl``. The grant object only names the
issuance (``credential_issuance``); the token response lists the datasets' identifiers
(``authorization_details`` with ``credential_identifiers``, OpenID4VCI 1.0 §6.2).

The login's ``credential_source`` (:func:`credential_source`) is the only way facts reach the issuer: the
four facts exactly as read from the signing certificate, its ``notAfter`` and its certificate reference
(:mod:`idp.vci.references`) — never the certificate. For the online re-check (:mod:`idp.vci.watch`) it also
carries the certificate's identity (issuer key id, serial, hash, OCSP responder), which the grant seals into
``certificate_watches``.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography import x509

from credentials.catalog.basic import ReleasedFacts
from credentials.oid4vci.authorization_details import token_details
from credentials.oid4vci.configurations import CredentialSource
from idp.oauth.authorization_request import AuthorizationRequest
from idp.oauth.authorization_request.details import Login
from idp.runtime import Services
from idp.storage.credentials import NewDataset
from idp.vci.references import CertificateReference, certificate_reference
from idp.vci.service import issuer_of
from idp.vci.watch import watch, watch_identity
from keys.x509.facts import BasicFacts

ISSUANCE_MEMBER: Final = "credential_issuance"
BY_IDENTIFIER_MEMBER: Final = "credential_by_identifier"
_log = logging.getLogger("idp.vci.grant")


@dataclass(frozen=True, slots=True)
class Issuance:
    """The datasets one login granted: ``(configuration id, credential identifier)`` pairs."""

    issuance_id: str
    granted: tuple[tuple[str, str], ...]

    def grant_members(self, *, by_identifier: bool) -> dict[str, Any]:
        """What the grant object records: the issuance, and whether identifiers were handed out (then the
        wallet must use them, §8.2)."""
        return {ISSUANCE_MEMBER: self.issuance_id, BY_IDENTIFIER_MEMBER: by_identifier}

    def token_details(self) -> list[dict[str, Any]]:
        """The token response's ``authorization_details``."""
        return token_details([(config, [identifier]) for config, identifier in self.granted])


def credential_source(facts: BasicFacts, certificate: bytes, key: bytes) -> dict[str, Any]:
    """The ``credential_source`` of a verified signing-certificate login (personal data: kept with the login,
    then only in sealed datasets)."""
    leaf = x509.load_der_x509_certificate(certificate)
    reference = certificate_reference(key, leaf)
    source = CredentialSource(ReleasedFacts.from_facts(facts, include_sex=True), leaf.not_valid_after_utc)
    return {"source": source.to_json(), "cert_ref": reference.ref, "cert_issuer": reference.issuer,
            "watch": watch_identity(leaf)}


def _parse_source(value: Mapping[str, Any]) -> tuple[CredentialSource, CertificateReference]:
    return (CredentialSource.from_json(value["source"]),
            CertificateReference(str(value["cert_issuer"]), str(value["cert_ref"])))


async def begin_issuance(services: Services, request: AuthorizationRequest, login: Login, *,
                         approved: Collection[str], now: dt.datetime) -> Issuance | None:
    """Store the datasets of the configurations the request asked for and the person approved; ``None`` when
    none (no credentials asked, none approved, or the login gave no facts)."""
    vci = issuer_of(services)
    if vci is None or not request.credential_requests or login.credential_source is None:
        return None
    source, reference = _parse_source(login.credential_source)
    issuance_id = secrets.token_urlsafe(24)
    expires_at = now + dt.timedelta(seconds=services.settings.credentials.issuance_ttl)
    rows, granted = [], []
    for config, paths in request.credential_requests:
        dataset = config.dataset(source, set(config.consent_for(paths)) & set(approved))
        if dataset is None:
            continue
        identifier = secrets.token_urlsafe(24)
        kek_id, sealed = vci.seal({"dataset": dataset.to_json()}, identifier)
        rows.append(NewDataset(identifier, issuance_id, config.id, kek_id, sealed, reference.ref, reference.issuer,
                               expires_at))
        granted.append((config.id, identifier))
    if not rows:
        return None
    await vci.store.datasets.add(rows, now)
    options = services.settings.credentials
    watch_until = min(source.not_after, expires_at + dt.timedelta(
        seconds=options.deferred_ttl + max(options.basic_lifetime, options.age_lifetime)))
    await watch(vci.store, vci.seal, services.settings, reference, login.credential_source.get("watch"),
                expires_at=watch_until, now=now)
    _log.info("credential_datasets_granted", extra={"client_id": request.client_id,
                                                    "configurations": [c for c, _ in granted]})
    return Issuance(issuance_id, tuple(granted))


async def issuance_of(services: Services, issuance_id: str, now: dt.datetime) -> Issuance | None:
    """The still unexpired datasets of an issuance."""
    vci = issuer_of(services)
    if vci is None:
        return None
    rows = await vci.store.datasets.of_issuance(issuance_id, now)
    return Issuance(issuance_id, tuple((r.configuration_id, r.identifier) for r in rows)) if rows else None


__all__ = ["BY_IDENTIFIER_MEMBER", "ISSUANCE_MEMBER", "Issuance", "begin_issuance", "credential_source",
           "issuance_of"]
