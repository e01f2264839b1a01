"""The verifier service's HTTP interface (litestar): the relying-party API and the Wallet endpoints.

Relying-party API (JSON; ``Authorization: Bearer <rp.api_keys entry>``; errors are RFC 9457 problem details with
a ``reason``):

* ``POST /rp/requests`` — create a presentation request. Body: ``dcql_query`` (required), ``response_mode``
  (``direct_post.jwt`` | ``direct_post``), ``request_method`` (``request_uri`` | ``value``), ``redirect_uri``
  (same-device flows: one of ``rp.redirect_uris``). ``201``: ``transaction_id`` (secret: keep it in the
  person's session), ``request_id``, ``client_id``, ``response_mode``, ``expires_at``, ``same_device``,
  ``authorization_request`` (the parameters) and ``wallet_url`` (link or QR code content).
* ``POST /rp/results`` — body ``transaction_id`` and, for a verified same-device result, ``response_code``.
  ``202 {"status": "pending"}`` until the Wallet answers; then once ``200 {"status": "verified",
  "credentials": {query id: [{vct, iss, claims, key_binding, status_checked, exp}]}}`` or ``200 {"status":
  "rejected", "reason", "detail"}``; afterwards ``404 unknown_transaction``.

Wallet endpoints (OpenID4VP 1.0; errors are ``{"error", "error_description"}`` with the reason code):

* ``GET|POST /wallet/requests/{request_id}`` — the signed Request Object (``application/oauth-authz-req+jwt``;
  POST takes ``wallet_metadata`` and ``wallet_nonce``, §5.10);
* ``POST /wallet/responses/{request_id}`` — the ``response_uri`` (``direct_post`` / ``direct_post.jwt``):
  ``200`` with ``redirect_uri`` (same-device) or ``{}`` (also for a Wallet error response, §8.2); ``400`` with
  the reason of a refused presentation or an unknown, expired or already answered request.

``GET /healthz`` answers ``{"status": "ok"}``. Every answer is ``Cache-Control: no-store``. The OpenAPI document is
``GET /schema/openapi.json`` (:data:`OPENAPI`).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any, Final

from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.params import FromPath

from credentials.oid4vp.errors import PresentationError, VerifierReason
from credentials.oid4vp.request import REQUEST_OBJECT_TYP
from credentials.verifier.runtime import build_service
from credentials.verifier.service import Reply, VerifierService
from credentials.verifier.settings import Settings, load_settings
from servicekit.http import bodies
from servicekit.http import openapi as doc
from servicekit.http.errors import NO_STORE, challenge, exception_handlers, oauth_error_response, problem_response
from servicekit.http.options import options_answer

#: Largest request body accepted (a direct_post.jwt response with several presentations fits easily).
MAX_BODY: Final = 1024 * 1024
_STATUS: Final[dict[str, int]] = {
    VerifierReason.UNKNOWN_TRANSACTION: 404, VerifierReason.TRANSACTION_EXPIRED: 410,
    VerifierReason.RESPONSE_CODE_MISMATCH: 403, VerifierReason.UNAUTHORISED: 401,
    VerifierReason.ALREADY_RESPONDED: 400, VerifierReason.INTERNAL_ERROR: 500,
}
_log = logging.getLogger("credentials.verifier")


def _service(request: Request[Any, Any, Any]) -> VerifierService:
    service: VerifierService = request.app.state.service
    return service


def _json(reply: Reply) -> Response[Any]:
    return Response(dict(reply.body), status_code=reply.status, headers=NO_STORE)


def _problem(exc: PresentationError) -> Response[Any]:
    status = _STATUS.get(exc.reason.value, 400)
    headers = {"WWW-Authenticate": challenge("Bearer", realm="verifier")} if status == 401 else None
    return problem_response(status, headers=headers, extensions=exc.as_dict())


def _wallet_error(exc: PresentationError) -> Response[Any]:
    status = _STATUS.get(exc.reason.value, 400)
    return oauth_error_response("server_error" if status >= 500 else "invalid_request", exc.reason.value, status)


def _authorise(request: Request[Any, Any, Any]) -> None:
    keys = _service(request).settings.api_keys
    if not keys:
        return  # test mode only (settings refuse an empty list otherwise)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not any(hmac.compare_digest(token.encode(), k.encode()) for k in keys):
        raise PresentationError(VerifierReason.UNAUTHORISED, "a valid relying-party API key is required")


async def _json_body(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The body: one JSON object (its media type is not checked: relying parties send it as they like)."""
    try:
        return bodies.parse_json(await request.body(), max_bytes=MAX_BODY)
    except bodies.BodyError as exc:
        raise PresentationError(VerifierReason.INVALID_REQUEST, exc.description) from None


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (UTF-8), each parameter at most once."""
    try:
        return await bodies.read_form(request, max_bytes=MAX_BODY, max_fields=32)
    except bodies.BodyError as exc:
        raise PresentationError(VerifierReason.INVALID_REQUEST, exc.description) from None


@post("/rp/requests", status_code=201, request_max_body_size=MAX_BODY, summary="Create a presentation request",
      tags=["Relying-party API"])
async def create_request(request: Request[Any, Any, Any]) -> Response[Any]:
    """Create a presentation request (relying-party API)."""
    try:
        _authorise(request)
        return _json(await _service(request).create_request(await _json_body(request)))
    except PresentationError as exc:
        return _problem(exc)


@post("/rp/results", status_code=200, request_max_body_size=MAX_BODY, summary="Fetch a result, once",
      tags=["Relying-party API"])
async def fetch_result(request: Request[Any, Any, Any]) -> Response[Any]:
    """Fetch a transaction's result, once (relying-party API)."""
    try:
        _authorise(request)
        body = await _json_body(request)
        transaction_id, code = body.get("transaction_id"), body.get("response_code")
        if not isinstance(transaction_id, str) or (code is not None and not isinstance(code, str)):
            raise PresentationError(VerifierReason.INVALID_REQUEST, "transaction_id (and response_code) are strings")
        return _json(await _service(request).result(transaction_id, code))
    except PresentationError as exc:
        return _problem(exc)


