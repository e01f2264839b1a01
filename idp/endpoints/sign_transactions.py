"""``POST /api/sign-transactions`` and ``GET /api/sign-transactions/{id}/result``: the Digital Agency-shaped signing
API (:mod:`idp.sign.digital_agency` holds its names, formats and our choices), protected resources (RFC 6750,
RFC 9449 §7: the one access guard of :mod:`idp.oauth.access`).

``POST``: a client-credentials access token with scope ``sign`` (a token issued to a person is
``insufficient_scope``); the JSON body names one digest or DigestInfo; 201 ``{"sign_transaction_id"}``.
``GET …/result``: the access token of the grant that signed transaction ``{id}`` (authorization request with scope
``sign`` and that ``sign_transaction_id``); 200 ``application/jose``, the JWE, once. Any other token, a second fetch,
an unknown or expired transaction: 403 ``insufficient_scope`` (RFC 6750 §3.1), the same answer (no oracle), as
``GET /sign/results`` answers. Each fetch or refusal is an audit event ``signing_results``.
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from idp.errors import InsufficientScope, InvalidRequest, OAuthError
from idp.metrics import Metrics
from idp.oauth.access import GUARD_PARAMETERS, GUARD_RESPONSES, AccessPolicy, Refused, challenge, guard
from idp.oauth.tokens import AccessToken
from idp.runtime import Services, utcnow
from idp.sign import digital_agency as da
from idp.sign.details import signing_request_of
from idp.sign.requests import SigningRequests
from idp.storage.audit import digest_ref, record
from idp.web.forms import AnyRequest
from idp.web.responses import NO_STORE, error_response
from servicekit.http import bodies
from servicekit.http import openapi as doc

_MAX_BODY: Final = 8 * 1024


def _client_token(access: AccessToken) -> None:
    """A client-credentials token (it names the client itself, no person's grant) with scope ``sign``."""
    if access.grant is not None or access.sub != access.client_id or da.SCOPE not in access.scope:
        raise InsufficientScope(f"a client_credentials access token with scope {da.SCOPE} is needed")


def _person_token(access: AccessToken) -> None:
    if access.grant is None:
        raise InsufficientScope("the access token of the person who signed is needed")


@post(da.PATH, status_code=201, request_max_body_size=_MAX_BODY, summary="Register a sign transaction",
      tags=["Signing"])
async def register(request: AnyRequest, services: NamedDependency[Services],
                   metrics: NamedDependency[Metrics]) -> Response[Any]:
    """A new sign transaction of the token's client (Digital Agency shape)."""
    try:
        access = await guard(request, services, metrics, AccessPolicy(da.PATH, check=_client_token))
    except Refused as refused:
        return refused.response
    try:
        try:
            body = await bodies.read_json(request, max_bytes=_MAX_BODY)
        except bodies.BodyError as exc:
            raise InvalidRequest(exc.description) from None
        created = await da.create_transaction(services, access.client, body, utcnow())
    except OAuthError as exc:
        return error_response(exc, metrics)
    return Response({da.TRANSACTION_ID: created.id}, status_code=201, headers=NO_STORE,
                    media_type="application/json")


@get(da.RESULT_PATH.replace("{transaction_id}", "{transaction_id:str}"), summary="The result of a sign transaction",
     tags=["Signing"])
async def result(transaction_id: FromPath[str], request: AnyRequest, services: NamedDependency[Services],
                 metrics: NamedDependency[Metrics]) -> Response[Any]:
    """The signature and certificate, encrypted to the client, once."""
    path = da.RESULT_PATH.replace("{transaction_id}", transaction_id)
    try:
        access = await guard(request, services, metrics, AccessPolicy(path, check=_person_token))
    except Refused as refused:
        return refused.response
    now, taken = utcnow(), None
    if signing_request_of(access.grant) == transaction_id:
        taken = await SigningRequests(services.objects).take_results(transaction_id, now=now)
    fetched = taken is not None and taken.request.client_id == access.client_id
    await record(services, "signing_results", now, outcome="fetched" if fetched else "refused",
                 client_id=access.client_id, request_ref=digest_ref(transaction_id))
    if taken is None or not fetched:
        return _refused(request, services, metrics, InsufficientScope(
            "no result for this access token: another transaction's, expired, or fetched already"))
    return Response(da.sealed_result(taken.results, access.client), headers=NO_STORE, media_type=da.MEDIA_TYPE)


def _refused(request: AnyRequest, services: Services, metrics: Metrics, exc: InsufficientScope) -> Response[Any]:
    """RFC 6750 §3.1 ``insufficient_scope`` (403) with the challenge of the scheme the token came with."""
    dpop_used = request.headers.get("authorization", "").lower().startswith("dpop ")
    return error_response(exc, metrics, status=403, headers={
        "WWW-Authenticate": challenge("DPoP" if dpop_used else "Bearer", services.settings, exc)})


OPENAPI: Final = {
    da.PATH: {"post": doc.operation(
        parameters=GUARD_PARAMETERS,
        body=doc.json_body(doc.obj(doc.strings(da.DIGEST, da.DIGEST_INFO, da.LABEL))),
        responses=doc.responses(
            doc.json_answer(201, "the sign transaction", doc.obj(doc.strings(da.TRANSACTION_ID),
                                                                 (da.TRANSACTION_ID,))),
            doc.oauth_error(400, description="invalid_request: not one digest or DigestInfo, or no encryption key"),
            GUARD_RESPONSES, doc.too_large()))},
    da.RESULT_PATH: {"get": doc.operation(
        parameters=GUARD_PARAMETERS,
        responses=doc.responses(
            doc.answer((200,), "the signature and certificate as a JWE (compact)", {da.MEDIA_TYPE: {"type": "string"}}),
            GUARD_RESPONSES))},
}

ROUTES: Final = (register, result)
