""""Log in at the PC, take the credential on the phone": the issuer's portal (login and consent on the PC), the
pre-authorized offer by reference with a Transaction Code shown only on the PC, and the phone's wallet taking
it with the code — single use, short-lived, attempt-capped, never inside the offer."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from urllib.parse import urlencode

import httpx

from credentials.oid4vci.offer import CredentialOffer, parse_offer_link
from credentials.sdjwt import HeldSdJwt
from credentials.wallet.http import DpopSession
from credentials.wallet.login import LoginDriver, UserAgent, default_approval

from .conftest import Provider, login_as

OFFER_LINK = re.compile(r'href="(openid-credential-offer://\?[^"]+)"')
TX_CODE = re.compile(r'class="tx-code"><strong>(\d+)</strong>')


def pc_login(provider: Provider, configurations: list[str], *, with_sex: bool = False,
             driver: LoginDriver | None = None) -> tuple[str, str]:
    """The person at the PC: choose, log in, consent; the offer link and the Transaction Code the page shows."""
    browser = httpx.Client(base_url=provider.url, timeout=30, follow_redirects=False)
    choice = browser.get("/credentials", params=[("configuration", c) for c in configurations])
    assert choice.status_code == 200
    started = browser.post("/credentials/start", content=urlencode([("configuration", c) for c in configurations]),
                           headers={"Origin": provider.url, "Content-Type": "application/x-www-form-urlencoded"})
    assert started.status_code == 303, started.text
    agent = UserAgent(provider.url, provider.url + "/credentials/callback", driver or login_as("pc-holder"),
                      default_approval(with_sex), http=browser)
    answer = agent.authorize(provider.url + started.headers["location"])
    page = browser.get("/credentials/callback", params=answer)
    assert page.status_code == 200, page.text
    link, code = OFFER_LINK.search(page.text), TX_CODE.search(page.text)
    assert link is not None
    assert code is not None
    return html.unescape(link[1]), code[1]


def test_portal_offers_the_authorization_code_flow_by_value(issuer: Provider) -> None:
    page = httpx.get(f"{issuer.url}/credentials", params=[("configuration", "jp_age"), ("configuration", "x")])
    link = OFFER_LINK.search(page.text)
    assert link is not None
    offer = parse_offer_link(html.unescape(link[1]), allow_http=True)
    assert isinstance(offer, CredentialOffer)
    assert offer.credential_configuration_ids == ("jp_age",)
    assert offer.authorization_code
    assert offer.issuer_state
    assert offer.pre_authorized_code is None
    assert "<svg" in page.text


def test_phone_takes_the_credential_with_the_transaction_code(issuer: Provider, tmp_path: Path) -> None:
    link, tx_code = pc_login(issuer, ["jp_age", "jp_basic4"], with_sex=True)
    uri = parse_offer_link(link, allow_http=True)
    assert isinstance(uri, str)
    assert uri.startswith(f"{issuer.url}/credential-offer/")
    offer = httpx.get(uri).json()
    grant = offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]
    assert grant["tx_code"]["input_mode"] == "numeric"
    assert grant["tx_code"]["length"] == 6
    assert tx_code not in json.dumps(offer)  # the code travels on another channel only
    assert len(tx_code) == 6
    wallet = tmp_path / "phone.json"
    received = issuer.wallet(wallet, "accept", link, "--tx-code", tx_code, "--trust-root",
                             str(issuer.data / "credential-ca" / "root.pem"))
    assert len(received["credentials"]) == 2
    stored = json.loads(wallet.read_text())["credentials"]
    basic = next(HeldSdJwt.parse(c["credential"]).claims for c in stored if c["configuration_id"] == "jp_basic4")
    assert basic["sex"] == 2  # opted in on the PC
    again = issuer.wallet(wallet, "accept", link, "--tx-code", tx_code, check=False)
    assert again["error"] == "invalid_grant"  # single use


def _token(provider: Provider, code: str, tx_code: str | None) -> httpx.Response:
    session = DpopSession()
    form = {"grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code", "pre-authorized_code": code}
    if tx_code is not None:
        form["tx_code"] = tx_code
    return session.request("POST", f"{provider.url}/token", data=form)


def pre_authorized_code(provider: Provider) -> tuple[str, str]:
    """A fresh pre-authorized code (read from its offer) and its Transaction Code."""
    link, tx_code = pc_login(provider, ["jp_age"])
    uri = parse_offer_link(link, allow_http=True)
    assert isinstance(uri, str)
    grants = httpx.get(uri).json()["grants"]
    return grants["urn:ietf:params:oauth:grant-type:pre-authorized_code"]["pre-authorized_code"], tx_code


def test_transaction_code_is_attempt_capped(issuer: Provider) -> None:
    code, tx_code = pre_authorized_code(issuer)
    missing = _token(issuer, code, None)
    assert missing.json()["error"] == "invalid_request"  # not counted: nothing was guessed
    wrong = str((int(tx_code) + 1) % 1_000_000).zfill(6)
    for _ in range(3):
        assert _token(issuer, code, wrong).json()["error"] == "invalid_grant"
    dead = _token(issuer, code, tx_code)
    assert dead.json()["error"] == "invalid_grant"  # three wrong codes killed it


def test_pre_authorized_code_needs_dpop_and_is_anonymous(issuer: Provider) -> None:
    code, tx_code = pre_authorized_code(issuer)
    plain = httpx.post(f"{issuer.url}/token", data={
        "grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code", "pre-authorized_code": code,
        "tx_code": tx_code})
    assert plain.json()["error"] == "invalid_request"  # no DPoP proof: refused before the code is touched
    token = _token(issuer, code, tx_code)
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["token_type"] == "DPoP"
    assert [d["credential_configuration_id"] for d in body["authorization_details"]] == ["jp_age"]
