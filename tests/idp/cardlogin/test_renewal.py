"""Renewal link through the real parts: the stand-in platform operator answers J-LIS's certificate link from the
test PKI's renewal records; a renewed card (new keys, same holder) logs in through pcscd + the agent + the provider
and continues the old account: the same pairwise ``sub`` at every client. The operator's link answers are judged:
a forged answer, an answer about another certificate and an answer of another purpose are refused."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cardreader.virtual.lab import PcscLab
from cardreader.virtual.profile import create_profile
from keys.errors import InvalidSignature, Reason, RevocationUnavailable, VerificationError
from keys.jose import public_jwk
from keys.testpki.renewal import record_renewal
from keys.x509.profile import Purpose

from .conftest import (
    AUTH_PIN,
    HOLDER,
    NOW,
    SIGN_PASSWORD,
    Agent,
    Pki,
    Provider,
    insert,
    running_agent,
    running_provider,
)
from .test_account_link import RP1, RP2, login
from .test_end_to_end import Browser
from .test_platform import OPERATOR, operator, verifier_for

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]


@pytest.fixture(scope="module")
def material(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("renewal-operator")
    key = ec.generate_private_key(ec.SECP256R1())
    (base / "operator.key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (base / "operator.jwks.json").write_text(json.dumps(
        {"keys": [public_jwk(key.public_key(), kid="operator-1", alg="ES256")]}))
    renewals = base / "renewals"
    renewals.mkdir()
    return {"trust": pki.trust, "crls": pki.crls, "key": base / "operator.key.pem",
            "jwks": base / "operator.jwks.json", "renewals": renewals}


@pytest.fixture(scope="module")
def operator_provider(pki: Pki, material: dict[str, Path], lab: PcscLab,
                      tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Provider, Agent]]:
    """A provider whose revocation source AND certificate links are the stand-in operator, and its agent."""
    from tests.support.processes import free_port
    agent_port = free_port()
    base = tmp_path_factory.mktemp("renewal-provider")
    with operator(material, "--renewals", str(material["renewals"])) as (url, _), \
            running_provider(base, pki, agent_port, MYNACARD_CARD_LOGIN_CRL_DIR="",
                             MYNACARD_CARD_LOGIN_PLATFORM_URL=url, MYNACARD_CARD_LOGIN_PLATFORM_OPERATOR=OPERATOR,
                             MYNACARD_CARD_LOGIN_PLATFORM_JWKS=str(material["jwks"])) as provider, \
            running_agent(provider, lab, agent_port, base / "agent.log") as agent:
        for client_id, uri in (("rp1", RP1), ("rp2", RP2)):
            provider.idp("clients", "add", client_id, "--redirect-uri", uri, "--auth-method", "none")
        yield provider, agent


def test_a_renewed_card_continues_the_account(operator_provider: tuple[Provider, Agent], lab: PcscLab, pki: Pki,
                                              material: dict[str, Path], tmp_path: Path) -> None:
    provider, agent = operator_provider
    old = create_profile(tmp_path / "old" / "card.json", pki_dir=pki.directory, now=NOW, auth_pin=AUTH_PIN,
                         sign_password=SIGN_PASSWORD, holder=HOLDER)
    renewed = create_profile(tmp_path / "new" / "card.json", pki_dir=pki.directory, now=NOW, auth_pin=AUTH_PIN,
                             sign_password=SIGN_PASSWORD, holder=HOLDER)
    stranger = create_profile(tmp_path / "stranger" / "card.json", pki_dir=pki.directory, now=NOW,
                              auth_pin=AUTH_PIN, sign_password=SIGN_PASSWORD)
    browser = Browser.open(provider)
    insert(lab, old)
    before = {rp: login(browser, agent, rp, [AUTH_PIN])[0]["sub"] for rp in ("rp1", "rp2")}
    # J-LIS links the old authentication certificate to the renewed card's (the operator's data)
    record_renewal(material["renewals"], old.certificate("auth_certificate"), renewed.certificate("auth_certificate"),
                   Purpose.AUTH)
    insert(lab, renewed)
    after = {rp: login(browser, agent, rp, [AUTH_PIN])[0]["sub"] for rp in ("rp1", "rp2")}
    assert after == before
    assert after["rp1"] != after["rp2"]
    insert(lab, stranger)  # a card J-LIS links to nothing is an account of its own
    assert login(browser, agent, "rp1", [AUTH_PIN])[0]["sub"] != before["rp1"]
    assert "renewal_link_unavailable" not in provider.log.read_text()
    entries = [json.loads(line) for line in provider.idp("audit", "export").stdout.splitlines()]
    links = [e for e in entries if e.get("type") == "card_link"]
    assert len(links) == 1, links  # the renewal, once: later logins of the renewed card find the account
    assert "operator" in json.dumps(links[0])


@pytest.mark.parametrize(("options", "error", "reason"), [
    (("--forge",), InvalidSignature, None),
    (("--link-for-other",), RevocationUnavailable, Reason.REVOCATION_SCOPE),
])
def test_bad_link_answers_are_refused(material: dict[str, Path], pki: Pki, tmp_path: Path, options: tuple[str, ...],
                                      error: type[VerificationError], reason: Reason | None) -> None:
    old = create_profile(tmp_path / "old" / "card.json", pki_dir=pki.directory, now=NOW)
    new = create_profile(tmp_path / "new" / "card.json", pki_dir=pki.directory, now=NOW)
    renewals = tmp_path / "renewals"
    renewals.mkdir()
    record_renewal(renewals, old.certificate("auth_certificate"), new.certificate("auth_certificate"), Purpose.AUTH)
    with operator(material, "--renewals", str(renewals), *options) as (url, _):
        platform = verifier_for(tmp_path, material, url).platform
        assert platform is not None
        with pytest.raises(error) as refused:
            platform.previous_key(new.certificate("auth_certificate"), Purpose.AUTH, at=dt.datetime.now(dt.UTC))
        if reason is not None:
            assert refused.value.reason is reason


def test_the_operator_links_only_what_it_recorded(material: dict[str, Path], pki: Pki, tmp_path: Path) -> None:
    old = create_profile(tmp_path / "old" / "card.json", pki_dir=pki.directory, now=NOW)
    new = create_profile(tmp_path / "new" / "card.json", pki_dir=pki.directory, now=NOW)
    renewals = tmp_path / "renewals"
    renewals.mkdir()
    record_renewal(renewals, old.certificate("sign_certificate"), new.certificate("sign_certificate"), Purpose.SIGN)
    with operator(material, "--renewals", str(renewals)) as (url, _):
        platform = verifier_for(tmp_path, material, url).platform
        assert platform is not None
        now = dt.datetime.now(dt.UTC)
        assert platform.previous_key(new.certificate("auth_certificate"), Purpose.AUTH, at=now) is None
        assert platform.previous_key(new.certificate("sign_certificate"), Purpose.SIGN, at=now) is not None
        with pytest.raises(VerificationError) as refused:  # the link names a signing key, asked as authentication
            platform.previous_key(new.certificate("sign_certificate"), Purpose.AUTH, at=now)
        assert refused.value.reason is Reason.MALFORMED
