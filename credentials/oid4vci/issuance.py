"""Signing the credentials of one Credential Request, and the response bodies (OpenID4VCI 1.0 §8.3, §9.2).

:func:`sign_credentials` is pure: one SD-JWT VC per holder key (each credential of a batch has its own key, its
own salts and decoys, and its own random status index, so that two credentials of one batch cannot be linked by
anything they carry), signed ES256 with the issuer key and its ``x5c`` chain (leaf first, no trust anchor: HAIP
1.0), ``iss`` the Credential Issuer, ``vct#integrity`` of the served type metadata, ``exp`` capped by the
signing certificate's ``notAfter`` (:mod:`credentials.catalog`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from credentials.oid4vci.configurations import CredentialConfiguration, Dataset
from credentials.oid4vci.metadata import integrity, type_metadata_bytes
from credentials.sdjwt.issue import SECURE_RANDOMNESS, Randomness
from credentials.sdjwtvc import issue_sd_jwt_vc
from credentials.status.check import StatusReference
from keys.service.signer import Signer


@dataclass(frozen=True, slots=True)
class IssuerKey:
    """The key that signs credentials now and its certificate chain (leaf first, without the root)."""

    signer: Signer
    chain: tuple[x509.Certificate, ...]


def sign_credentials(
    config: CredentialConfiguration,
    dataset: Dataset,
    *,
    issuer: str,
    holder_keys: Sequence[Mapping[str, str]],
    statuses: Sequence[StatusReference],
    key: IssuerKey,
    at: dt.datetime,
    lifetime: dt.timedelta,
    randomness: Randomness = SECURE_RANDOMNESS,
) -> list[str]:
    """One compact SD-JWT VC per holder key, the ``i``-th with the ``i``-th status reference."""
    if len(holder_keys) != len(statuses) or not holder_keys:
        raise ValueError("one status reference per holder key, at least one key")
    draft = config.draft(dataset, issuer=issuer, at=at, lifetime=lifetime)
    vct_integrity = integrity(type_metadata_bytes(config, issuer))
    return [issue_sd_jwt_vc(draft, signer=key.signer, holder_jwk=jwk, issuer=issuer, status=status, x5c=key.chain,
                            vct_integrity=vct_integrity, randomness=randomness).compact
            for jwk, status in zip(holder_keys, statuses, strict=True)]


def credential_response(credentials: Sequence[str], notification_id: str | None) -> dict[str, Any]:
    """The immediate Credential Response (§8.3) or the Deferred Credential Response with credentials (§9.2)."""
    body: dict[str, Any] = {"credentials": [{"credential": c} for c in credentials]}
    if notification_id is not None:
        body["notification_id"] = notification_id
    return body


def deferred_response(transaction_id: str, interval: int) -> dict[str, Any]:
    """The HTTP 202 body of a deferred issuance (§8.3, §9.2)."""
    return {"transaction_id": transaction_id, "interval": max(1, interval)}


__all__ = ["IssuerKey", "credential_response", "deferred_response", "sign_credentials"]
