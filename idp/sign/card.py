"""The card step of a signing interaction: what the challenge hands the agent, and the checks of what it posts.

The card-login contract (:mod:`idp.endpoints.card_login`) gains, for an interaction with an APPROVED signing request
only (:mod:`idp.sign.requests`):

* in the challenge answer, ``"documents": [{"label", "hash_algorithm", "digest", "profile", "raw_digest_info"}]``
  (:func:`challenge_documents`; digests and DigestInfo base64url): exactly the documents the person approved on the
  consent page, nothing else; the key is then ``sign``;
* in the response, ``"document_signatures": [{"raw", "cms", "signing_time"}]`` in document order
  (:mod:`idp.sign.verify`); :func:`complete_signing` verifies them, signs the verification record and records the
  results on the request, or raises: nothing is recorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from idp.runtime import Services
from idp.sign.record import record_claims, revocation_reference, sign_record
from idp.sign.requests import SigningRequest, SigningRequests, SigningResults
from idp.sign.verify import parse_posted, verify_documents
from keys.jose.b64 import b64url_encode


def challenge_documents(request: SigningRequest) -> list[dict[str, str]]:
    """The approved documents as the challenge answer lists them."""
    return [{"label": d.label, "hash_algorithm": d.hash_algorithm, "digest": b64url_encode(d.digest),
             "profile": d.profile, "raw_digest_info": b64url_encode(d.digest_info)} for d in request.documents]


async def complete_signing(services: Services, request: SigningRequest, certificate: bytes, posted: object, *,
                           issued_at: dt.datetime, revocation: Mapping[str, Any], now: dt.datetime) -> SigningResults:
    """Verify ``posted`` (the response's ``document_signatures``) against the approved documents and the login's
    verified ``certificate``, sign the verification record and record the results on ``request``. Raises
    :class:`keys.errors.VerificationError` or :class:`ValueError`; then nothing is recorded."""
    if request.state != "approved":
        raise ValueError("the documents were not approved")
    signatures = verify_documents(request.documents, certificate, parse_posted(posted, len(request.documents)),
                                  not_before=issued_at, now=now)
    claims = record_claims(issuer=services.settings.issuer, client_id=request.client_id, request_id=request.id,
                           documents=request.documents, signatures=signatures, certificate=certificate,
                           revocation=revocation_reference(revocation), at=now,
                           keep_certificate=services.settings.signing.keep_certificates)
    results = SigningResults(signatures, certificate, await sign_record(services, claims, now), now)
    await SigningRequests(services.objects).record_results(request, results, now=now)
    return results


__all__ = ["challenge_documents", "complete_signing"]
