"""An EC P-256 test hierarchy for verifiable credentials (HAIP 1.0 x5c): a root marked ``O=VC-TEST``, an issuing
CA, and end-entity certificates for a credential issuer (SAN URI of the issuer, signs SD-JWT VCs and Status List
Tokens) and for a verifier's signed requests (SAN dNSName, ``x509_san_dns``/``x509_hash``).

``x5c`` chains built from it are leaf first and never include the root (HAIP 1.0 §5, §6.1.1); the root is
admitted by the trust store only in test mode (its organisation contains ``TEST``). For tests, conformance runs,
benchmarks and demos only.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import NameOID

from keys.service.signer import SoftwareSigner
from keys.trust import TrustStore, fingerprint

VC_TEST_ORGANISATION = "VC-TEST"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, VC_TEST_ORGANISATION),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                         encipher_only=False, decipher_only=False)


def _certificate(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool, valid_from: dt.datetime, valid_until: dt.datetime,
    san: x509.GeneralName | None = None,
) -> x509.Certificate:
    issuer_public = issuer_key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.subject if issuer is not None else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_until)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca and issuer is not None else None),
                       critical=True)
        .add_extension(_usage(ca=ca), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public), critical=False)
    )
    if san is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([san]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass(frozen=True)
class EndEntity:
    """An end-entity certificate, its key, and the ``x5c`` chain to send with its signatures."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey = field(repr=False)
    chain: tuple[x509.Certificate, ...]

    def signer(self, kid: str = "vc-test") -> SoftwareSigner:
        """An ES256 signer over the key."""
        return SoftwareSigner(self.key, "ES256", kid)

    def x5c(self) -> list[str]:
        """The ``x5c`` header value (base64 DER, leaf first, no root)."""
        return [base64.b64encode(c.public_bytes(Encoding.DER)).decode("ascii") for c in self.chain]

    def key_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM (test files only)."""
        return self.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())

    def chain_pem(self) -> bytes:
        """The chain as concatenated PEM, leaf first."""
        return b"".join(c.public_bytes(Encoding.PEM) for c in self.chain)


@dataclass(frozen=True)
class VcTestPki:
    """Root and issuing CA of the VC test hierarchy; issues end-entity certificates."""

    root: x509.Certificate
    root_key: ec.EllipticCurvePrivateKey = field(repr=False)
    ca: x509.Certificate
    ca_key: ec.EllipticCurvePrivateKey = field(repr=False)
    valid_from: dt.datetime
    valid_until: dt.datetime

    @classmethod
    def generate(cls, *, at: dt.datetime | None = None, years: int = 5) -> VcTestPki:
        """A fresh hierarchy valid from a day before ``at`` (default: now) for ``years``."""
        start = (at or dt.datetime.now(dt.UTC)) - dt.timedelta(days=1)
        end = start + dt.timedelta(days=365 * years)
        root_key, ca_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        root = _certificate("VC Test Root", root_key, None, root_key, ca=True, valid_from=start, valid_until=end)
        ca = _certificate("VC Test Issuing CA", ca_key, root, root_key, ca=True, valid_from=start, valid_until=end)
        return cls(root, root_key, ca, ca_key, start, end)

    @property
    def root_fingerprint(self) -> str:
        """SHA-256 (DER) of the root, as trust pins name it."""
        return fingerprint(self.root)

    def trust_store(self) -> TrustStore:
        """A trust store admitting this root (test mode, pinned)."""
        return TrustStore.build([("vc-test-root", self.root.public_bytes(Encoding.DER))], allow_test_roots=True,
                                extra_pins={self.root_fingerprint: "VC test root"})

    def root_pem(self) -> bytes:
        """The root certificate as PEM (for a trust directory)."""
        return self.root.public_bytes(Encoding.PEM)

    def _end_entity(self, subject: str, san: x509.GeneralName) -> EndEntity:
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = _certificate(subject, key, self.ca, self.ca_key, ca=False, valid_from=self.valid_from,
                            valid_until=self.valid_until, san=san)
        return EndEntity(leaf, key, (leaf, self.ca))

    def issuer(self, issuer_url: str) -> EndEntity:
        """A credential issuer's signing certificate (SAN URI ``issuer_url``)."""
        return self._end_entity("VC Test Issuer", x509.UniformResourceIdentifier(issuer_url))

    def verifier(self, dns_name: str) -> EndEntity:
        """A verifier's request-signing certificate (SAN dNSName ``dns_name``)."""
        return self._end_entity("VC Test Verifier", x509.DNSName(dns_name))
