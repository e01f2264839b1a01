"""``verified_claims`` after a real signing-certificate login (OpenID Connect for Identity Assurance 1.0): the
relying party's ``claims`` parameter → the login page and its script → the card agent → the virtual card in a real
pcscd (signing password on the PIN pad) → the provider's verification against the test roots and CRLs → the
consent page, claim by claim → tokens and UserInfo. Every ``verified_claims`` element returned validates against
the working group's JSON schema; its evidence names the certificate the card holds and the CRL that confirmed it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from cardreader.virtual.lab import PcscLab
from idp.oauth.verified_claims import SIGNATURE_TYPE

from ..test_verified_claims import valid_answer
from .conftest import HOLDER, SIGN_PASSWORD, Agent, Pki, Provider, insert
from .test_end_to_end import RP1, Browser, run_page

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]

EVIDENCE: dict[str, Any] = {"type": {"value": "electronic_signature"}, "issuer": None, "serial_number": None,
                            "created_at": None, "revocation": None}
CLAIMS = {
    "userinfo": {"verified_claims": [
        # another trust framework: not answered, and no error (IDA §5.6.3)
        {"verification": {"trust_framework": {"value": "de_aml"}}, "claims": {"name": None}},
        {"verification": {"trust_framework": {"value": "jp_aml"}, "time": {"max_age": 600}, "evidence": [EVIDENCE]},
         "claims": {"name": None, "birthdate": None, "given_name": None}},
    ]},
    "id_token": {"verified_claims": {"verification": {"trust_framework": None}, "claims": {"address": None}}},
}


def test_a_signing_certificate_login_gives_verified_claims_as_requested_and_approved(
        provider: Provider, agent: Agent, lab: PcscLab, pki: Pki, tmp_path: Path) -> None:
    provider.idp("clients", "add", "rp1", "--redirect-uri", RP1, "--auth-method", "none")
    insert(lab, pki.adult)
    browser = Browser.open(provider)
    uid, verifier = browser.authorize("rp1", "openid", prompt="login", claims=json.dumps(CLAIMS))
    page = browser.http.get(f"/interaction/{uid}")
    browser.check_login_page(page)
    assert "署名用" in page.text  # the request asks for the signing key
    events = run_page(browser, agent, f"/interaction/{uid}", page.text, SIGN_PASSWORD, tmp_path)
    assert events[-1] == {"submitted": True}, events
    consent = browser.finish(uid)
    certificate = x509.load_der_x509_certificate(pki.adult.certificate("sign_certificate"))
    shown = browser.http.get(consent).text
    assert "本人確認の記録" in shown  # the evidence is asked about on its own, and shows what it tells
    assert str(certificate.serial_number) in shown
    # the person releases the evidence, the name and the birth date, not the address
    tokens = browser.tokens("rp1", browser.follow_to_code(consent, ("verified_claims", "name", "birthdate")),
                            verifier)

    userinfo = browser.userinfo(tokens["access_token"])
    assert "name" not in userinfo  # asked only inside verified_claims
    [element] = valid_answer(userinfo["verified_claims"])
    verification = element["verification"]
    assert verification["trust_framework"] == "jp_aml"
    assert verification["evidence"] == [{
        "type": "electronic_signature", "signature_type": SIGNATURE_TYPE,
        "issuer": certificate.issuer.rfc4514_string(), "serial_number": str(certificate.serial_number),
        "created_at": verification["evidence"][0]["created_at"],
        "revocation": {"source": "crl", "crl_issuer": certificate.issuer.rfc4514_string(), "crl_number": 1}}]
    assert verification["evidence"][0]["created_at"] <= verification["time"]
    assert element["claims"] == {"name": HOLDER.name, "birthdate": "2000-03-15"}

    id_token = tokens["claims"]
    assert id_token["acr"] == "urn:mynacard:acr:sign-cert"
    assert valid_answer(id_token["verified_claims"]) == {"verification": {"trust_framework": "jp_aml"},
                                                         "claims": {}}  # the address was not released
    metadata = browser.http.get("/.well-known/openid-configuration").json()
    assert metadata["trust_frameworks_supported"] == ["jp_aml"]
    assert metadata["evidence_supported"] == ["electronic_signature"]
    assert metadata["claims_parameter_supported"] is True
    assert "verified_claims" in metadata["claims_supported"]
