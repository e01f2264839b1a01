"""Shared fixtures for the credentials tests: the specifications' example data and keys, fresh signers, and a
small EC certificate hierarchy (pinned root, intermediate, issuer leaf) for ``x5c`` issuer keys."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from conformance.vc import load
from credentials.sdjwt import IssuerCheck, KeyBindingPolicy
from keys.jose.b64 import b64url_decode
from keys.jose.jwk import VerificationKey, public_jwk
from keys.service.signer import SoftwareSigner
from keys.trust import TrustStore, fingerprint

NOW = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)
ISSUER = "https://id.example.jp"
AUDIENCE = "https://rp.example.jp"
NONCE = "n-0S6_WzA2Mj"


def ec_key_from_jwk(jwk: Mapping[str, Any], d: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from a published JWK and its ``d``."""
    numbers = ec.EllipticCurvePrivateNumbers(
        int.from_bytes(b64url_decode(d, "d"), "big"),
        ec.EllipticCurvePublicNumbers(
            int.from_bytes(b64url_decode(jwk["x"], "x"), "big"),
            int.from_bytes(b64url_decode(jwk["y"], "y"), "big"),
            ec.SECP256R1(),
        ),
    )
    return numbers.private_key()


@pytest.fixture(scope="session")
def sd_jwt_data() -> dict[str, Any]:
    return load("sd_jwt.json")


@pytest.fixture(scope="session")
def spec_issuer(sd_jwt_data: dict[str, Any]) -> SoftwareSigner:
    """The SD-JWT examples' issuer key (settings.yml), to sign variations of the spec's payloads."""
    key = ec_key_from_jwk(sd_jwt_data["issuer_key"], sd_jwt_data["issuer_key_d"])
    return SoftwareSigner(key, "ES256", "spec-issuer")


@pytest.fixture(scope="session")
def spec_holder(sd_jwt_data: dict[str, Any]) -> SoftwareSigner:
    """The SD-JWT examples' holder key (the ``cnf`` of every example)."""
    key = ec_key_from_jwk(sd_jwt_data["holder_key"], sd_jwt_data["holder_key_d"])
    return SoftwareSigner(key, "ES256", "spec-holder")


@pytest.fixture(scope="session")
def spec_check(sd_jwt_data: dict[str, Any]) -> IssuerCheck:
    return IssuerCheck(typ=("example+sd-jwt",), keys=(VerificationKey.from_jwk(sd_jwt_data["issuer_key"]),))


@pytest.fixture
def issuer_signer() -> SoftwareSigner:
    return SoftwareSigner(ec.generate_private_key(ec.SECP256R1()), "ES256", "issuer-1")


@pytest.fixture
def holder_signer() -> SoftwareSigner:
    return SoftwareSigner(ec.generate_private_key(ec.SECP256R1()), "ES256", "holder")


def signer_jwk(signer: SoftwareSigner) -> dict[str, str]:
    """The public JWK of a software signer's key."""
    key = signer._key.public_key()  # tests only: the signer keeps its key private
    return public_jwk(key, kid=signer.kid)


def kb_policy(**overrides: Any) -> KeyBindingPolicy:
    values: dict[str, Any] = {"audience": AUDIENCE, "nonce": NONCE}
    values.update(overrides)
    return KeyBindingPolicy(**values)


@dataclass(frozen=True)
class IssuerPki:
    """An EC hierarchy for SD-JWT VC issuer keys: root (pinned in ``trust``), intermediate, issuer leaf."""

    root: x509.Certificate
    intermediate: x509.Certificate
    leaf: x509.Certificate
    leaf_key: ec.EllipticCurvePrivateKey
    trust: TrustStore


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example VC Issuer"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, issuer: str, key: ec.EllipticCurvePrivateKey, signer: ec.EllipticCurvePrivateKey,
          *, ca: bool, issuer_key: ec.EllipticCurvePublicKey) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=30))
        .not_valid_after(NOW + dt.timedelta(days=3650 if ca else 400))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key), critical=False)
        .add_extension(
            x509.KeyUsage(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(ISSUER)]), critical=False
        )
    return builder.sign(signer, hashes.SHA256())


def make_issuer_pki() -> IssuerPki:
    root_key, int_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _cert("VC Root", "VC Root", root_key, root_key, ca=True, issuer_key=root_key.public_key())
    intermediate = _cert("VC Issuing CA", "VC Root", int_key, root_key, ca=True, issuer_key=root_key.public_key())
    leaf = _cert("VC Issuer", "VC Issuing CA", leaf_key, int_key, ca=False, issuer_key=int_key.public_key())
    trust = TrustStore.build([("vc-root", root.public_bytes(Encoding.DER))], extra_pins={fingerprint(root): "vc root"})
    return IssuerPki(root, intermediate, leaf, leaf_key, trust)


@pytest.fixture(scope="session")
def issuer_pki() -> IssuerPki:
    return make_issuer_pki()
