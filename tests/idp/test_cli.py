"""The ``idp`` admin commands, run as processes on an embedded (SQLite) data directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from idp.storage import head_revision
from keys.service import KeyEncryptionKeys
from tests.idp.test_clients import RP_JWKS

OLD_KEK, NEW_KEK = KeyEncryptionKeys.generate(), KeyEncryptionKeys.generate()


class Idp:
    def __init__(self, tmp_path: Path) -> None:
        self.env = {**os.environ, "MYNACARD_DATA_DIR": str(tmp_path / "var"), "MYNACARD_KEYS_KEKS": OLD_KEK,
                    "MYNACARD_KEYS_ALGORITHMS": "ES256,PS256"}

    def __call__(self, *args: str, rc: int = 0, **env: str) -> Any:
        result = subprocess.run([sys.executable, "-m", "idp", *args], env={**self.env, **env}, capture_output=True,
                                text=True, timeout=60, check=False)
        assert result.returncode == rc, result.stderr[-2000:]
        self.stderr = result.stderr
        return json.loads(result.stdout) if rc == 0 and result.stdout.startswith(("{", "[")) else result.stdout


@pytest.fixture
def idp(tmp_path: Path) -> Idp:
    return Idp(tmp_path)


def test_clients(idp: Idp, tmp_path: Path) -> None:
    jwks = tmp_path / "rp.jwks.json"
    jwks.write_text(json.dumps(RP_JWKS))
    added = idp("clients", "add", "rp-1", "--redirect-uri", "https://rp.example.jp/cb", "--jwks", str(jwks),
                "--require-par", "--id-token-alg", "PS256")
    assert added["client_secret"] is None
    assert added["client"]["require_pushed_authorization_requests"] is True
    basic = idp("clients", "add", "rp-2", "--redirect-uri", "https://rp2.example.jp/cb",
                "--auth-method", "client_secret_basic")
    secret = basic["client_secret"]
    assert len(secret) >= 43
    listed = idp("clients", "list")
    assert [c["client_id"] for c in listed] == ["rp-1", "rp-2"]
    assert secret not in json.dumps(listed)
    idp("clients", "add", "rp-1", "--redirect-uri", "https://rp.example.jp/cb", "--jwks", str(jwks), rc=1)
    assert "already exists" in idp.stderr
    idp("clients", "add", "rp-3", "--redirect-uri", "http://rp.example.jp/cb", "--auth-method", "none", rc=1)
    assert "invalid_redirect_uri" in idp.stderr
    idp("clients", "add", "rp-3", "--redirect-uri", "https://rp.example.jp/cb", "--id-token-alg", "RS256", rc=1)
    assert "must be one of ES256, PS256" in idp.stderr  # RS256 exists but is not enabled here
    idp("clients", "add", "rp-3", "--redirect-uri", "https://rp.example.jp/cb", "--id-token-alg", "HS256", rc=2)
    assert idp("clients", "remove", "rp-1") == {"removed": True}
    idp("clients", "remove", "rp-1", rc=1)


def test_keys_rotate_list_and_rewrap(idp: Idp) -> None:
    assert idp("keys", "list") == []
    first = idp("keys", "rotate")
    assert sorted(k["alg"] for k in first["created"]) == ["ES256", "PS256"]
    successor = idp("keys", "rotate", "--alg", "ES256")["created"]
    assert [k["alg"] for k in successor] == ["ES256"]
    assert idp("keys", "rotate", "--alg", "ES256")["created"] == []  # one successor at a time
    listed = idp("keys", "list")
    assert sorted((k["alg"], k["generation"], k["state"]) for k in listed) == [
        ("ES256", 1, "current"), ("ES256", 2, "next"), ("PS256", 1, "current")]
    old_ids = {k["kek_id"] for k in listed}
    assert len(old_ids) == 1
    rewrapped = idp("keys", "rewrap", MYNACARD_KEYS_KEKS=f"{NEW_KEK},{OLD_KEK}")
    assert sorted(rewrapped["rewrapped"]) == sorted(k["kid"] for k in listed)
    new_ids = {k["kek_id"] for k in idp("keys", "list", MYNACARD_KEYS_KEKS=NEW_KEK)}
    assert len(new_ids) == 1
    assert new_ids != old_ids
    assert idp("keys", "rewrap", MYNACARD_KEYS_KEKS=NEW_KEK) == {"rewrapped": []}


def test_migrate_cleanup_and_config(idp: Idp, tmp_path: Path) -> None:
    idp("keys", "list", rc=1, MYNACARD_DATABASE_MIGRATE_ON_START="false")
    assert "run `idp migrate`" in idp.stderr
    assert idp("migrate", MYNACARD_DATABASE_MIGRATE_ON_START="false") == {"revision": head_revision()}
    assert idp("keys", "list", MYNACARD_DATABASE_MIGRATE_ON_START="false") == []
    assert idp("cleanup") == {"deleted": 0, "batches": 0, "pruned_keys": []}
    shown = idp("config")
    assert shown["keys.keks"] == "(set)"
    assert shown["database.url"] == "(unset)"
    assert OLD_KEK not in json.dumps(shown)
    assert "`MYNACARD_KEYS_PUBLISH_LEAD`" in idp("config", "--docs")
    idp("config", rc=2, MYNACARD_SERVER_PORT="eighty")
    assert "MYNACARD_SERVER_PORT: expected an integer" in idp.stderr
    config = tmp_path / "idp.toml"
    config.write_text('[server]\nport = 9100\n')
    assert idp("--config", str(config), "config")["server.port"] == 9100
