"""``python -m docsign`` as a separate process: two-step PDF signing around a software stand-in of the card, then
verify-pdf, verify-cms and verify-record, valid and refused, with roots and a CRL from files."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from keys.cms.digest_info import HashAlgorithm
from keys.cms.signed_attributes import Profile
from keys.jose.b64 import b64url_decode
from keys.testpki import CardMaterial
from tests.keys.conftest import NOW
from tests.support.cms import SoftwareCard
from tests.support.pdf import minimal_pdf

AT = NOW.isoformat()


def _run(*args: str | Path) -> tuple[int, dict[str, Any]]:
    result = subprocess.run([sys.executable, "-m", "docsign", *map(str, args)], capture_output=True, text=True,
                            timeout=120, check=False)
    output = json.loads(result.stdout) if result.stdout.strip() else {"stderr": result.stderr}
    return result.returncode, output


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, card: CardMaterial, empty_crl: bytes) -> Path:
    directory = tmp_path_factory.mktemp("docsign")
    (directory / "root.pem").write_bytes(card.sign_root.certificate.public_bytes(Encoding.PEM))
    (directory / "sign.crl").write_bytes(empty_crl)
    (directory / "contract.pdf").write_bytes(minimal_pdf("Lease"))
    return directory


def _trust(files: Path) -> list[str | Path]:
    return ["--root", files / "root.pem", "--test-roots", "--crl", files / "sign.crl", "--at", AT]


def test_two_step_signing_then_verify_pdf(files: Path, signer: SoftwareCard) -> None:
    code, prepared = _run("pdf-prepare", files / "contract.pdf", files / "prepared.pdf")
    assert code == 0, prepared
    digest = b64url_decode(prepared["digest"], "digest")
    cms_der = signer.cms_for_digest(HashAlgorithm(prepared["hash_algorithm"]), digest, profile=Profile.PADES)
    (files / "sig.p7s").write_bytes(cms_der)
    code, finished = _run("pdf-finish", files / "prepared.pdf", files / "sig.p7s", files / "signed.pdf")
    assert code == 0, finished
    code, verdict = _run("verify-pdf", files / "signed.pdf", *_trust(files))
    assert code == 0, verdict
    (signature,) = verdict["signatures"]
    assert signature["field"] == "Signature1"
    assert signature["covers_whole_file"] is True
    assert signature["certificate"]["serial"] == format(signer.certificate.serial_number, "x")
    tampered = (files / "signed.pdf").read_bytes().replace(b"(Lease)", b"(Least)")
    (files / "tampered.pdf").write_bytes(tampered)
    code, verdict = _run("verify-pdf", files / "tampered.pdf", *_trust(files))
    assert code == 1
    assert verdict["reason"] == "digest_mismatch"
    code, verdict = _run("verify-pdf", files / "signed.pdf", "--root", files / "root.pem", "--crl", files / "sign.crl",
                         "--at", AT)
    assert code == 1  # a test root without --test-roots is refused
    assert verdict["reason"] == "untrusted_root"


def test_verify_cms(files: Path, signer: SoftwareCard) -> None:
    document = b"terms of service v7"
    (files / "terms.txt").write_bytes(document)
    (files / "terms.p7s").write_bytes(signer.sign_cades(document, NOW))
    code, verdict = _run("verify-cms", files / "terms.p7s", "--content", files / "terms.txt", *_trust(files))
    assert code == 0, verdict
    assert verdict["signers"][0]["signing_time"] == "2026-11-22T12:00:00Z"
    (files / "other.txt").write_bytes(document + b"!")
    code, verdict = _run("verify-cms", files / "terms.p7s", "--content", files / "other.txt", *_trust(files))
    assert code == 1
    assert verdict["reason"] == "digest_mismatch"


def test_verify_record(files: Path, signer: SoftwareCard) -> None:
    from keys.service.jwks import public_jwk
    from keys.service.jws import encode_jwt
    from keys.service.signer import SoftwareSigner, generate_private_key
    from tests.docsign.test_record import CONTRACT, _payload

    key = generate_private_key("ES256")
    jwk = public_jwk(key.public_key(), "ES256")
    record = encode_jwt(_payload(signer.certificate), SoftwareSigner(key, "ES256", jwk["kid"]),
                        typ="signing-record+jwt")
    (files / "record.jws").write_text(record)
    (files / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    (files / "contract.p7s").write_bytes(signer.sign_cades(CONTRACT, NOW))
    trust = _trust(files)[:-2]  # the record's time is the verification time
    code, verdict = _run("verify-record", files / "record.jws", "--jwks", files / "jwks.json", "--cms",
                         files / "contract.p7s", *trust)
    assert code == 0, verdict
    assert verdict["document"] == "契約書"
    (files / "stranger.p7s").write_bytes(signer.sign_cades(b"another", NOW))
    code, verdict = _run("verify-record", files / "record.jws", "--jwks", files / "jwks.json", "--cms",
                         files / "stranger.p7s", *trust)
    assert code == 1
    assert verdict["reason"] == "record_mismatch"
    assert base64.b64decode(_payload(signer.certificate)["documents"][0]["hash"])


def test_usage_errors(files: Path) -> None:
    code, output = _run("verify-pdf", files / "contract.pdf", "--crl", files / "sign.crl")
    assert code == 2
    assert "--root" in output["stderr"]
    code, output = _run("verify-pdf", files / "missing.pdf", *_trust(files))
    assert code == 1
    assert output["reason"] == "malformed"
