"""A certificate known by its identity only: what a revocation source needs to answer about it after the
certificate itself is gone (a service provider may not keep card certificates; jpki-card-and-certs.md §2.4).

* OCSP (RFC 6960 §4.1.1) names a certificate by CertID: the hashes of its issuer's name and key, and its
  serialNumber. The issuer is a pinned root (JPKI has no intermediates), so the issuer's name and the serial are
  enough: the hashes are recomputed from the root, under whatever algorithm the request or response uses.
* A platform operator answers by issuer and serial (how J-LIS's revocation data is keyed) and binds its answer
  to the certificate's SHA-256 (:mod:`keys.revocation.platform`).

Usage::

    ident = CertificateId.of(certificate)           # at login, while the certificate is at hand
    later = CertificateId(root.subject, ident.serial_number, ident.sha256)   # from the kept serial and hash
    check_ocsp_response(data, cert=later, issuer=root, at=now, max_age=None, nonce=nonce)
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.hashes import SHA256


@dataclass(frozen=True, slots=True)
class CertificateId:
    """Issuer name, serial number and SHA-256 of one certificate (the same attribute names as
    :class:`cryptography.x509.Certificate` for the first two, so checks read either)."""

    issuer: x509.Name
    serial_number: int
    sha256: str

    @classmethod
    def of(cls, certificate: x509.Certificate) -> CertificateId:
        """The identity of ``certificate``."""
        return cls(certificate.issuer, certificate.serial_number, certificate.fingerprint(SHA256()).hex())

    @staticmethod
    def sha256_of(certificate: x509.Certificate | CertificateId) -> str:
        """Lower-case hex SHA-256 of the certificate's DER."""
        if isinstance(certificate, CertificateId):
            return certificate.sha256
        return certificate.fingerprint(SHA256()).hex()


__all__ = ["CertificateId"]
