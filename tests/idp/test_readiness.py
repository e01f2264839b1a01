"""Fail at start, not at the person: ``idp serve`` as a real process whose card login cannot verify anyone reports
it at start (a log line naming the setting) and on ``GET /readyz`` (503 naming the setting, what was refused and
why), while ``GET /healthz`` (liveness) stays 200; a provider that can verify card logins is ready."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from idp.login.readiness import Finding, card_login_readiness
from keys.service import KeyEncryptionKeys
from keys.testpki import TestPki
from keys.testpki.revocation import issue_crl
from tests.idp.conftest import settings_for
from tests.support.processes import free_port, serving

KEK = KeyEncryptionKeys.generate()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The test PKI's roots (O=JPKI-TEST) as a trust directory, and a CRL directory with a fresh CRL per root."""
    base = tmp_path_factory.mktemp("readiness-pki")
    test_pki = TestPki.generate()
    trust = test_pki.write_trust_directory(base / "trust")
    crls = base / "crls"
    crls.mkdir()
    now = dt.datetime.now(dt.UTC)
    for root in test_pki.roots():
        crl = issue_crl(root, [], this_update=now - dt.timedelta(hours=1), next_update=now + dt.timedelta(days=1),
                        crl_number=1)
        (crls / f"{root.purpose.value}-gen{root.generation}.crl").write_bytes(crl)
    return trust, crls


