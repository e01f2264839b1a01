"""A JPKI-profile test hierarchy: roots marked ``O=JPKI-TEST`` and card certificates faithful to the
real profile (jpki-card-and-certs.md §2.1–2.3).

Roots: three generations per purpose sharing one DN (as J-LIS's do), RSA-2048, KeyUsage critical
keyCertSign|cRLSign, BasicConstraints critical CA:TRUE, SAN directoryName, CRLDP directoryName, SKI, no
AKI. Card certificates: the real extension sets and order, critical certificatePolicies, IssuerAltName,
CRLDP as directoryName, AIA/OCSP URL on authentication certificates, AKI with keyid + issuer + serial,
and the six signing-certificate otherNames as UTF8Strings.

These certificates chain only to test roots, which the trust store refuses outside test mode.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from keys.x509 import facts as jf
from keys.x509.profile import AUTH_POLICY_OID, TEST_SIGN_POLICY_OID, Purpose

TEST_ORGANISATION = "JPKI-TEST"
AGENCY_OU = "Japan Agency for Local Authority Information Systems"
PURPOSE_OU = {Purpose.AUTH: "JPKI for user authentication", Purpose.SIGN: "JPKI for digital signature"}
ISSUER_ALT_OU = {Purpose.AUTH: "公的個人認証サービス利用者証明用", Purpose.SIGN: "公的個人認証サービス署名用"}
CPS_URI = "http://www.jpki.go.jp/cps.html"
DEFAULT_OCSP_URL = "http://127.0.0.1:0/ocsp"

#: The three root generations (validity as J-LIS's real ones; notAfter 14:59:59Z = 23:59:59 JST).
GENERATIONS: dict[int, tuple[dt.datetime, dt.datetime]] = {
    1: (dt.datetime(2015, 10, 20, 1, 0, tzinfo=dt.UTC), dt.datetime(2025, 10, 19, 14, 59, 59, tzinfo=dt.UTC)),
    2: (dt.datetime(2019, 9, 14, 1, 0, tzinfo=dt.UTC), dt.datetime(2029, 9, 14, 14, 59, 59, tzinfo=dt.UTC)),
    3: (dt.datetime(2023, 7, 16, 1, 1, 4, tzinfo=dt.UTC), dt.datetime(2033, 7, 15, 14, 59, 59, tzinfo=dt.UTC)),
}


def new_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """A fresh RSA key with e = 65537 (the card profile)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def root_name(purpose: Purpose, organisation: str = TEST_ORGANISATION) -> x509.Name:
    """The shared DN of every generation of a root (C PrintableString, the rest UTF8String)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, PURPOSE_OU[purpose]),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, AGENCY_OU),
        ]
    )


@dataclass(frozen=True)
class Root:
    """One generation of a test root: certificate and private key."""

    purpose: Purpose
    generation: int
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey


def make_root(purpose: Purpose, generation: int, key: rsa.RSAPrivateKey | None = None) -> Root:
    """Self-sign one root generation with the real root shape."""
    key = key or new_rsa_key()
    not_before, not_after = GENERATIONS[generation]
    name = root_name(purpose)
    service = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "公的個人認証サービス"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x6D00000 + generation * 0x1000 + secrets.randbelow(0x1000))
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(_ku(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DirectoryName(service)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.CRLDistributionPoints([x509.DistributionPoint([x509.DirectoryName(name)], None, None, None)]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Root(purpose, generation, cert, key)


def _ku(**bits: bool) -> x509.KeyUsage:
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{n: bits.get(n, False) for n in names})


def opaque_id(length: int) -> str:
    """An opaque subject CN like the real ones (upper-case letters and digits)."""
    alphabet = string.ascii_uppercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass(frozen=True)
class HolderFacts:
    """Input facts for a test signing certificate, encoded exactly as the card profile does."""

    name: str = "試験\u3000太郎"
    sex: str = "1"
    birth_date: str = "319800401"  # era 3 (昭和) + Gregorian 1980-04-01
    address: str = "東京都千代田区霞が関２丁目１番２号"
    name_substitution: str | None = None
    address_substitution: str | None = None
    prefecture_romaji: str = "Tokyo-to"
    municipality_romaji: str = "Chiyoda-ku"

    def san(self) -> x509.SubjectAlternativeName:
        """The six otherNames in the order seen on real certificates (.1, .4, .3, .5, .2, .6)."""
        name_flags = self.name_substitution if self.name_substitution is not None else "0" * len(self.name)
        address_flags = (
            self.address_substitution if self.address_substitution is not None else "0" * len(self.address)
        )
        entries = [
            (jf.NAME_OID, self.name),
            (jf.BIRTH_DATE_OID, self.birth_date),
            (jf.SEX_OID, self.sex),
            (jf.ADDRESS_OID, self.address),
            (jf.NAME_SUBSTITUTION_OID, name_flags),
            (jf.ADDRESS_SUBSTITUTION_OID, address_flags),
        ]
        return x509.SubjectAlternativeName([x509.OtherName(oid, utf8string(v)) for oid, v in entries])


def utf8string(value: str) -> bytes:
    """DER UTF8String (tag 0x0C) of ``value``."""
    body = value.encode("utf-8")
    n = len(body)
    if n < 0x80:
        header = bytes([0x0C, n])
    elif n < 0x100:
        header = bytes([0x0C, 0x81, n])
    else:
        header = bytes([0x0C, 0x82]) + n.to_bytes(2, "big")
    return header + body


def crl_distribution_name(purpose: Purpose, prefecture: str, municipality: str) -> x509.Name:
    """The municipality CRL distribution point DN (a directoryName, never a URL)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_ORGANISATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, PURPOSE_OU[purpose]),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "CRL Distribution Points"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, prefecture),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{municipality} CRLDP"),
        ]
    )


