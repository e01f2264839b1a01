"""Signing with the card for a business, as a person does it, in headless Chromium: a ``jpki_sign`` request pushed
by the relying party (RFC 9126 PAR), the signing consent page (labels and grouped-hex digests), the card agent's
PIN pad showing the same documents, the virtual card in a real pcscd signing in one session, the provider
(``idp serve``) verifying before it releases anything, and the business fetching the results once. The CMS
signatures are checked with ``openssl cms -verify`` against the test roots; the verification record with the
provider's JWKS.

Cases: one and three documents; a wrong password with tries left; one try left (confirmation first); refusal on
the consent page; the card pulled mid-signing; a revoked signing certificate; the challenge withholds the
documents until the person approved them, and the card signs exactly the approved DigestInfos.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from joserfc import jws
from joserfc.jwk import KeySet

from cardreader.jpki import EF
from cardreader.virtual.card import Fault
from cardreader.virtual.lab import PcscLab
from cardreader.virtual.profile import CardProfile, StateFile
from keys.cms.digest_info import HashAlgorithm, encode_digest_info
from keys.testpki import TestPki
from tests.support.cms import openssl_verifies

from .conftest import SIGN_PASSWORD, Agent, Pki, Provider, insert
from .test_browser import RP, browser, check_axe  # noqa: F401 (the browser fixture)

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.pcsc, pytest.mark.slow]
SHA256 = "2.16.840.1.101.3.4.2.1"
CONTRACT = "契約書 第12号".encode()


@pytest.fixture(scope="module")
def client(provider: Provider) -> str:
    provider.idp("clients", "add", "rp1", "--redirect-uri", RP, "--auth-method", "none",
                 "--client-name", "Example Bank", "--client-name", "ja=例示銀行")
    return "rp1"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _details(*documents: tuple[str, bytes], signature_format: str | None = None) -> list[dict[str, Any]]:
    entry = {"type": "jpki_sign", "hashAlgorithmOID": SHA256,
             "documentDigests": [{"hash": _b64(hashlib.sha256(content).digest()), "label": label}
                                 for label, content in documents]}
    return [entry if signature_format is None else {**entry, "signatureFormat": signature_format}]


def _grouped(content: bytes) -> str:
    text = hashlib.sha256(content).hexdigest().upper()
    return " ".join(text[i:i + 4] for i in range(0, len(text), 4))


class Business:
    """The relying party: pushes the request, redeems the code, fetches the results."""

    def __init__(self, provider: Provider, details: list[dict[str, Any]]) -> None:
        self.provider, self.details = provider, details
        self.verifier = secrets.token_urlsafe(32)

    def push(self) -> str:
        challenge = base64.urlsafe_b64encode(hashlib.sha256(self.verifier.encode()).digest()).rstrip(b"=").decode()
        answer = httpx.post(f"{self.provider.url}/par", data={
            "response_type": "code", "client_id": "rp1", "redirect_uri": RP, "scope": "openid", "state": "st",
            "code_challenge": challenge, "code_challenge_method": "S256",
            "authorization_details": json.dumps(self.details)})
        assert answer.status_code == 201, answer.text
        query = urlencode({"client_id": "rp1", "request_uri": answer.json()["request_uri"]})
        return f"{self.provider.url}/authorize?{query}"

    def tokens(self, code: str) -> dict[str, Any]:
        answer = httpx.post(f"{self.provider.url}/token", data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": RP, "client_id": "rp1",
            "code_verifier": self.verifier})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def results(self, access_token: str) -> httpx.Response:
        return httpx.get(f"{self.provider.url}/sign/results", headers={"Authorization": f"Bearer {access_token}"})


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:  # noqa: F811 (the imported fixture)
    running = browser.new_context(locale="ja-JP", bypass_csp=True)
    yield running
    running.close()


def _approve(page: Any, documents: list[tuple[str, bytes]]) -> None:
    page.wait_for_url("**/interaction/*/sign", timeout=20_000)
    check_axe(page)
    labels = page.locator("ol.documents .label").all_text_contents()
    digests = page.locator("ol.documents .digest").all_text_contents()
    assert labels == [label for label, _ in documents]
    assert digests == [_grouped(content) for _, content in documents]
    assert "6〜16文字" in page.content()
    business = page.text_content(".client-name")  # who asks, by its registered name where it has one
    assert business
    assert f"サービス「{business}」が" in page.content()
    assert business != "rp1", "rp1 is registered as 例示銀行: the page must not name it by its client_id"
    page.get_by_role("button", name="署名を承認する").click()
    page.wait_for_url("**/interaction/*", timeout=20_000)


def _pinpad(context: Any, agent: Agent) -> Any:
    pad = context.new_page()
    pad.goto(f"{agent.url}/pinpad")
    return pad


def _enter_password(context: Any, agent: Agent, page: Any, documents: list[tuple[str, bytes]],
                    password: str = SIGN_PASSWORD, *, confirm_last_try: bool = False) -> None:
    page.locator("#pinpad-link").wait_for(state="visible", timeout=20_000)
    pad = _pinpad(context, agent)
    if confirm_last_try:
        pad.locator("#confirm button[type=submit]").wait_for(state="visible", timeout=20_000)
        pad.locator("#confirm button[type=submit]").click()
    pad.locator("#secret").wait_for(state="visible", timeout=20_000)
    assert pad.locator("#document-list .label").all_text_contents() == [label for label, _ in documents]
    shown = pad.locator("#document-list .digest").all_text_contents()
    assert shown == [f"SHA-256: {_grouped(content)}" for _, content in documents]
    check_axe(pad)
    pad.keyboard.type(password)
    pad.keyboard.press("Enter")
    pad.close()


def _code(page: Any) -> dict[str, list[str]]:
    page.wait_for_url(RP + "*", timeout=40_000)
    return parse_qs(urlsplit(page.url).query)


def _page(context: Any) -> tuple[Any, list[str]]:
    """A new page and the URLs of the documents it loads."""
    page, loaded = context.new_page(), []
    page.on("request", lambda request: loaded.append(request.url) if request.is_navigation_request() else None)
    return page, loaded


def _after_login(page: Any, loaded: list[str]) -> dict[str, list[str]]:
    """The answer to the relying party, straight after the card: a request for signatures and no claims needs no
    claims consent page, even on the client's first visit (the signing consent page was the person's consent)."""
    query = _code(page)
    assert any(url.endswith("/sign") for url in loaded), loaded
    assert not any("/consent" in url for url in loaded), loaded
    return query


def _roots(pki: Pki) -> list[x509.Certificate]:
    return [root.certificate for root in TestPki.open(pki.directory).roots()]


def _sign(context: Any, provider: Provider, agent: Agent, documents: list[tuple[str, bytes]],
          tmp_path: Path, pki: Pki, *, signature_format: str | None = None) -> dict[str, Any]:
    """Sign ``documents`` through the whole flow and check every result (``signature_format``: the request's
    ``signatureFormat``, absent when None)."""
    business = Business(provider, _details(*documents, signature_format=signature_format))
    page, loaded = _page(context)
    page.goto(business.push())
    _approve(page, documents)
    _enter_password(context, agent, page, documents)
    query = _after_login(page, loaded)
    tokens = business.tokens(query["code"][0])
    assert tokens["authorization_details"] == business.details  # RFC 9396 §7
    answer = business.results(tokens["access_token"])
    assert answer.status_code == 200, answer.text
    results = answer.json()
    assert [d["label"] for d in results["documents"]] == [label for label, _ in documents]
    roots = _roots(pki)
    for (_, content), document in zip(documents, results["documents"], strict=True):
        cms = base64.b64decode(document["cms"])
        assert any(openssl_verifies(tmp_path, content, cms, root) for root in roots)
        assert not any(openssl_verifies(tmp_path, content + b"!", cms, root) for root in roots)
        certificate = x509.load_der_x509_certificate(base64.b64decode(results["certificate"]))
        key = certificate.public_key()
        assert isinstance(key, rsa.RSAPublicKey)
        expected = encode_digest_info(HashAlgorithm.SHA256, hashlib.sha256(content).digest())
        raw = base64.b64decode(document["signature"])
        assert key.recover_data_from_signature(raw, padding.PKCS1v15(), None) == expected
    jwks = KeySet.import_key_set(httpx.get(f"{provider.url}/jwks").json())
    record = jws.deserialize_compact(results["verification_record"], jwks)
    claims = json.loads(record.payload)
    assert record.protected["typ"] == "signing-record+jwt"
    assert claims["iss"] == provider.url
    assert [d["hash"] for d in claims["documents"]] == [_b64(hashlib.sha256(c).digest()) for _, c in documents]
    assert claims["certificate"]["sha256"] == hashlib.sha256(base64.b64decode(results["certificate"])).hexdigest()
    assert claims["revocation"]["source"] == "crl"
    assert "x5c" not in claims  # signing.keep_certificates is false
    second = business.results(tokens["access_token"])  # fetched once
    assert (second.status_code, second.json()["error"]) == (403, "insufficient_scope")
    assert "insufficient_scope" in second.headers["WWW-Authenticate"]
    return dict(results)


@pytest.fixture
def card(lab: PcscLab, pki: Pki, tmp_path: Path) -> CardProfile:
    profile = pki.adult.copy_to(tmp_path / "card" / "card.json")
    insert(lab, profile)
    return profile


def test_one_document(context: Any, provider: Provider, agent: Agent, card: CardProfile, client: str,
                      tmp_path: Path, pki: Pki) -> None:
    _sign(context, provider, agent, [("契約書", CONTRACT)], tmp_path, pki)


def _signed_payloads(apdu_log: Path) -> list[bytes]:
    """The data of every COMPUTE DIGITAL SIGNATURE (``80 2A 00 80``) the card received, from its APDU trace."""
    payloads = []
    for line in apdu_log.read_text().splitlines():
        command = line.removeprefix("C: ")
        if command.startswith("80 2A 00 80 Lc="):
            payloads.append(bytes.fromhex(command.split(" ", 5)[5].rsplit(" Le=", 1)[0]))
    return payloads


def test_three_documents_and_the_card_signs_nothing_else(context: Any, provider: Provider, agent: Agent,
                                                         lab: PcscLab, pki: Pki, client: str, tmp_path: Path) -> None:
    apdu_log = tmp_path / "apdu.log"
    insert(lab, pki.adult.copy_to(tmp_path / "card" / "card.json"), apdu_log=apdu_log)
    documents = [("申込書", b"application"), ("重要事項説明書", b"explanation"), ("Credit Contract", b"contract")]
    results = _sign(context, provider, agent, documents, tmp_path, pki)
    payloads = _signed_payloads(apdu_log)
    assert len(payloads) == 1 + 2 * len(documents)  # the login, then per document its DigestInfo and its attributes
    assert payloads[1::2] == [encode_digest_info(HashAlgorithm.SHA256, hashlib.sha256(c).digest())
                              for _, c in documents]
    for payload, document in zip(payloads[2::2], results["documents"], strict=True):
        signer = asn1_cms.ContentInfo.load(base64.b64decode(document["cms"]))["content"]["signer_infos"][0]
        attributes = b"\x31" + signer["signed_attrs"].dump()[1:]  # the SET the signature covers (RFC 5652 §5.4)
        assert payload == encode_digest_info(HashAlgorithm.SHA256, hashlib.sha256(attributes).digest())


def test_one_try_left_asks_for_confirmation_first(context: Any, provider: Provider, agent: Agent, card: CardProfile,
                                                 lab: PcscLab, client: str) -> None:
    StateFile(card.state_path).save({EF.AUTH_PIN: 3, EF.SIGN_PIN: 1})
    insert(lab, card)  # the state file is read when the card starts
    documents = [("契約書", CONTRACT)]
    business = Business(provider, _details(*documents))
    page, loaded = _page(context)
    page.goto(business.push())
    _approve(page, documents)
    _enter_password(context, agent, page, documents, confirm_last_try=True)
    query = _after_login(page, loaded)
    assert "code" in query


def test_wrong_password_with_tries_left_releases_nothing(context: Any, provider: Provider, agent: Agent,
                                                         card: CardProfile, client: str) -> None:
    documents = [("契約書", CONTRACT)]
    business = Business(provider, _details(*documents))
    page = context.new_page()
    page.goto(business.push())
    _approve(page, documents)
    _enter_password(context, agent, page, documents, "WRONGPASS1")
    error = page.locator("#error")
    error.wait_for(state="visible", timeout=30_000)
    text = str(error.text_content())
    assert "残り4回" in text
    assert not page.url.startswith(RP)


def test_refusal_on_the_consent_page_is_access_denied(context: Any, provider: Provider, client: str) -> None:
    business = Business(provider, _details(("契約書", CONTRACT)))
    page = context.new_page()
    page.goto(business.push())
    page.wait_for_url("**/interaction/*/sign", timeout=20_000)
    page.get_by_role("button", name="署名しない").click()
    query = _code(page)
    assert query["error"] == ["access_denied"]
    assert "code" not in query


def test_the_challenge_withholds_documents_until_approved(context: Any, provider: Provider, client: str) -> None:
    business = Business(provider, _details(("契約書", CONTRACT)))
    page = context.new_page()
    page.goto(business.push())
    page.wait_for_url("**/interaction/*/sign", timeout=20_000)
    page.goto(page.url.removesuffix("/sign"))  # straight to the login page: sent back to the consent page
    page.wait_for_url("**/interaction/*/sign", timeout=20_000)
    assert page.locator("#pinpad-link").count() == 0  # no card step (no token for the agent) before approval


def _refused_at_the_card(context: Any, provider: Provider, agent: Agent) -> str:
    """Approve one document, enter the password: the login page's error text (and no answer to the business)."""
    documents = [("契約書", CONTRACT)]
    page = context.new_page()
    page.goto(Business(provider, _details(*documents)).push())
    _approve(page, documents)
    _enter_password(context, agent, page, documents)
    error = page.locator("#error")
    error.wait_for(state="visible", timeout=40_000)
    assert not page.url.startswith(RP)
    return str(error.text_content())


def test_card_pulled_mid_signing_releases_nothing(context: Any, provider: Provider, agent: Agent, lab: PcscLab,
                                                   pki: Pki, client: str, tmp_path: Path) -> None:
    lab.insert(pki.adult.copy_to(tmp_path / "pulled" / "card.json").path, fault=Fault.PULL_ON_SIGN)
    assert "カードが離れました" in _refused_at_the_card(context, provider, agent)


def test_a_revoked_signing_certificate_releases_nothing(context: Any, provider: Provider, agent: Agent,
                                                        lab: PcscLab, pki: Pki, client: str, tmp_path: Path) -> None:
    insert(lab, pki.revoked.copy_to(tmp_path / "revoked" / "card.json"))
    assert "失効" in _refused_at_the_card(context, provider, agent)