async def _request_object(request: Request[Any, Any, Any], request_id: str, wallet_nonce: str | None
                          ) -> Response[Any]:
    try:
        jwt = await _service(request).request_object(request_id, wallet_nonce=wallet_nonce)
    except PresentationError as exc:
        return _wallet_error(exc)
    return Response(jwt, headers=NO_STORE, media_type=f"application/{REQUEST_OBJECT_TYP}")


@get("/wallet/requests/{request_id:str}", summary="The Request Object", tags=["Wallet"])
async def get_request_object(request: Request[Any, Any, Any], request_id: FromPath[str]) -> Response[Any]:
    """The Request Object by reference (RFC 9101 §5.2)."""
    return await _request_object(request, request_id, None)


@post("/wallet/requests/{request_id:str}", status_code=200, request_max_body_size=64 * 1024,
      summary="The Request Object, with the Wallet's nonce", tags=["Wallet"])
async def post_request_object(request: Request[Any, Any, Any], request_id: FromPath[str]) -> Response[Any]:
    """The Request Object for ``request_uri_method=post`` (OpenID4VP 1.0 §5.10), with the Wallet's nonce."""
    try:
        form = await _form(request)
    except PresentationError as exc:
        return _wallet_error(exc)
    nonce = form.get("wallet_nonce")
    if nonce is not None and not (0 < len(nonce) <= 256 and nonce.isascii() and nonce.isprintable()):
        return _wallet_error(PresentationError(VerifierReason.INVALID_REQUEST, "wallet_nonce is not a short string"))
    return await _request_object(request, request_id, nonce)


@post("/wallet/responses/{request_id:str}", status_code=200, request_max_body_size=MAX_BODY,
      summary="The Wallet's response (response_uri)", tags=["Wallet"])
async def wallet_response(request: Request[Any, Any, Any], request_id: FromPath[str]) -> Response[Any]:
    """The ``response_uri`` (OpenID4VP 1.0 §8.2, §8.3)."""
    try:
        return _json(await _service(request).respond(request_id, await _form(request)))
    except PresentationError as exc:
        return _wallet_error(exc)


@get("/healthz", summary="Liveness", tags=["Operations"])
async def healthz() -> Response[Any]:
    """Liveness."""
    return Response({"status": "ok"}, headers=NO_STORE)