def issue_card_certificate(
    root: Root,
    public_key: rsa.RSAPublicKey,
    *,
    not_before: dt.datetime,
    not_after: dt.datetime,
    facts: HolderFacts | None = None,
    serial: int | None = None,
    ocsp_url: str | None = DEFAULT_OCSP_URL,
    policy_oid: x509.ObjectIdentifier | None = None,
) -> x509.Certificate:
    """Issue an authentication (``root.purpose == AUTH``) or signing certificate with the real profile.

    ``facts`` is required for signing certificates. Extension order follows the real certificates:
    auth KU, EKU, CP, IAN, CRLDP, AIA, AKI, SKI; sign KU, SAN, CP, IAN, CRLDP, AKI, SKI.
    """
    purpose = root.purpose
    facts = facts or HolderFacts()
    if purpose is Purpose.AUTH:
        subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                             x509.NameAttribute(NameOID.COMMON_NAME, opaque_id(23))])
        policy = policy_oid or AUTH_POLICY_OID
        ku = _ku(digital_signature=True)
    else:
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.LOCALITY_NAME, facts.prefecture_romaji),
                x509.NameAttribute(NameOID.LOCALITY_NAME, facts.municipality_romaji),
                x509.NameAttribute(NameOID.COMMON_NAME, not_before.strftime("%Y%m%d%H%M%S") + opaque_id(14)),
            ]
        )
        policy = policy_oid or TEST_SIGN_POLICY_OID
        ku = _ku(digital_signature=True, content_commitment=True)
    issuer_alt = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "公的個人認証サービス"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ISSUER_ALT_OU[purpose]),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "地方公共団体情報システム機構"),
        ]
    )
    crldp = crl_distribution_name(purpose, facts.prefecture_romaji, facts.municipality_romaji)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(root.certificate.subject)
        .public_key(public_key)
        .serial_number(serial if serial is not None else x509.random_serial_number() >> 96)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(ku, critical=True)
    )
    if purpose is Purpose.AUTH:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    else:
        builder = builder.add_extension(facts.san(), critical=False)
    builder = (
        builder.add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(policy, [CPS_URI])]), critical=True
        )
        .add_extension(x509.IssuerAlternativeName([x509.DirectoryName(issuer_alt)]), critical=False)
        .add_extension(
            x509.CRLDistributionPoints([x509.DistributionPoint([x509.DirectoryName(crldp)], None, None, None)]),
            critical=False,
        )
    )
    if ocsp_url and (purpose is Purpose.AUTH or ocsp_url != DEFAULT_OCSP_URL):
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url))]
            ),
            critical=False,
        )
    root_ski = root.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier(
            key_identifier=root_ski.digest,
            authority_cert_issuer=[x509.DirectoryName(root.certificate.subject)],
            authority_cert_serial_number=root.certificate.serial_number,
        ),
        critical=False,
    ).add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    return builder.sign(root.key, hashes.SHA256())
