"""The Digital Agency's signing shape (デジタル認証アプリ), so that a relying party written for it can switch by
changing its issuer; every choice of ours where its public documentation is silent is here, in one place, to follow
the Digital Agency's once published.

Flow: the client registers a sign transaction with a client-credentials access token (scope ``sign``)::

    POST /api/sign-transactions   {"digest": "<base64 SHA-256>", "label": "契約書"}   → 201 {"sign_transaction_id": …}

then sends the person to ``/authorize`` with scope ``sign`` and ``sign_transaction_id`` (the request becomes a
``jpki_sign`` request bound to that transaction: :func:`bind_transaction`, once), redeems the code, and fetches
the result with the person's access token, once::

    GET /api/sign-transactions/{id}/result   → 200 application/jose: a JWE to the client's encryption key

======================================  ============================================  ==============================
item                                    ours                                          documented (reference note §1)
======================================  ============================================  ==============================
POST body: bare digest                  ``digest``: standard base64 (RFC 4648 §4,     "base64.StdEncoding(SHA-256)";
                                        padded) of a SHA-256 digest                    field name not published
POST body: DigestInfo form              ``digest_info``: standard base64 of a DER     "DER DigestInfo (SHA-256,
                                        DigestInfo (SHA-256/384/512, NULL params)      NULL)"; field not published
POST body: label                        ``label`` (optional; 1–100 characters,        none (no labels)
                                        shown on the consent page and the PIN pad;
                                        default :data:`DEFAULT_LABEL`)
POST body: anything else                ``invalid_request``                           —
POST answer                             201 ``{"sign_transaction_id": uuid}``         id is a UUID; member name
                                                                                       unverified
transaction lifetime                    ``signing.request_ttl`` (600 s by default)    not published
token for POST                          client_credentials, scope ``sign``,           client_credentials
                                        confidential client                           (private_key_jwt)
authorization request                   scope ``sign`` + ``sign_transaction_id``      same
                                        (same client, unexpired, single use)
result                                  200, ``application/jose``, JWE compact        "JWE with signature data and
                                                                                       certificate"
JWE alg                                 ``ECDH-ES`` for an EC P-256 key,              not published
                                        ``RSA-OAEP-256`` for an RSA key
JWE enc                                 ``A256GCM``                                   not published
JWE key                                 the client's registered ``jwks`` key with     registered by application form
                                        ``"use": "enc"`` (its ``kid`` in the header)
JWE payload                             ``{"signature": base64 PKCS#1 v1.5 over the   "signature and certificate"
                                        DigestInfo, "certificate": base64 DER}``
                                        (standard base64)
errors of the API (JSON, RFC 6749       401 ``invalid_token`` / 403                   not published
§5.2 shape)                             ``insufficient_scope`` (RFC 6750 §3.1),
                                        400 ``invalid_request`` (body); for the
                                        result, 403 ``insufficient_scope`` also
                                        when there is none for the token (unknown,
                                        expired, another person's, fetched already)
errors of the authorization request     ``invalid_request`` to the redirect URI       not published
                                        (RFC 6749 §4.1.2.1): another client's,
                                        unknown, expired or replayed transaction
                                        (one description for all), ``sign``
                                        without the id or the id without ``sign``
======================================  ============================================  ==============================

The certificate in the JWE is the signer's: the business needs it to verify the signature (or hands it to a
platform operator), and may not keep it afterwards as a service provider. The provider keeps the result only until
it is fetched (:meth:`idp.sign.requests.SigningRequests.take_results`).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, Final

from joserfc import jwe
from joserfc.jwk import ECKey, RSAKey

from idp.clients import Client
from idp.errors import InvalidRequest
from idp.oauth.authorization_request import AuthorizationRequest
from idp.oauth.authorization_request.details import InvalidAuthorizationDetailsError
from idp.oauth.authorization_request.sign_transaction import JPKI_SIGN, SIGN_SCOPE, transaction_of
from idp.runtime import Services
from idp.sign.details import documents_of
from idp.sign.requests import SigningRequest, SigningRequests, SigningResults
from keys.cms.digest_info import HashAlgorithm

PATH: Final = "/api/sign-transactions"
RESULT_PATH: Final = PATH + "/{transaction_id}/result"
SCOPE: Final = SIGN_SCOPE
DIGEST: Final = "digest"
DIGEST_INFO: Final = "digest_info"
LABEL: Final = "label"
TRANSACTION_ID: Final = "sign_transaction_id"
DEFAULT_LABEL: Final = "署名対象データ"
ENC: Final = "A256GCM"
MEDIA_TYPE: Final = "application/jose"
#: The key-management algorithm for each kind of client encryption key.
ALGORITHMS: Final = {"EC": "ECDH-ES", "RSA": "RSA-OAEP-256"}


class NoEncryptionKey(InvalidRequest):
    """The client registered no key to encrypt the result to."""

    def __init__(self) -> None:
        super().__init__("register a jwks key with use enc (EC P-256 or RSA) to receive sign results")


def _entry(body: Mapping[str, Any]) -> dict[str, Any]:
    """The ``jpki_sign`` entry (:mod:`idp.sign.details`) the POST body stands for."""
    unknown = set(body) - {DIGEST, DIGEST_INFO, LABEL}
    if unknown:
        raise InvalidRequest(f"unknown member {sorted(unknown)[0][:64]!r}")
    label = body.get(LABEL, DEFAULT_LABEL)
    if (DIGEST in body) == (DIGEST_INFO in body):
        raise InvalidRequest(f"exactly one of {DIGEST} and {DIGEST_INFO}")
    if DIGEST in body:
        return {"type": JPKI_SIGN, "hashAlgorithmOID": HashAlgorithm.SHA256.oid,
                "documentDigests": [{"hash": body[DIGEST], "label": label}]}
    return {"type": JPKI_SIGN, "documentDigestInfos": [{"digestInfo": body[DIGEST_INFO], "label": label}]}


def encryption_key(client: Client) -> ECKey | RSAKey:
    """The client's registered encryption key (``use`` ``enc``; EC P-256 or RSA), or :class:`NoEncryptionKey`."""
    for key in (client.jwks or {}).get("keys") or ():
        if not isinstance(key, Mapping) or key.get("use") != "enc":
            continue
        if key.get("kty") == "EC" and key.get("crv") == "P-256":
            return ECKey.import_key(dict(key))
        if key.get("kty") == "RSA":
            return RSAKey.import_key(dict(key))
    raise NoEncryptionKey


