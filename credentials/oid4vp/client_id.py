"""The Verifier's Client Identifier and its prefix (OpenID4VP 1.0 §5.9).

Three prefixes, chosen per deployment:

* ``redirect_uri:<response_uri>`` (§5.9.3) — unsigned requests only (a Wallet has no key to check a signature
  with); all metadata in ``client_metadata``. For tests and closed deployments.
* ``x509_san_dns:<dns name>`` (§5.9.3) — signed Request Objects with an ``x5c`` chain whose leaf has that
  ``dNSName`` SubjectAltName; unless the Wallet trusts the Client Identifier otherwise, the FQDN of the
  ``response_uri`` must be the DNS name (checked here, so the Verifier never sends a request a Wallet must refuse).
* ``x509_hash:<base64url SHA-256 of the leaf DER>`` (§5.9.3) — signed Request Objects; the prefix HAIP 1.0 §5
  requires for signed requests.

For both X.509 prefixes HAIP 1.0 §5 adds: the trust anchor is not in ``x5c`` and the signing certificate is not
self-signed. The signing key stays behind :class:`keys.service.signer.Signer` (software or PKCS#11).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from keys.jose.b64 import b64url_encode
from keys.service.signer import Signer


class ClientIdPrefix(StrEnum):
    """The Client Identifier Prefixes this Verifier can use (§5.9.3)."""

    REDIRECT_URI = "redirect_uri"
    X509_SAN_DNS = "x509_san_dns"
    X509_HASH = "x509_hash"


def x509_hash(certificate: x509.Certificate) -> str:
    """The ``x509_hash`` value of ``certificate``: base64url SHA-256 of its DER (§5.9.3)."""
    return b64url_encode(hashlib.sha256(certificate.public_bytes(Encoding.DER)).digest())


@dataclass(frozen=True, slots=True)
class VerifierIdentity:
    """How this Verifier names and authenticates itself to Wallets: the prefix and, for the X.509 prefixes,
    the request-signing key and its chain (leaf first, no trust anchor)."""

    prefix: ClientIdPrefix
    signer: Signer | None = None
    chain: tuple[x509.Certificate, ...] = ()
    dns_name: str | None = None

    @classmethod
    def create(
        cls, prefix: ClientIdPrefix, *, signer: Signer | None = None, chain: Sequence[x509.Certificate] = (),
        dns_name: str | None = None,
    ) -> VerifierIdentity:
        """Check the combination (``ValueError`` listing the problem) and build the identity."""
        if prefix is ClientIdPrefix.REDIRECT_URI:
            if signer is not None or chain:
                raise ValueError("redirect_uri requests cannot be signed (§5.9.3): no key or chain")
            return cls(prefix)
        if signer is None or not chain:
            raise ValueError(f"{prefix.value} needs a request-signing key and its certificate chain")
        leaf = chain[0]
        if leaf.subject == leaf.issuer:
            raise ValueError("the request-signing certificate must not be self-signed (HAIP 1.0 §5)")
        if any(c.subject == c.issuer for c in chain[1:]):
            raise ValueError("the chain must not include the trust anchor (HAIP 1.0 §5)")
        if prefix is ClientIdPrefix.X509_SAN_DNS:
            if not dns_name:
                raise ValueError("x509_san_dns needs the DNS name")
            if dns_name.lower() not in (n.lower() for n in _dns_names(leaf)):
                raise ValueError(f"the leaf certificate has no dNSName SubjectAltName {dns_name}")
        return cls(prefix, signer, tuple(chain), dns_name)

    def client_id(self, response_uri: str) -> str:
        """The full Client Identifier, prefix included, for a request answered at ``response_uri``."""
        if self.prefix is ClientIdPrefix.REDIRECT_URI:
            return f"redirect_uri:{response_uri}"
        if self.prefix is ClientIdPrefix.X509_SAN_DNS:
            host = urlsplit(response_uri).hostname or ""
            if host.lower() != (self.dns_name or "").lower():
                raise ValueError("the response_uri host must be the x509_san_dns name (§5.9.3)")
            return f"x509_san_dns:{self.dns_name}"
        return f"x509_hash:{x509_hash(self.chain[0])}"

    @property
    def signed(self) -> bool:
        """True when requests are signed Request Objects (the X.509 prefixes)."""
        return self.signer is not None

    def x5c(self) -> list[str]:
        """The ``x5c`` header value: base64 DER, leaf first (RFC 7515 §4.1.6)."""
        return [base64.b64encode(c.public_bytes(Encoding.DER)).decode("ascii") for c in self.chain]


def _dns_names(certificate: x509.Certificate) -> list[str]:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return list(san.get_values_for_type(x509.DNSName))
