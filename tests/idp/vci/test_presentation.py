"""The wallet presents over OpenID4VP 1.0: a request object by reference signed under the ``x509_hash`` prefix
(and a ``redirect_uri`` request by value), DCQL selecting what to release, KB-JWT, ``direct_post`` — to a small
verifier peer in this test that checks every presentation with :mod:`credentials.verify`."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from credentials.sdjwtvc import IssuerKeys
from credentials.verify import VerifierPolicy, verify_credential
from keys.jose.b64 import b64url_encode
from keys.service.jws import encode_jwt
from keys.service.signer import SoftwareSigner
from tests.support.http import Peer, serve

from .conftest import CLAIMS, CLIENT_ID, FACTS, REDIRECT_URI, Provider
from .test_issuance import status_checker

QUERY = {"credentials": [{"id": "age", "format": "dc+sd-jwt", "meta": {"vct_values": []},
                          "claims": [{"path": ["age_equal_or_over", "18"]}]}]}


class Verifier:
    """Serves one request object and records the direct_post answer."""

    def __init__(self, issuer: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "verifier.test")])
        now = dt.datetime.now(dt.UTC)
        self.certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
                            .sign(self.key, hashes.SHA256()))
        der = self.certificate.public_bytes(Encoding.DER)
        self.client_id = "x509_hash:" + b64url_encode(hashlib.sha256(der).digest())
        self.nonce = "vp-nonce-" + b64url_encode(hashlib.sha256(der).digest())[:8]
        self.query = json.loads(json.dumps(QUERY).replace('"vct_values": []', f'"vct_values": ["{issuer}/vct/jp-age"]'))
        self.posts: list[dict[str, str]] = []
        verifier = self

        class Handler(Peer):
            def do_GET(self) -> None:
                claims = {"client_id": verifier.client_id, "response_type": "vp_token", "response_mode": "direct_post",
                          "response_uri": f"{verifier.url}/response", "nonce": verifier.nonce, "state": "st-1",
                          "dcql_query": verifier.query}
                jwt = encode_jwt(claims, SoftwareSigner(verifier.key, "ES256", "v"), typ="oauth-authz-req+jwt",
                                 header={"x5c": [base64.b64encode(der).decode()]}, with_kid=False)
                self.answer(200, jwt.encode(), "application/oauth-authz-req+jwt")

            def do_POST(self) -> None:
                verifier.posts.append(dict(parse_qsl(self.body().decode())))
                self.answer(200, b"{}", "application/json")

        self.server, self.url = serve(Handler)

    def request_url(self) -> str:
        return "openid4vp://?" + urlencode({"client_id": self.client_id, "request_uri": f"{self.url}/request"})


@pytest.fixture
def verifier(issuer: Provider) -> Iterator[Verifier]:
    made = Verifier(issuer.url)
    yield made
    made.server.shutdown()


@pytest.fixture
def wallet(issuer: Provider, tmp_path: Path) -> Path:
    path = tmp_path / "wallet.json"
    offer = json.dumps({"credential_issuer": issuer.url, "credential_configuration_ids": ["jp_age", "jp_basic4"],
                        "grants": {"authorization_code": {}}})
    issuer.wallet(path, "accept", offer, "--client-id", CLIENT_ID, "--redirect-uri", REDIRECT_URI, "--login", "test",
                  "--claims", json.dumps(CLAIMS), "--facts", json.dumps(FACTS))
    return path


def _verify(issuer: Provider, presentation: str, client_id: str, nonce: str) -> Any:
    policy = VerifierPolicy(issuer_keys=IssuerKeys(trust=issuer.trust()))
    return verify_credential(presentation, policy=policy, at=dt.datetime.now(dt.UTC), audience=client_id,
                             nonce=nonce, status=status_checker(issuer))


def test_present_by_reference_with_x509_hash(issuer: Provider, verifier: Verifier, wallet: Path) -> None:
    result = issuer.wallet(wallet, "present", verifier.request_url())
    assert result["status"] == 200
    assert result["presented"] == {"age": 1}
    posted = verifier.posts[-1]
    assert posted["state"] == "st-1"
    presentation = json.loads(posted["vp_token"])["age"][0]
    claims = _verify(issuer, presentation, verifier.client_id, verifier.nonce).claims
    assert claims["age_equal_or_over"] == {"18": True}  # only what the query asked for
    assert "name" not in claims


def test_chosen_disclosures_and_request_by_value(issuer: Provider, verifier: Verifier, wallet: Path) -> None:
    response_uri = f"{verifier.url}/response"
    query = {"credentials": [{"id": "facts", "format": "dc+sd-jwt",
                              "meta": {"vct_values": [f"{issuer.url}/vct/jp-basic4"]},
                              "claims": [{"path": ["name"]}, {"path": ["address"]}]}]}
    url = "openid4vp://?" + urlencode({"client_id": f"redirect_uri:{response_uri}", "response_type": "vp_token",
                                       "response_mode": "direct_post", "response_uri": response_uri,
                                       "nonce": "n-by-value", "dcql_query": json.dumps(query)})
    result = issuer.wallet(wallet, "present", url, "--disclose", "name")
    assert result["status"] == 200
    presentation = json.loads(verifier.posts[-1]["vp_token"])["facts"][0]
    claims = _verify(issuer, presentation, f"redirect_uri:{response_uri}", "n-by-value").claims
    assert "name" in claims
    assert "address" not in claims  # the person chose not to give it


def test_tampered_request_object_is_refused(issuer: Provider, verifier: Verifier, wallet: Path) -> None:
    other = Verifier(issuer.url)
    url = "openid4vp://?" + urlencode({"client_id": other.client_id, "request_uri": f"{verifier.url}/request"})
    refused = issuer.wallet(wallet, "present", url, check=False)
    assert "error" in refused
    assert not verifier.posts