_RP_KEY: Final = {**doc.AUTHORIZATION_BEARER, "description": "Bearer <an rp.api_keys entry>"}
_RP_ERRORS: Final = doc.responses(
    doc.problem(400, 403, 404, 410, description="refused, with its reason (credentials/oid4vp/errors.py)"),
    doc.problem(401, description="no valid relying-party API key", headers={"WWW-Authenticate": "a Bearer challenge"}),
    doc.too_large())
_WALLET_ERRORS: Final = doc.oauth_error(400, 403, 404, 410, description="refused: error_description is the reason code")
_REQUEST_OBJECT: Final = doc.responses(
    doc.answer((200,), "the signed Request Object (RFC 9101 §5.2)",
           {f"application/{REQUEST_OBJECT_TYP}": {"type": "string"}}), _WALLET_ERRORS)
_STATUS_SCHEMA: Final = {"type": "string", "enum": ["pending", "verified", "rejected"]}
#: The OpenAPI description of each operation (:mod:`servicekit.http.openapi`).
OPENAPI: Final = {
    "/rp/requests": {"post": doc.operation(parameters=[_RP_KEY], body=doc.json_body(doc.obj({
        "dcql_query": {"type": "object"},
        "response_mode": {"type": "string", "enum": ["direct_post.jwt", "direct_post"]},
        "request_method": {"type": "string", "enum": ["request_uri", "value"]},
        "redirect_uri": {"type": "string"}}, ("dcql_query",))), responses=doc.responses(
        doc.json_answer(201, "the presentation request", doc.obj({
            **doc.strings("transaction_id", "request_id", "client_id", "response_mode", "wallet_url"),
            "expires_at": {"type": "integer"}, "same_device": {"type": "boolean"},
            "authorization_request": {"type": "object"}}, ("transaction_id", "request_id", "wallet_url"))),
        _RP_ERRORS))},
    "/rp/results": {"post": doc.operation(parameters=[_RP_KEY], body=doc.json_body(doc.obj(
        doc.strings("transaction_id", "response_code"), ("transaction_id",))), responses=doc.responses(
        doc.json_answer(200, "the result, once: verified (with the credentials) or rejected (with the reason)",
                    doc.obj({"status": _STATUS_SCHEMA, "credentials": {"type": "object"}}, ("status",))),
        doc.json_answer(202, "no answer from the Wallet yet", doc.obj({"status": _STATUS_SCHEMA}, ("status",))),
        _RP_ERRORS))},
    "/wallet/requests/{request_id}": {
        "get": doc.operation(responses=_REQUEST_OBJECT),
        "post": doc.operation(body=doc.form_body(doc.strings("wallet_metadata", "wallet_nonce"), optional=True),
                          responses=doc.responses(_REQUEST_OBJECT, doc.too_large())),
    },
    "/wallet/responses/{request_id}": {"post": doc.operation(
        body=doc.form_body(doc.strings("response", "vp_token", "state", "error", "error_description")),
        responses=doc.responses(
            doc.json_answer(200, "accepted: redirect_uri for same-device flows (OpenID4VP 1.0 §8.2)",
                            doc.obj(doc.strings("redirect_uri"))),
            _WALLET_ERRORS, doc.too_large()))},
    "/healthz": {"get": doc.operation(responses=doc.json_answer(200, "alive", doc.obj(doc.strings("status"),
                                                                                      ("status",))))},

}


def create_app(settings: Settings) -> Litestar:
    """The verifier service for ``settings`` (the files they name are read here; :func:`runtime.prepare` ran)."""
    service, close = build_service(settings)

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await close()

    return Litestar(
        route_handlers=[create_request, fetch_result, get_request_object, post_request_object, wallet_response,
                        healthz],
        lifespan=[lifespan], state=State({"service": service}), exception_handlers=exception_handlers(_log),
        openapi_config=OpenAPIConfig(title="mynacard-id verifier", version=version("mynacard-id"), path="/schema",
                                     render_plugins=[doc.DescribedJsonRenderPlugin(OPENAPI)]),
        logging_config=None, before_request=options_answer,
    )


def app_from_environment() -> Litestar:
    """Factory for uvicorn workers: settings from ``$MYNACARD_VERIFIER_CONFIG`` and ``MYNACARD_VERIFIER_*``."""
    return create_app(load_settings())
