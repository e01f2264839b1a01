"""The document limits are the deployment's ``[signing]`` settings (``max_documents``, ``max_label_chars``), in
both ways in, over real HTTP (``idp serve`` on loopback): a ``jpki_sign`` request pushed with PAR (RFC 9126; RFC 9396
§5 ``invalid_authorization_details``) and the Digital Agency-shaped ``POST /api/sign-transactions``
(``invalid_request``). Within the narrowed limits both are accepted; one over, each is refused."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterator

import httpx
import pytest

from idp.oauth.pkce import s256_challenge
from tests.idp.protocol.tokenkit import REDIRECT_URI

from .test_digital_agency_http import Api, running_api

pytestmark = pytest.mark.slow
SHA256 = "2.16.840.1.101.3.4.2.1"
DIGEST = base64.b64encode(hashlib.sha256(b"contract").digest()).decode()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with running_api(tmp_path_factory.mktemp("limits"), MYNACARD_SIGNING_MAX_DOCUMENTS="2",
                     MYNACARD_SIGNING_MAX_LABEL_CHARS="8") as running:
        yield running


def _push(api: Api, *labels: str) -> httpx.Response:
    rp = api.rps["rp"]
    details = [{"type": "jpki_sign", "hashAlgorithmOID": SHA256,
                "documentDigests": [{"hash": DIGEST, "label": label} for label in labels]}]
    return httpx.post(f"{api.url}/par", auth=rp.basic(), data={
        "response_type": "code", "client_id": rp.client_id, "redirect_uri": REDIRECT_URI, "scope": "openid",
        "code_challenge": s256_challenge(secrets.token_urlsafe(48)), "code_challenge_method": "S256",
        "authorization_details": json.dumps(details)})


@pytest.mark.parametrize(("labels", "refused"), [
    (("契約書 第12号", "申込書"), None),  # 2 documents, 8 characters
    (("a", "b", "c"), "jpki_sign: documentDigests is an array of 1 to 2 objects"),
    (("契約書 第123号",), "jpki_sign: a label is 1 to 8 characters"),
])
def test_a_pushed_request_within_the_limits(api: Api, labels: tuple[str, ...], refused: str | None) -> None:
    answer = _push(api, *labels)
    if refused is None:
        assert answer.status_code == 201, answer.text
    else:
        assert answer.status_code == 400, answer.text
        assert answer.json() == {"error": "invalid_authorization_details", "error_description": refused}


@pytest.mark.parametrize(("label", "status"), [("契約書 第12号", 201), ("契約書 第123号", 400)])
def test_a_sign_transaction_label_within_the_limit(api: Api, label: str, status: int) -> None:
    answer = api.register(api.client_token(api.rps["rp"]), {"digest": DIGEST, "label": label})
    assert answer.status_code == status, answer.text
    if status == 400:
        assert answer.json()["error"] == "invalid_request"
        assert answer.json()["error_description"] == "a label is 1 to 8 characters"
