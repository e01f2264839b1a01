"""What the audit trail records of a card login's revocation answer (idp.storage.audit, event ``card_login``):
its source and, for a CRL, the CRL's issuer and number, for a platform operator, the operator's id."""

from __future__ import annotations

import datetime as dt
from typing import TypedDict

from cryptography import x509

from idp.login.verifier import CardVerifier
from idp.settings import Settings
from keys.revocation import RevocationStatus


class RevocationFields(TypedDict, total=False):
    """The audit fields of a revocation answer."""

    revocation_source: str
    operator: str | None
    crl_issuer: str | None
    crl_number: int


def revocation_fields(settings: Settings, verifier: CardVerifier, certificate: bytes,
                      status: RevocationStatus | object, at: dt.datetime) -> RevocationFields:
    """``revocation_source`` and what identifies the answer: ``crl_issuer`` and ``crl_number`` of the CRL that
    covers the certificate's issuer, or the platform ``operator``."""
    if not isinstance(status, RevocationStatus):
        return {}
    fields: RevocationFields = {"revocation_source": status.source}
    if status.source == "platform":
        fields["operator"] = settings.card_login.platform_operator or None
    elif status.source == "crl" and verifier.crls is not None:
        issuer = x509.load_der_x509_certificate(certificate).issuer
        crl = next((index for index in verifier.crls.indexes(at) if index.issuer_name == issuer), None)
        if crl is not None:
            name = crl.issuer_name.rfc4514_string()
            fields["crl_issuer"], fields["crl_number"] = (name if name.isascii() else None), crl.crl_number
    return fields


__all__ = ["RevocationFields", "revocation_fields"]
