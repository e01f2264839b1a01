"""Shared fixtures for the verification-core tests: one test PKI per session and a leaf builder that
can produce every deviation from the JPKI profile the tests need."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from keys.testpki import CardMaterial, HolderFacts, Root, TestPki
from keys.testpki.hierarchy import issue_card_certificate
from keys.trust import TrustStore
from keys.x509.profile import Purpose

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def pki() -> TestPki:
    return TestPki.generate()


@pytest.fixture(scope="session")
def card(pki: TestPki) -> CardMaterial:
    return pki.issue_card(now=NOW)


@pytest.fixture(scope="session")
def holder_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="session")
def test_store(pki: TestPki) -> TrustStore:
    return TrustStore.build([(f"r{i}", der(r.certificate)) for i, r in enumerate(pki.roots())], allow_test_roots=True)


LeafBuilder = Callable[..., x509.Certificate]


@pytest.fixture(scope="session")
def build_leaf(pki: TestPki, holder_key: rsa.RSAPrivateKey) -> LeafBuilder:
    """Build a card certificate from the real profile, then apply deviations.

    Keyword options: purpose, generation, key (public key), signer (Root whose key signs), drop (extension
    classes to remove), replace (extension instance -> criticality), add (list of (extension, critical)),
    not_before/not_after, serial.
    """

    def build(
        purpose: Purpose = Purpose.AUTH,
        generation: int = 3,
        key: Any = None,
        signer: Root | None = None,
        drop: tuple[type[x509.ExtensionType], ...] = (),
        replace: dict[x509.ExtensionType, bool] | None = None,
        add: list[tuple[x509.ExtensionType, bool]] | None = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        serial: int | None = None,
        facts: HolderFacts | None = None,
    ) -> x509.Certificate:
        root = pki.root(purpose, generation)
        public_key = key if key is not None else holder_key.public_key()
        template = issue_card_certificate(
            root,
            holder_key.public_key(),
            not_before=not_before or NOW - dt.timedelta(days=30),
            not_after=not_after or NOW + dt.timedelta(days=365),
            facts=facts,
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(template.subject)
            .issuer_name(template.issuer)
            .public_key(public_key)
            .serial_number(serial if serial is not None else template.serial_number)
            .not_valid_before(template.not_valid_before_utc)
            .not_valid_after(template.not_valid_after_utc)
        )
        replacements = {type(e): (e, c) for e, c in (replace or {}).items()}
        for ext in template.extensions:
            if type(ext.value) in drop:
                continue
            value, critical = replacements.pop(type(ext.value), (ext.value, ext.critical))
            if isinstance(value, x509.SubjectKeyIdentifier) and key is not None:
                value = x509.SubjectKeyIdentifier.from_public_key(public_key)
            builder = builder.add_extension(value, critical)
        for value, critical in [*replacements.values(), *(add or [])]:
            builder = builder.add_extension(value, critical)
        signing_key = (signer or root).key
        return builder.sign(signing_key, hashes.SHA256())

    return build


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())
