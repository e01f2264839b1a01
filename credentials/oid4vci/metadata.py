"""Metadata the issuer publishes: Credential Issuer Metadata (OpenID4VCI 1.0 §12.2), SD-JWT VC Type Metadata
(draft-ietf-oauth-sd-jwt-vc §6) and JWT VC Issuer Metadata (§5), built from the configurations (pure).

Type Metadata documents are served as the exact octets :func:`type_metadata_bytes` returns, so that the
``vct#integrity`` claim of our credentials (:func:`integrity`, W3C SRI ``sha256-…``) lets a wallet or verifier
cache them for good instead of phoning home (§6.5, privacy considerations).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from credentials.jose import json_bytes
from credentials.oid4vci.configurations import (
    FORMAT,
    LOCALES,
    SIGNING_ALGORITHMS,
    CredentialConfiguration,
)


@dataclass(frozen=True, slots=True)
class KeyAttestationRequirement:
    """``key_attestations_required`` (§12.2.4): accepted ``key_storage`` and ``user_authentication`` levels
    (empty: any level)."""

    key_storage: tuple[str, ...] = ()
    user_authentication: tuple[str, ...] = ()

    def to_json(self) -> dict[str, list[str]]:
        """The metadata object (possibly empty: an attestation is needed without further constraints)."""
        members = {"key_storage": list(self.key_storage), "user_authentication": list(self.user_authentication)}
        return {name: values for name, values in members.items() if values}


@dataclass(frozen=True, slots=True)
class IssuerDescription:
    """What the Credential Issuer Metadata says besides the configurations."""

    issuer: str
    endpoints: Mapping[str, str]
    display: Mapping[str, str]
    batch_size: int
    key_attestations: KeyAttestationRequirement | None = None
    proof_algorithms: tuple[str, ...] = SIGNING_ALGORITHMS
    extra: Mapping[str, Any] = field(default_factory=dict)


def configuration_metadata(config: CredentialConfiguration, description: IssuerDescription) -> dict[str, Any]:
    """One entry of ``credential_configurations_supported`` for SD-JWT VC (§12.2.4, Appendix A.3.2)."""
    proof: dict[str, Any] = {"proof_signing_alg_values_supported": list(description.proof_algorithms)}
    if description.key_attestations is not None:
        proof["key_attestations_required"] = description.key_attestations.to_json()
    return {
        "format": FORMAT,
        "scope": config.scope,
        "vct": config.vct(description.issuer),
        "credential_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "cryptographic_binding_methods_supported": ["jwk"],
        "proof_types_supported": {"jwt": proof},
        "credential_metadata": {
            "display": [{"name": config.name[i], "locale": locale, "description": config.description[i],
                         "background_color": config.background_color, "text_color": config.text_color}
                        for i, locale in enumerate(LOCALES)],
            "claims": [{"path": list(c.path), "mandatory": c.mandatory,
                        "display": [{"name": c.label[i], "locale": locale} for i, locale in enumerate(LOCALES)]}
                       for c in config.claims],
        },
    }


def issuer_metadata(configs: Sequence[CredentialConfiguration], description: IssuerDescription) -> dict[str, Any]:
    """The Credential Issuer Metadata document (§12.2.4). The provider is its own authorization server, so
    ``authorization_servers`` is left out (§12.2.4)."""
    document: dict[str, Any] = {"credential_issuer": description.issuer}
    document.update({name: description.issuer + path for name, path in description.endpoints.items()})
    if description.batch_size >= 2:
        document["batch_credential_issuance"] = {"batch_size": description.batch_size}
    document["display"] = [{"name": description.display[locale], "locale": locale} for locale in LOCALES]
    document["credential_configurations_supported"] = {c.id: configuration_metadata(c, description) for c in configs}
    document.update(description.extra)
    return document


def type_metadata(config: CredentialConfiguration, issuer: str) -> dict[str, Any]:
    """The SD-JWT VC Type Metadata of ``config`` (§6.2, §8 display, §9 claims)."""
    return {
        "vct": config.vct(issuer),
        "name": config.name[1],
        "description": config.description[1],
        "display": [{"locale": locale, "name": config.name[i], "description": config.description[i],
                     "rendering": {"simple": {"background_color": config.background_color,
                                              "text_color": config.text_color}}}
                    for i, locale in enumerate(LOCALES)],
        "claims": [{"path": list(c.path), "sd": c.sd, "mandatory": c.mandatory,
                    "display": [{"locale": locale, "label": c.label[i]} for i, locale in enumerate(LOCALES)]}
                   for c in config.claims],
    }


def type_metadata_bytes(config: CredentialConfiguration, issuer: str) -> bytes:
    """The exact octets served at the ``vct`` URL (and hashed into ``vct#integrity``)."""
    return json_bytes(type_metadata(config, issuer))


def integrity(document: bytes) -> str:
    """A W3C Subresource Integrity metadata string (``sha256-`` + base64 of the SHA-256)."""
    return "sha256-" + base64.b64encode(hashlib.sha256(document).digest()).decode("ascii")


def jwt_vc_issuer_metadata(issuer: str, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """JWT VC Issuer Metadata (§5.2): the issuer identifier and its keys inline (``jwks``)."""
    return {"issuer": issuer, "jwks": dict(jwks)}


__all__ = ["IssuerDescription", "KeyAttestationRequirement", "configuration_metadata", "integrity",
           "issuer_metadata", "jwt_vc_issuer_metadata", "type_metadata", "type_metadata_bytes"]
