"""Key attestations required by policy (``credentials.key_attestations = "required"``): advertised in the
metadata, checked against the configured wallet-provider roots, and the wallet's attested keys accepted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.credentials.test_oid4vci import attestation_certificate

from .conftest import CLAIMS, CLIENT_ID, FACTS, REDIRECT_URI, Provider, grant, make_provider
from .test_issuance import error_of, proofs, request_body


@pytest.fixture(scope="module")
def attester_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    base = tmp_path_factory.mktemp("attester")
    root_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root = attestation_certificate("attestation root", root_key, None, True)
    leaf = attestation_certificate("attester", leaf_key, ("attestation root", root_key), False)
    (base / "roots").mkdir()
    (base / "roots" / "root.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
    (base / "chain.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (base / "key.pem").write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    return base / "roots", base / "key.pem", base / "chain.pem"


@pytest.fixture(scope="module")
def strict_issuer(attester_files: tuple[Path, Path, Path],
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    provider = make_provider(tmp_path_factory.mktemp("strict"), MYNACARD_CREDENTIALS_KEY_ATTESTATIONS="required",
                             MYNACARD_CREDENTIALS_KEY_ATTESTATION_ROOTS=str(attester_files[0]),
                             MYNACARD_CREDENTIALS_KEY_STORAGE_LEVELS="iso_18045_moderate,iso_18045_high")
    provider.start()
    try:
        yield provider
    finally:
        provider.stop()


def test_required_key_attestations(strict_issuer: Provider, attester_files: tuple[Path, Path, Path],
                                   tmp_path: Path) -> None:
    metadata = httpx.get(f"{strict_issuer.url}/.well-known/openid-credential-issuer").json()
    required = metadata["credential_configurations_supported"]["jp_age"]["proof_types_supported"]["jwt"]
    assert required["key_attestations_required"] == {"key_storage": ["iso_18045_moderate", "iso_18045_high"]}
    granted = grant(strict_issuer, ["jp_age"])
    _, jwts = proofs(granted)
    assert error_of(granted.post("credential_endpoint", request_body(granted, "jp_age", jwts))) == "invalid_proof"
    _, key, chain = attester_files
    offer = json.dumps({"credential_issuer": strict_issuer.url, "credential_configuration_ids": ["jp_age"],
                        "grants": {"authorization_code": {}}})
    received = strict_issuer.wallet(tmp_path / "w.json", "accept", offer, "--client-id", CLIENT_ID, "--redirect-uri",
                                    REDIRECT_URI, "--login", "test", "--claims", json.dumps(CLAIMS), "--facts",
                                    json.dumps(FACTS), "--batch", "2", "--attester-key", str(key),
                                    "--attester-chain", str(chain))
    assert len(received["credentials"]) == 2
