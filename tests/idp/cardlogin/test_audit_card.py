"""The audit trail of card logins end to end (real HTTP, the card agent, the virtual card in pcscd): a sign-cert
login with consent and a refused revoked card are recorded with the certificate's SHA-256, the revocation answer's
source with the CRL's issuer and number, and no PIN, no basic fact, no account id, no certificate."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from cardreader.virtual.lab import PcscLab

from .conftest import AUTH_PIN, ROOT, SIGN_PASSWORD, Agent, Pki, Provider, insert
from .test_end_to_end import FACT_STRINGS, Browser, _forms, agent_login, card_login, clients  # noqa: F401

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]


def test_card_logins_are_audited_with_references_only(provider: Provider, agent: Agent, lab: PcscLab, pki: Pki,
                                                      clients: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    insert(lab, pki.adult)
    card_login(Browser.open(provider), agent, "rp1", "openid profile", SIGN_PASSWORD, tmp_path,
               approve=("name", "birthdate"))
    insert(lab, pki.revoked)
    browser = Browser.open(provider)
    uid, _ = browser.authorize("rp1", "openid", prompt="login")
    assert agent_login(agent, provider, {"token": browser.login_page(uid)["token"]}, AUTH_PIN)["state"] == "failed"

    exported = subprocess.run([sys.executable, "-m", "idp", "audit", "export"], env=provider.env, cwd=ROOT,
                              capture_output=True, text=True, timeout=60, check=True).stdout
    log = [json.loads(line) for line in exported.splitlines()]
    logins = [e["fields"] for e in log if e["type"] == "card_login"]
    success = next(f for f in logins if f["outcome"] == "success")
    der = pki.adult.certificate("sign_certificate")
    assert success["certificate_ref"] == hashlib.sha256(der).hexdigest()
    assert success["key"] == "sign"
    assert success["client_id"] == "rp1"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", success["account_ref"])
    assert success["revocation_source"] == "crl"
    assert success["crl_issuer"] == x509.load_der_x509_certificate(der).issuer.rfc4514_string()
    assert isinstance(success["crl_number"], int)
    refused = next(f for f in logins if f["outcome"] == "refused")
    assert (refused["reason"], refused["revocation_source"], refused["key"]) == ("revoked", "crl", "auth")
    assert refused["via"] == "precheck"  # refused before the PIN was asked for
    assert "account_ref" not in refused
    consent = next(e["fields"] for e in log if e["type"] == "consent")
    assert consent["claims"] == ["birthdate", "name"]
    assert consent["account_ref"] == success["account_ref"]
    assert {"login", "token_issued", "client_registered"} <= {e["type"] for e in log}

    for line in exported.splitlines():
        for secret in (AUTH_PIN, SIGN_PASSWORD):
            assert not any(form in line for form in _forms(secret)), line
        assert not any(fact in line for fact in FACT_STRINGS), line
    verified = subprocess.run([sys.executable, "-m", "idp", "audit", "verify"], env=provider.env, cwd=ROOT,
                              capture_output=True, text=True, timeout=60, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr

