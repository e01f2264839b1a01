"""Signing requests at the protocol edges, in process: malformed ``jpki_sign`` details pushed to PAR are
``invalid_authorization_details`` (RFC 9396 §5) and nothing is stored; the results resource (``GET /sign/results``)
answers the token of the signing grant once, and refuses another person's token and every later fetch with an
RFC 6750 error (``insufficient_scope``, 403, with a challenge)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from cardreader.documents import digest_infos, document_signatures, parse_documents
from idp.sign.card import challenge_documents
from idp.sign.requests import Document, DocumentSignature, SigningRequests, SigningResults
from keys.cms.digest_info import HashAlgorithm, encode_digest_info
from keys.testpki import TestPki
from tests.idp.protocol.conftest import authorization_params
from tests.idp.protocol.tokenkit import Provider, Rp, utcnow
from tests.support.cms import SoftwareCard

SHA256 = "2.16.840.1.101.3.4.2.1"


def _details(**entry: object) -> str:
    digest = base64.b64encode(hashlib.sha256(b"contract").digest()).decode()
    return json.dumps([{"type": "jpki_sign", "hashAlgorithmOID": SHA256,
                        "documentDigests": [{"hash": digest, "label": "契約書"}], **entry}])


@pytest.mark.parametrize("details", [
    _details(hashAlgorithmOID="1.3.14.3.2.26"),
    json.dumps([{"type": "jpki_sign", "hashAlgorithmOID": SHA256,
                 "documentDigests": [{"hash": base64.b64encode(b"\x00" * 20).decode(), "label": "x"}]}]),
    _details(documentDigests=[{"hash": base64.b64encode(b"\x00" * 32).decode(), "label": f"d{i}"}
                              for i in range(11)]),
    _details(documentDigests=[{"hash": base64.b64encode(b"\x00" * 32).decode(), "label": "x" * 101}]),
    _details(extra=True),
])
def test_bad_signing_details_are_refused_at_par(op: Provider, rp_basic: Rp, details: str) -> None:
    form, headers = rp_basic.auth(authorization_params(rp_basic.client_id, secrets.token_urlsafe(48),
                                                       authorization_details=details))
    response = op.http.post("/par", data=form, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_authorization_details"


def test_a_well_formed_signing_request_is_pushed(op: Provider, rp_basic: Rp) -> None:
    form, headers = rp_basic.auth(authorization_params(rp_basic.client_id, secrets.token_urlsafe(48),
                                                       authorization_details=_details()))
    assert op.http.post("/par", data=form, headers=headers).status_code == 201


def _signed_results(op: Provider, client_id: str) -> str:
    """A granted signing request of ``client_id`` with real card-shaped signatures; returns its id."""
    now = utcnow().replace(microsecond=0)
    card = TestPki.generate().issue_card(now=now - dt.timedelta(days=1))
    assert card.sign_key is not None
    assert card.sign_certificate is not None
    signer = SoftwareCard(card.sign_key, card.sign_certificate)
    certificate = signer.certificate.public_bytes(Encoding.DER)
    digest = hashlib.sha256(b"contract").digest()
    document = Document("契約書", "sha256", digest, encode_digest_info(HashAlgorithm.SHA256, digest))

    async def store() -> str:
        requests = SigningRequests(op.services.objects)
        request = await requests.create(client_id, [document], expires_at=now + dt.timedelta(minutes=5))
        bound = await requests.bind(request.id, client_id=client_id, interaction="uid", now=now)
        assert bound is not None
        approved = await requests.approve(bound, now=now)
        shown = parse_documents(challenge_documents(approved))
        signed = [signer.sign_digest_info(d) for d in digest_infos(b"\x30" * 51, shown, certificate, now)]
        posted = document_signatures(signed[1:], now)
        signature = DocumentSignature(base64.urlsafe_b64decode(str(posted[0]["raw"]) + "=="),
                                      base64.urlsafe_b64decode(str(posted[0]["cms"]) + "=="), now)
        await requests.record_results(approved, SigningResults((signature,), certificate, "a.b.c", now), now=now)
        await requests.grant(request.id, expires_at=now + dt.timedelta(hours=1), now=now)
        return request.id
    return op.call(store)


def _token(op: Provider, rp: Rp, signing_request: str | None = None) -> str:
    issued = op.code(rp)
    if signing_request is not None:
        async def name_it() -> None:
            grant = await op.services.objects.find("Grant", issued.grant_id, now=utcnow())
            assert grant is not None
            await op.services.objects.upsert("Grant", issued.grant_id, {**grant.payload,
                                                                        "signing_request": signing_request},
                                             grant.expires_at, grant_id=issued.grant_id)
        op.call(name_it)
    response = op.redeem(rp, issued)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def test_results_once_and_only_for_the_signing_grant(op: Provider, rp_public: Rp) -> None:
    request_id = _signed_results(op, rp_public.client_id)
    someone_else = _token(op, rp_public)
    refused = op.http.get("/sign/results", headers={"Authorization": f"Bearer {someone_else}"})
    assert (refused.status_code, refused.json()["error"]) == (403, "insufficient_scope")
    assert refused.headers["www-authenticate"].startswith("Bearer ")
    owner = _token(op, rp_public, request_id)
    first = op.http.get("/sign/results", headers={"Authorization": f"Bearer {owner}"})
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "no-store"
    body = first.json()
    assert body["signing_request"] == request_id
    assert [d["label"] for d in body["documents"]] == ["契約書"]
    second = op.http.get("/sign/results", headers={"Authorization": f"Bearer {owner}"})
    assert (second.status_code, second.json()["error"]) == (403, "insufficient_scope")
    assert op.http.get("/sign/results").status_code == 401