async def create_transaction(services: Services, client: Client, body: object, now: dt.datetime) -> SigningRequest:
    """Register the sign transaction the POST ``body`` describes for ``client`` (``invalid_request`` for a body
    that is not one, or a client with no encryption key)."""
    if not isinstance(body, Mapping):
        raise InvalidRequest("the body is a JSON object")
    encryption_key(client)
    try:
        documents = documents_of(_entry(body))
    except InvalidAuthorizationDetailsError as exc:
        raise InvalidRequest(exc.description.removeprefix("jpki_sign: ")) from None
    return await SigningRequests(services.objects).create(
        client.client_id, documents, expires_at=now + dt.timedelta(seconds=services.settings.signing.request_ttl))


async def bind_transaction(services: Services, request: AuthorizationRequest, interaction: str,
                           now: dt.datetime) -> SigningRequest | None:
    """Bind the sign transaction ``request`` names (if any) to its interaction, once: ``invalid_request`` when it
    is unknown, expired, another client's or used before (one answer for all: no oracle for other clients'
    transactions)."""
    transaction = transaction_of(request.authorization_details)
    if transaction is None:
        return None
    bound = await SigningRequests(services.objects).bind(transaction, client_id=request.client_id,
                                                         interaction=interaction, now=now)
    if bound is None:
        raise InvalidRequest("sign_transaction_id is unknown, expired or used already")
    return bound


def sealed_result(results: SigningResults, client: Client) -> str:
    """The result as a JWE compact serialization to ``client``'s encryption key (see the table above)."""
    key = encryption_key(client)
    payload = {"signature": base64.b64encode(results.signatures[0].raw).decode("ascii"),
               "certificate": base64.b64encode(results.certificate).decode("ascii")}
    alg = ALGORITHMS[key.key_type]
    protected = {"alg": alg, "enc": ENC, "cty": "json", **({"kid": key.kid} if key.kid else {})}
    return jwe.encrypt_compact(protected, json.dumps(payload, separators=(",", ":")).encode("utf-8"), key,
                               registry=jwe.JWERegistry(algorithms=[alg, ENC]))


__all__ = ["ALGORITHMS", "DEFAULT_LABEL", "DIGEST", "DIGEST_INFO", "ENC", "LABEL", "MEDIA_TYPE", "PATH", "RESULT_PATH",
           "SCOPE", "TRANSACTION_ID", "NoEncryptionKey", "bind_transaction",
           "create_transaction", "encryption_key", "sealed_result"]
