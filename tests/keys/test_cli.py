"""``python -m keys verify-cert``: certificates and CRLs in PEM or DER; anything else is exit 1 with a reason."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from keys.cli import EXIT_INVALID, EXIT_VALID, main
from keys.testpki import CardMaterial, TestPki
from keys.testpki.revocation import issue_crl
from tests.keys.conftest import NOW, der

PEM = serialization.Encoding.PEM


def _pem_crl(data: bytes) -> bytes:
    return x509.load_der_x509_crl(data).public_bytes(PEM)


@pytest.fixture
def material(tmp_path: Path, pki: TestPki, card: CardMaterial) -> dict[str, Path]:
    """The trust directory, the card's authentication certificate and its root's CRL, each in PEM and DER."""
    crl = issue_crl(card.auth_root, [], this_update=NOW - dt.timedelta(hours=1),
                    next_update=NOW + dt.timedelta(days=1), crl_number=1)
    files = {"cert.der": der(card.auth_certificate), "cert.pem": card.auth_certificate.public_bytes(PEM),
             "cert.txt": f"Certificate:\n    Data:\n        Serial Number: {card.auth_certificate.serial_number}\n"
                         .encode() + card.auth_certificate.public_bytes(PEM),
             "crl.der": crl, "crl.pem": _pem_crl(crl), "garbage": b"-----BEGIN nothing\x00\xff not DER either"}
    paths = {name: tmp_path / name for name in files}
    for name, data in files.items():
        paths[name].write_bytes(data)
    paths["trust"] = pki.write_trust_directory(tmp_path / "trust")
    return paths


def _verify(capsys: pytest.CaptureFixture[str], material: dict[str, Path], certificate: str,
            crl: str) -> tuple[int, dict[str, object]]:
    code = main(["verify-cert", "--purpose", "auth", "--trust", str(material["trust"]), "--test-roots",
                 "--at", NOW.isoformat(), "--crl", str(material[crl]), str(material[certificate])])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("certificate", ["cert.pem", "cert.der", "cert.txt"])
@pytest.mark.parametrize("crl", ["crl.pem", "crl.der"])
def test_pem_and_der_certificates_and_crls(capsys: pytest.CaptureFixture[str], material: dict[str, Path],
                                           certificate: str, crl: str) -> None:
    code, result = _verify(capsys, material, certificate, crl)
    assert (code, result["valid"]) == (EXIT_VALID, True), result
    assert result["revocation"] == {"status": "good", "source": "crl"}


@pytest.mark.parametrize(("certificate", "crl"), [("garbage", "crl.der"), ("crl.pem", "crl.der"),
                                                  ("cert.pem", "garbage"), ("cert.der", "cert.pem")])
def test_garbage_is_exit_1_with_a_reason(capsys: pytest.CaptureFixture[str], material: dict[str, Path],
                                         certificate: str, crl: str) -> None:
    code, result = _verify(capsys, material, certificate, crl)
    assert (code, result["valid"], result["reason"]) == (EXIT_INVALID, False, "malformed"), result
    assert result["detail"]
