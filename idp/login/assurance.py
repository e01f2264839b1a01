"""The identity-assurance evidence of a verified card signature (:func:`idp.oauth.verified_claims.evidence_source`):
the signing certificate's issuer DN and serial number, when the card signed, when the provider verified it, and
which revocation answer confirmed the certificate valid (:func:`idp.login.audit.revocation_fields`). References
only: the certificate itself is never kept (a service provider may not keep raw certificate data)::

    signature_evidence(certificate_der, revocation_fields(...), signed_at=issued_at, verified_at=now)

``created_at`` is when the message the card signed was issued (a login challenge, a signing request): the
signature is no older, and the provider received it by ``verified_at``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509

from idp.login.audit import RevocationFields
from idp.oauth.verified_claims import evidence_source


def signature_evidence(certificate: bytes, revocation: RevocationFields, *, signed_at: dt.datetime,
                       verified_at: dt.datetime) -> dict[str, Any]:
    """The evidence of a signature by ``certificate`` (DER) that the provider verified at ``verified_at``."""
    parsed = x509.load_der_x509_certificate(certificate)
    return evidence_source(issuer=parsed.issuer.rfc4514_string(), serial_number=parsed.serial_number,
                           created_at=signed_at, verified_at=verified_at,
                           revocation={"source": revocation.get("revocation_source"),
                                       "crl_issuer": revocation.get("crl_issuer"),
                                       "crl_number": revocation.get("crl_number"),
                                       "operator": revocation.get("operator")})


__all__ = ["signature_evidence"]
