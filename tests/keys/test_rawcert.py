"""The DER view of a certificate (:mod:`keys.x509.rawcert`): its Extensions lists remembered by shape give exactly the
view a fresh reading gives — the new certificate's own key identifier, a changed extension read anew."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from keys.errors import VerificationError
from keys.testpki import TestPki
from keys.testpki.hierarchy import HolderFacts, issue_card_certificate
from keys.x509 import rawcert
from keys.x509.profile import Purpose

from .conftest import NOW


def _card(pki: TestPki, key: rsa.RSAPrivateKey, municipality: str = "Chiyoda-ku") -> bytes:
    cert = issue_card_certificate(pki.root(Purpose.AUTH), key.public_key(), not_before=NOW - dt.timedelta(days=1),
                                  not_after=NOW + dt.timedelta(days=365),
                                  facts=HolderFacts(municipality_romaji=municipality))
    return cert.public_bytes(Encoding.DER)


def _fresh(data: bytes) -> rawcert.RawCertificate | str:
    """The view read without any remembered shape (or the refusal's reason)."""
    saved, rawcert._SHAPES = rawcert._SHAPES, rawcert._ExtensionShapes()
    try:
        return rawcert.raw_certificate(data)
    except VerificationError as exc:
        return exc.reason.value
    finally:
        rawcert._SHAPES = saved


def _remembered(data: bytes) -> rawcert.RawCertificate | str:
    try:
        return rawcert.raw_certificate(data)
    except VerificationError as exc:
        return exc.reason.value


@pytest.fixture(scope="module")
def keys() -> list[rsa.RSAPrivateKey]:
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3)]


@pytest.fixture(autouse=True)
def no_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no remembered shape (and leaves the module's table as it was)."""
    monkeypatch.setattr(rawcert, "_SHAPES", rawcert._ExtensionShapes())


def test_a_known_shape_gives_the_new_certificates_own_key_identifier(pki: TestPki,
                                                                    keys: list[rsa.RSAPrivateKey]) -> None:
    first, second = _card(pki, keys[0]), _card(pki, keys[1])
    seen = rawcert.raw_certificate(first)
    again = rawcert.raw_certificate(second)  # read by the shape the first one left
    assert len(rawcert._SHAPES._read) == 1
    assert again == _fresh(second)
    identifier = x509.load_der_x509_certificate(second).extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert again.extensions[rawcert.SUBJECT_KEY_IDENTIFIER][1] == b"\x04\x14" + identifier.value.digest
    assert again.extensions[rawcert.SUBJECT_KEY_IDENTIFIER] != seen.extensions[rawcert.SUBJECT_KEY_IDENTIFIER]
    assert list(again.extensions) == list(seen.extensions)


def test_a_changed_extension_is_read_anew(pki: TestPki, keys: list[rsa.RSAPrivateKey]) -> None:
    chiyoda = rawcert.raw_certificate(_card(pki, keys[0]))
    other = _card(pki, keys[1], municipality="Minato-ku")  # another CRL distribution point
    minato = rawcert.raw_certificate(other)
    assert minato == _fresh(other)
    assert minato.distribution_point_names() != chiyoda.distribution_point_names()


def test_mutated_certificates_read_as_without_shapes(pki: TestPki, keys: list[rsa.RSAPrivateKey]) -> None:
    rng = random.Random(16)
    originals = [_card(pki, key, municipality) for key in keys for municipality in ("Chiyoda-ku", "Minato-ku")]
    for data in originals:
        rawcert.raw_certificate(data)
    for _ in range(400):
        data = bytearray(rng.choice(originals))
        for _ in range(rng.randint(1, 3)):  # flips anywhere: inside a key identifier, a length, a tag, a value
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        assert _remembered(bytes(data)) == _fresh(bytes(data))
