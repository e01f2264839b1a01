"""The Digital Agency-shaped signing API through the whole card path, in headless Chromium: the business registers
a sign transaction (client-credentials token, scope ``sign``), sends the person to ``/authorize`` with scope
``sign`` and ``sign_transaction_id`` (and ``verified_claims`` asked for the ID token), the signing consent page
shows the transaction's label and digest, the card agent's PIN pad the same, the virtual card in a real pcscd
signs, the provider verifies; the business redeems the code and fetches the result once: a JWE to its registered
encryption key, opened with jwcrypto (independent of our joserfc), whose signature verifies over the transaction's
DigestInfo with the certificate inside, the card's signing certificate; the ID token's ``verified_claims`` names
that certificate and validates against the IDA schema.
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
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from jwcrypto import jwe as jwcrypto_jwe
from jwcrypto import jwk as jwcrypto_jwk

from cardreader.virtual.lab import PcscLab
from cardreader.virtual.profile import CardProfile
from idp.oauth.verified_claims import SIGNATURE_TYPE
from keys.cms.digest_info import HashAlgorithm, encode_digest_info
from keys.jose.jwk import public_jwk

from ..test_verified_claims import valid_answer
from .conftest import Agent, Pki, Provider, insert, running_provider
from .test_browser import RP, browser  # noqa: F401 (the browser fixture)
from .test_signing_browser import _approve, _enter_password, context  # noqa: F401 (the context fixture)

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.pcsc, pytest.mark.slow]
CONTRACT = "口座開設申込書 第7号".encode()
CLAIMS = {"id_token": {"verified_claims": {
    "verification": {"trust_framework": None, "evidence": [
        {"type": {"value": "electronic_signature"}, "issuer": None, "serial_number": None, "created_at": None}]},
    "claims": {}}}}


@pytest.fixture(scope="module")
def provider(pki: Pki, agent_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    """``idp serve`` as in conftest, with ``sign`` available to client-credentials tokens."""
    with running_provider(tmp_path_factory.mktemp("provider"), pki, agent_port,
                          MYNACARD_TOKENS_CLIENT_CREDENTIALS_SCOPES="sign") as running:
        yield running


@pytest.fixture(scope="module")
def business(provider: Provider, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, Any]:
    """A confidential client with an encryption key (``use`` ``enc``): its id, secret and private key."""
    key = ec.generate_private_key(ec.SECP256R1())
    jwks = tmp_path_factory.mktemp("da-client") / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**public_jwk(key.public_key()), "use": "enc", "kid": "da-enc"}]}))
    added = provider.idp("clients", "add", "da-bank", "--redirect-uri", RP, "--auth-method", "client_secret_basic",
                         "--jwks", str(jwks))
    return "da-bank", str(json.loads(added.stdout)["client_secret"]), key


@pytest.fixture
def card(lab: PcscLab, pki: Pki, tmp_path: Path) -> CardProfile:
    profile = pki.adult.copy_to(tmp_path / "card" / "card.json")
    insert(lab, profile)
    return profile


def test_a_sign_transaction_through_the_card(context: Any, provider: Provider, agent: Agent,  # noqa: F811
                                             card: CardProfile, business: tuple[str, str, Any]) -> None:
    client_id, secret, key = business
    digest = hashlib.sha256(CONTRACT).digest()
    token = httpx.post(f"{provider.url}/token", auth=(client_id, secret),
                       data={"grant_type": "client_credentials", "scope": "sign"}).json()["access_token"]
    registered = httpx.post(f"{provider.url}/api/sign-transactions", headers={"Authorization": f"Bearer {token}"},
                            json={"digest": base64.b64encode(digest).decode(), "label": "口座開設申込書"})
    assert registered.status_code == 201, registered.text
    transaction = registered.json()["sign_transaction_id"]

    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    page = context.new_page()
    page.goto(f"{provider.url}/authorize?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": RP, "scope": "openid sign",
        "sign_transaction_id": transaction, "state": "st", "nonce": "nn", "code_challenge": challenge,
        "code_challenge_method": "S256", "claims": json.dumps(CLAIMS)}))
    documents = [("口座開設申込書", CONTRACT)]
    _approve(page, documents)
    _enter_password(context, agent, page, documents)
    page.wait_for_url("**/consent", timeout=40_000)  # the evidence is asked about, claim by claim
    page.check("input[name=claim][value=verified_claims]")
    page.get_by_role("button", name="許可する").click()
    page.wait_for_url(RP + "*", timeout=40_000)
    code = parse_qs(urlsplit(page.url).query)["code"][0]
    tokens = httpx.post(f"{provider.url}/token", auth=(client_id, secret), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": RP, "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.text

    result = f"{provider.url}/api/sign-transactions/{transaction}/result"
    person = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
    answer = httpx.get(result, headers=person)
    assert answer.status_code == 200, answer.text
    sealed = jwcrypto_jwe.JWE()
    sealed.deserialize(answer.text, key=jwcrypto_jwk.JWK.from_pyca(key))
    payload = json.loads(sealed.payload)
    certificate = x509.load_der_x509_certificate(base64.b64decode(payload["certificate"]))
    assert certificate == x509.load_der_x509_certificate(card.certificate("sign_certificate"))
    public = certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    recovered = public.recover_data_from_signature(base64.b64decode(payload["signature"]), padding.PKCS1v15(), None)
    assert recovered == encode_digest_info(HashAlgorithm.SHA256, digest)
    again = httpx.get(result, headers=person)
    assert (again.status_code, again.json()["error"]) == (403, "insufficient_scope")  # once

    id_token = jwt.decode(tokens.json()["id_token"], options={"verify_signature": False})
    evidence = valid_answer(id_token["verified_claims"])["verification"]["evidence"]
    assert evidence == [{"type": "electronic_signature", "signature_type": SIGNATURE_TYPE,
                         "issuer": certificate.issuer.rfc4514_string(),
                         "serial_number": str(certificate.serial_number), "created_at": evidence[0]["created_at"]}]
    replay = httpx.get(f"{provider.url}/authorize", params={
        "response_type": "code", "client_id": client_id, "redirect_uri": RP, "scope": "openid sign",
        "sign_transaction_id": transaction, "state": "st", "code_challenge": challenge,
        "code_challenge_method": "S256"})
    assert parse_qs(urlsplit(replay.headers["location"]).query)["error"] == ["invalid_request"]
