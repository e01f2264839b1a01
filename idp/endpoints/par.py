"""``POST /par``: pushed authorization requests (RFC 9126), with DPoP binding of the code (RFC 9449 §10.1).

Steps: read the form (bounded, no repeated parameter), authenticate the client as at the token endpoint
(:mod:`idp.oauth.client_auth`, ``aud`` the issuer, the token endpoint or this URL), refuse ``request_uri``
(§2.1), verify a ``DPoP`` proof if one is sent, take the parameters from the request object when there is one
(RFC 9101, §3 of RFC 9126), validate them exactly as ``/authorize`` would, and store them: a single-use
``request_uri`` bound to the client, valid ``authorization.par_ttl`` (``201`` with ``request_uri`` and
``expires_in``, §2.2). A DPoP proof's key becomes the request's ``dpop_jkt``; both given, they must agree.
Errors are JSON (§2.3), never redirects.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from litestar import Response, post
from litestar.di import NamedDependency

from idp.errors import InvalidRequest
from idp.metrics import Metrics
from idp.oauth import dpop
from idp.oauth.authorization_request import MAX_REQUEST_OCTETS, AuthorizationError, push_request, validate_request
from idp.oauth.authorization_request.parameters import REQUEST_PARAMETERS
from idp.oauth.client_auth import (
    CLIENT_AUTH_FIELDS,
    CLIENT_AUTH_HEADER,
    INVALID_CLIENT,
    authenticate_client,
    endpoint_audiences,
)
from idp.oauth.dpop import dpop_proof
from idp.oauth.request_object import decode_request_object
from idp.runtime import Services, utcnow
from idp.settings import Settings
from idp.web.forms import AnyRequest, read_form
from idp.web.responses import error_response
from servicekit.http import openapi as doc

PATH: Final = "/par"
METADATA: Final = {"pushed_authorization_request_endpoint": PATH}


def feature_metadata(settings: Settings) -> dict[str, Any]:
    """RFC 9126 §5: whether every client must push its requests."""
    return {"require_pushed_authorization_requests": settings.authorization.require_par}


@post(PATH, status_code=201, request_max_body_size=MAX_REQUEST_OCTETS, summary="Pushed authorization request",
      tags=["OAuth 2.0"])
async def par(
    request: AnyRequest, services: NamedDependency[Services], metrics: NamedDependency[Metrics]
) -> Response[dict[str, Any]]:
    """Push an authorization request (RFC 9126 §2.1); answers its ``request_uri`` (§2.2)."""
    form = await read_form(request)
    now = utcnow()
    client = await authenticate_client(form=form, authorization=request.headers.get("authorization"),
                                       services=services, audiences=endpoint_audiences(services.settings, PATH),
                                       now=now)
    if "request_uri" in form:
        raise InvalidRequest("request_uri cannot be pushed (RFC 9126 §2.1)")
    try:
        proof = await dpop_proof(request, services, path=PATH)
    except dpop.UseDpopNonce as exc:
        return error_response(exc, metrics, headers={"DPoP-Nonce": exc.nonce})
    params: dict[str, Any] = form
    if "request" in form:
        params = await decode_request_object(form["request"], client=client, services=services, now=now)
    try:
        pushed = validate_request(client, params, services.settings)
    except AuthorizationError as exc:
        raise exc.error from None
    if proof is not None:
        if pushed.dpop_jkt is not None and pushed.dpop_jkt != proof.jkt:
            raise InvalidRequest("dpop_jkt does not match the key of the DPoP proof (RFC 9449 §10.1)")
        pushed = dataclasses.replace(pushed, dpop_jkt=proof.jkt)
    request_uri, expires_in = await push_request(services, pushed, now)
    headers = {"Cache-Control": "no-store"}
    if proof is not None:
        headers["DPoP-Nonce"] = await dpop.current_nonce(services, now)
    return Response({"request_uri": request_uri, "expires_in": expires_in}, status_code=201, headers=headers,
                    media_type="application/json")


OPENAPI: Final = {PATH: {"post": doc.operation(
    parameters=[CLIENT_AUTH_HEADER, doc.DPOP],
    body=doc.form_body({**doc.strings(*REQUEST_PARAMETERS), "request_uri": {"not": {}}, **CLIENT_AUTH_FIELDS}),
    responses=doc.responses(
        doc.json_answer(201, "the request_uri (RFC 9126 §2.2)",
                        doc.obj({"request_uri": {"type": "string"}, "expires_in": {"type": "integer"}},
                                ("request_uri", "expires_in")), headers=doc.DPOP_NONCE),
        doc.oauth_error(400, 403, 503, description="the request is refused (RFC 9126 §2.3)",
                        headers=doc.DPOP_NONCE),
        INVALID_CLIENT, doc.too_large()))}}

ROUTES: Final = (par,)

__all__ = ["METADATA", "PATH", "ROUTES", "feature_metadata", "par"]
