"""Certificate references: how an issued credential remembers the signing certificate it was derived from
without keeping the certificate, its serial number or its hash.

``cert_ref = BLAKE2b-256(key = K, lp(issuer id) || serial)`` with ``K`` derived from the pairwise salt
(``authorization.pairwise_salt``, which never changes) and the issuer id the authority key identifier of the
certificate (the root's subject key identifier on the CRL side; the DN when either is missing). Without ``K`` a
reference reveals nothing and links nothing; with it the revocation job (:mod:`idp.vci.revocation`) maps every
serial of a CRL to its reference and matches. ``cert_issuer`` is the SHA-256 of the issuer id (a CA, not a
person): it picks the CRL that must be fresh when a credential is issued.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from cryptography import x509

from idp.oauth.subject import pairwise_salt
from idp.settings import Settings
from keys.revocation.crl import CrlIndex
from keys.trust import authority_key_id

_CONTEXT: Final = b"mynacard-id certificate reference v1"
#: ``cert_issuer`` of logins that had no certificate (the test authenticator, test mode only).
TEST_ISSUER: Final = "test"


@dataclass(frozen=True, slots=True)
class CertificateReference:
    """The issuer digest and the keyed reference of one certificate."""

    issuer: str
    ref: str


def reference_key(settings: Settings) -> bytes:
    """``K``: the pairwise salt, domain-separated."""
    return _reference_key(pairwise_salt(settings))


@lru_cache(maxsize=4)
def _reference_key(salt: bytes) -> bytes:
    return hmac.new(salt, _CONTEXT, hashlib.sha256).digest()


def _ref(key: bytes, issuer_id: bytes, serial: int) -> str:
    serial_octets = serial.to_bytes((serial.bit_length() + 8) // 8, "big", signed=True)
    message = len(issuer_id).to_bytes(4, "big") + issuer_id + serial_octets
    return hashlib.blake2b(message, key=key[:64], digest_size=32).hexdigest()


def issuer_digest(issuer_id: bytes) -> str:
    """``cert_issuer`` for an issuer id."""
    return hashlib.sha256(issuer_id).hexdigest()


def certificate_reference(key: bytes, certificate: x509.Certificate) -> CertificateReference:
    """The reference of a (validated) card certificate."""
    issuer_id = authority_key_id(certificate) or certificate.issuer.public_bytes()
    return CertificateReference(issuer_digest(issuer_id), _ref(key, issuer_id, certificate.serial_number))


def crl_issuer_id(index: CrlIndex) -> bytes:
    """The issuer id of a CRL (the same value :func:`certificate_reference` reads from the certificates it lists)."""
    return index.issuer_key_id or index.issuer_name_der


def crl_references(key: bytes, index: CrlIndex) -> frozenset[str]:
    """The references of every certificate a CRL lists."""
    issuer_id = crl_issuer_id(index)
    return frozenset(_ref(key, issuer_id, serial) for serial in index.serials())


__all__ = ["TEST_ISSUER", "CertificateReference", "certificate_reference", "crl_issuer_id", "crl_references",
           "issuer_digest", "reference_key"]
