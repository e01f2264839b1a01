"""The issuing CA behind the credentials' ``x5c`` chains (HAIP 1.0: SD-JWT VCs carry the issuer's certificate
chain, leaf first, without the trust anchor).

Each credential signing key gets its own end-entity certificate from the issuing CA when it is first used
(:meth:`IssuingCa.certify`): subjectAltName the Credential Issuer URL (SD-JWT VC §3.5, the ``iss`` the
certificate vouches for), keyUsage digitalSignature, valid from the key's creation until its last credential can
have expired. The CA comes from ``credentials.ca_certificates`` (the issuing CA first, then intermediates) and
``credentials.ca_key``; without them a development hierarchy (root ``O=mynacard-id TEST``, accepted by verifiers
in test mode only) is generated once in ``<data_dir>/credential-ca/``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from idp.settings import Settings

DEV_DIRECTORY: Final = "credential-ca"
ROOT_FILE: Final = "root.pem"
CHAIN_FILE: Final = "issuing-ca.pem"
KEY_FILE: Final = "issuing-ca-key.pem"
_DEV_LIFETIME: Final = dt.timedelta(days=20 * 365)
_SKEW: Final = dt.timedelta(minutes=5)

CaKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class CaError(Exception):
    """The configured issuing CA cannot be used (the message names the setting)."""


@dataclass(frozen=True)
class IssuingCa:
    """The issuing CA: its chain (issuing CA first, no root) and key; ``root`` is known for the development CA."""

    chain: tuple[x509.Certificate, ...]
    key: CaKey
    issuer: str
    root: x509.Certificate | None = None

    def certify(self, public_key: ec.EllipticCurvePublicKey, *, kid: str, not_before: dt.datetime,
                not_after: dt.datetime) -> x509.Certificate:
        """An end-entity certificate for a credential signing key, never valid beyond the CA's own validity."""
        ca = self.chain[0]
        not_after = min(not_after, ca.not_valid_after_utc)
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mynacard-id"),
                          x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "credential signing key"),
                          x509.NameAttribute(NameOID.COMMON_NAME, kid[:64])])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(ca.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before - _SKEW)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(self.issuer)]), critical=False)
        )
        return builder.sign(self.key, hashes.SHA256())


def load_ca(settings: Settings, now: dt.datetime) -> IssuingCa:
    """The configured issuing CA, or the development one (created on first use)."""
    options = settings.credentials
    if not options.ca_certificates:
        return _development_ca(settings.data_path / DEV_DIRECTORY, settings.issuer, now)
    try:
        chain = tuple(x509.load_pem_x509_certificates(Path(options.ca_certificates).read_bytes()))
        key = serialization.load_pem_private_key(Path(options.ca_key).read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise CaError(f"credentials.ca_certificates / credentials.ca_key: {type(exc).__name__}: {exc}") from None
    return _checked(chain, key, settings.issuer, None)


def _checked(chain: tuple[x509.Certificate, ...], key: object, issuer: str,
             root: x509.Certificate | None) -> IssuingCa:
    if not chain:
        raise CaError("credentials.ca_certificates holds no certificate")
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise CaError("credentials.ca_key is not an EC or RSA private key")
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, spki) != chain[0].public_key().public_bytes(der, spki):
        raise CaError("credentials.ca_key is not the key of the first certificate of credentials.ca_certificates")
    try:
        constraints = chain[0].extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        raise CaError("the issuing CA certificate has no basicConstraints") from None
    if not constraints.ca:
        raise CaError("the first certificate of credentials.ca_certificates is not a CA")
    return IssuingCa(chain, key, issuer, root)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mynacard-id TEST"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca_certificate(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey,
                    signer: ec.EllipticCurvePrivateKey, path_length: int | None, now: dt.datetime) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _SKEW)
        .not_valid_after(now + _DEV_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
        .sign(signer, hashes.SHA256())
    )


def _development_ca(directory: Path, issuer: str, now: dt.datetime) -> IssuingCa:
    """The development hierarchy of the data directory, created by whichever process gets there first."""
    if not (directory / KEY_FILE).exists():
        directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{DEV_DIRECTORY}.", dir=directory.parent))
        root_key, ca_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        root_name = _name("mynacard-id development credential root")
        root = _ca_certificate(root_name, root_name, root_key, root_key, 1, now)
        ca = _ca_certificate(_name("mynacard-id development credential issuing CA"), root_name, ca_key, root_key, 0,
                             now)
        (staging / ROOT_FILE).write_bytes(root.public_bytes(serialization.Encoding.PEM))
        (staging / CHAIN_FILE).write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        fd = os.open(staging / KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(ca_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        try:
            staging.rename(directory)  # atomic: exactly one process's hierarchy wins
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    chain = tuple(x509.load_pem_x509_certificates((directory / CHAIN_FILE).read_bytes()))
    key = serialization.load_pem_private_key((directory / KEY_FILE).read_bytes(), password=None)
    root = x509.load_pem_x509_certificate((directory / ROOT_FILE).read_bytes())
    return _checked(chain, key, issuer, root)


__all__ = ["CHAIN_FILE", "DEV_DIRECTORY", "KEY_FILE", "ROOT_FILE", "CaError", "IssuingCa", "load_ca"]