def readiness(tmp_path: Path, **env: str) -> tuple[int, dict[str, Any], str]:
    """Start ``idp serve`` with ``env``: ``/readyz``'s status and body, and the process's log so far."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / f"serve-{port}.log"
    environ = {**os.environ, "MYNACARD_DATA_DIR": str(tmp_path / "var"), "MYNACARD_ISSUER": url,
               "MYNACARD_KEYS_KEKS": KEK, **env}
    with serving([sys.executable, "-m", "idp", "serve", "--port", str(port)], env=environ, log=log, url=url):
        assert httpx.get(f"{url}/healthz").status_code == 200  # alive, whatever card login says
        response = httpx.get(f"{url}/readyz")
        return response.status_code, response.json(), log.read_text(errors="replace")


def _problems(body: dict[str, Any]) -> dict[str, str]:
    return {p["setting"]: p["problem"] for p in body["problems"]}


@pytest.mark.slow
def test_test_roots_outside_test_mode_are_not_ready(tmp_path: Path, pki: tuple[Path, Path]) -> None:
    trust, crls = pki
    status, body, log = readiness(tmp_path, MYNACARD_CARD_LOGIN_TRUST_DIR=str(trust),
                                  MYNACARD_CARD_LOGIN_CRL_DIR=str(crls))
    assert status == 503, body
    assert body["status"] == 503
    assert "card_login.trust_dir" in body["detail"]
    problem = _problems(body)["card_login.trust_dir"]
    assert "no root certificate was admitted" in problem
    assert "auth-root-gen3.pem" in problem
    assert "test root outside test mode" in problem
    started = [json.loads(line) for line in log.splitlines() if '"card_login_not_ready"' in line]
    assert started
    assert started[0]["setting"] == "card_login.trust_dir"


@pytest.mark.slow
def test_no_trust_directory_is_not_ready(tmp_path: Path) -> None:
    status, body, _ = readiness(tmp_path, MYNACARD_TEST_MODE="1", MYNACARD_CARD_LOGIN_OCSP="1")
    assert status == 503
    assert "is not set" in _problems(body)["card_login.trust_dir"]
    status, body, _ = readiness(tmp_path, MYNACARD_TEST_MODE="1", MYNACARD_CARD_LOGIN_OCSP="1",
                                MYNACARD_CARD_LOGIN_TRUST_DIR=str(tmp_path / "missing"))
    assert status == 503
    assert "not a directory" in _problems(body)["card_login.trust_dir"]


@pytest.mark.slow
def test_no_revocation_source_is_not_ready(tmp_path: Path, pki: tuple[Path, Path]) -> None:
    trust, _ = pki
    status, body, _ = readiness(tmp_path, MYNACARD_TEST_MODE="1", MYNACARD_CARD_LOGIN_TRUST_DIR=str(trust))
    assert status == 503
    assert "no revocation source" in _problems(body)["card_login.crl_dir"]


@pytest.mark.slow
def test_a_crl_directory_without_a_fresh_crl_is_not_ready(tmp_path: Path, pki: tuple[Path, Path]) -> None:
    trust, crls = pki
    partial = tmp_path / "crls"
    partial.mkdir()
    status, body, _ = readiness(tmp_path, MYNACARD_TEST_MODE="1", MYNACARD_CARD_LOGIN_TRUST_DIR=str(trust),
                                MYNACARD_CARD_LOGIN_CRL_DIR=str(partial))
    assert status == 503
    assert "no fresh CRL" in _problems(body)["card_login.crl_dir"]
    only = next(crls.glob("auth-gen3.crl"))  # one root has a CRL: ready, the others are named
    (partial / only.name).write_bytes(only.read_bytes())
    status, body, _ = readiness(tmp_path, MYNACARD_TEST_MODE="1", MYNACARD_CARD_LOGIN_TRUST_DIR=str(trust),
                                MYNACARD_CARD_LOGIN_CRL_DIR=str(partial))
    assert status == 200, body
    assert body["status"] == "ready"
    assert len(body["warnings"]) == 5
    assert all(w["setting"] == "card_login.crl_dir" and "no fresh CRL" in w["problem"] for w in body["warnings"])


@pytest.mark.slow
def test_a_provider_that_can_verify_card_logins_is_ready(tmp_path: Path, pki: tuple[Path, Path]) -> None:
    trust, crls = pki
    status, body, log = readiness(tmp_path, MYNACARD_TEST_MODE="1", MYNACARD_CARD_LOGIN_TRUST_DIR=str(trust),
                                  MYNACARD_CARD_LOGIN_CRL_DIR=str(crls))
    assert (status, body) == (200, {"status": "ready", "warnings": []})
    assert "card_login_not_ready" not in log


@pytest.mark.slow
def test_the_test_authenticator_needs_no_card_roots(tmp_path: Path) -> None:
    status, body, _ = readiness(tmp_path, MYNACARD_TEST_MODE="1", MYNACARD_LOGIN_AUTHENTICATOR="test")
    assert (status, body) == (200, {"status": "ready", "warnings": []})


# --- the findings in process (the same checks, quicker) --------------------------------------------------------


@pytest.mark.anyio
async def test_ocsp_without_crls_is_ready_without_signing_logins(tmp_path: Path, pki: tuple[Path, Path]) -> None:
    trust, _ = pki
    settings = settings_for(tmp_path, MYNACARD_TEST_MODE="1", MYNACARD_CARD_LOGIN_TRUST_DIR=str(trust),
                            MYNACARD_CARD_LOGIN_OCSP="1")
    readiness = await card_login_readiness(settings, dt.datetime.now(dt.UTC))
    assert readiness.ready
    [warning] = readiness.warnings
    assert warning.setting == "card_login.crl_dir"
    assert "signing certificate" in warning.problem


@pytest.mark.anyio
async def test_refused_files_beside_admitted_roots_are_warnings(tmp_path: Path, pki: tuple[Path, Path]) -> None:
    trust, crls = pki
    mixed = tmp_path / "trust"
    mixed.mkdir()
    for root in trust.iterdir():
        (mixed / root.name).write_bytes(root.read_bytes())
    (mixed / "notes.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    settings = settings_for(tmp_path, MYNACARD_TEST_MODE="1", MYNACARD_CARD_LOGIN_TRUST_DIR=str(mixed),
                            MYNACARD_CARD_LOGIN_CRL_DIR=str(crls))
    readiness = await card_login_readiness(settings, dt.datetime.now(dt.UTC))
    assert readiness.ready
    [warning] = readiness.warnings
    assert warning.setting == "card_login.trust_dir"
    assert warning.problem.startswith("notes.pem#0 refused: ")
    stale = await card_login_readiness(settings, dt.datetime.now(dt.UTC) + dt.timedelta(days=2))
    assert stale.problems == (Finding("card_login.crl_dir", "no fresh CRL of any admitted root: revocation fails "
                                                            "closed for every card"),)
