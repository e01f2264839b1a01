"""The verification record: evidence a business may keep of a card signature the provider verified (犯罪収益移転防止法
施行規則 §6(1)(i)(ワ): which certificate, its validity confirmed, what was signed, when).

A JWS compact serialisation (RFC 7515 §7.1) of a JWT (``typ`` :data:`RECORD_TYP`) signed with the provider's
service key (:mod:`idp.signing`; the key is in the provider's JWKS, so the business, or
``python -m docsign verify-record``, checks it offline)::

    {"iss": issuer, "jti": record id, "iat": verification time, "client_id": the business,
     "signing_request": request id,
     "documents": [{"label", "hashAlgorithmOID", "hash" (base64), "signing_time"}],
     "certificate": {"issuer" (RFC 4514), "serial" (hex), "sha256" (hex of the DER), "not_after"},
     "revocation": {"source": "crl", "crl_issuer", "crl_number", "this_update"}
                 | {"source": "platform", "operator"} | {"source": "ocsp", "responder", "produced_at"},
     "x5c": [base64 DER]}        # only with signing.keep_certificates (platform operator / certified verifier)

No personal data: the certificate is named by reference (its issuer, serial and digest), not by its subject; the
raw certificate only where the deployment may keep it (a service provider may not keep raw certificate data).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final

from cryptography import x509

from idp.login.audit import RevocationFields
from idp.runtime import Services
from idp.sign.requests import Document, DocumentSignature
from keys.cms.digest_info import hash_algorithm_by_name
from keys.service.jws import encode_jwt

RECORD_TYP: Final = "signing-record+jwt"


def certificate_reference(certificate: bytes) -> dict[str, Any]:
    """Issuer, serial, SHA-256 and notAfter of a certificate: what names it without keeping it."""
    leaf = x509.load_der_x509_certificate(certificate)
    return {"issuer": leaf.issuer.rfc4514_string(), "serial": format(leaf.serial_number, "x"),
            "sha256": hashlib.sha256(certificate).hexdigest(), "not_after": int(leaf.not_valid_after_utc.timestamp())}


def revocation_reference(fields: RevocationFields | Mapping[str, Any]) -> dict[str, Any]:
    """Which revocation answer confirmed the certificate, from the card login's audit fields."""
    source = fields.get("revocation_source")
    reference: dict[str, Any] = {"source": source}
    if source == "crl":
        reference.update(crl_issuer=fields.get("crl_issuer"), crl_number=fields.get("crl_number"))
    elif source == "platform":
        reference["operator"] = fields.get("operator")
    return reference


def record_claims(*, issuer: str, client_id: str, request_id: str, documents: Sequence[Document],
                  signatures: Sequence[DocumentSignature], certificate: bytes, revocation: Mapping[str, Any],
                  at: dt.datetime, keep_certificate: bool) -> dict[str, Any]:
    """The record's claims (see the module docstring)."""
    claims: dict[str, Any] = {
        "iss": issuer, "jti": str(uuid.uuid4()), "iat": int(at.timestamp()), "client_id": client_id,
        "signing_request": request_id,
        "documents": [{"label": d.label, "hashAlgorithmOID": hash_algorithm_by_name(d.hash_algorithm).oid,
                       "hash": base64.b64encode(d.digest).decode("ascii"), "signatureFormat": d.profile,
                       "signing_time": int(s.signing_time.timestamp())}
                      for d, s in zip(documents, signatures, strict=True)],
        "certificate": certificate_reference(certificate),
        "revocation": dict(revocation),
    }
    if keep_certificate:
        claims["x5c"] = [base64.b64encode(certificate).decode("ascii")]
    return claims


async def sign_record(services: Services, claims: Mapping[str, Any], now: dt.datetime) -> str:
    """The record as a compact JWS signed with the provider's current key of its default algorithm."""
    signer = await services.keyset.signer(services.settings.tokens.access_token_alg, now)
    return encode_jwt(claims, signer, typ=RECORD_TYP)


__all__ = ["RECORD_TYP", "certificate_reference", "record_claims", "revocation_reference", "sign_record"]
