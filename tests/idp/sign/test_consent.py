"""The signing consent page stands for the claims consent page only when the request asks for nothing else: no
claims, no scope value but ``openid`` (and ``sign``, the Digital Agency shape's), no ``prompt=consent``."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

import idp.app  # noqa: F401 (installs the plug-ins)
from idp.clients import AuthMethod, register_client
from idp.oauth.authorization_request.validation import validate_request
from idp.oauth.consent import consent_needed
from idp.oauth.pkce import s256_challenge
from idp.settings import load_settings

SETTINGS = load_settings(environ={})
CLIENT, _ = register_client("shop", auth_method=AuthMethod.NONE, redirect_uris=["https://shop.example/cb"])
SIGN = json.dumps([{"type": "jpki_sign", "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "documentDigests": [
    {"hash": base64.b64encode(hashlib.sha256(b"contract").digest()).decode(), "label": "契約書"}]}])
NAME = json.dumps({"id_token": {"name": None}})
CLAIMS = {"name": "テスト 花子"}


@pytest.mark.parametrize(("params", "needed"), [
    ({"authorization_details": SIGN}, False),
    ({"scope": "openid", "authorization_details": SIGN, "prompt": "consent"}, True),
    ({"scope": "openid profile", "authorization_details": SIGN}, True),
    ({"authorization_details": SIGN, "claims": NAME}, True),
    ({}, True),  # no signing: the claims consent page as before
])
def test_when_the_signing_consent_is_the_consent(params: dict[str, str], needed: bool) -> None:
    request = validate_request(CLIENT, {"response_type": "code", "client_id": "shop", "scope": "openid",
                                        "redirect_uri": "https://shop.example/cb", "code_challenge_method": "S256",
                                        "code_challenge": s256_challenge("v" * 43), **params}, SETTINGS)
    assert consent_needed(request, CLAIMS, None) is needed
