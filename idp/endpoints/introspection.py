"""``POST /introspect``: token introspection (RFC 7662) for authenticated clients.

A client sees its own access and refresh tokens; the clients listed in ``tokens.introspection_clients``
(resource servers) see every client's. Anything expired, revoked, rotated, unknown or not visible to the
caller is ``{"active": false}`` and nothing more (RFC 7662 §2.2). Public clients cannot introspect: the
endpoint needs real client authentication (§2.1).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from litestar import Response, post
from litestar.di import NamedDependency

from idp.clients import AuthMethod
from idp.errors import InvalidClient, InvalidRequest
from idp.oauth.client_auth import (
    CLIENT_AUTH_FIELDS,
    CLIENT_AUTH_HEADER,
    INVALID_CLIENT,
    authenticate_client,
    endpoint_audiences,
)
from idp.oauth.refresh import RefreshToken, find_token
from idp.oauth.scope import format_scope
from idp.oauth.tokens import GRANT_KIND, AccessToken
from idp.runtime import Services, utcnow
from idp.web.forms import MAX_FORM_BODY, AnyRequest, read_form
from idp.web.responses import NO_STORE
from servicekit.http import openapi as doc

PATH: Final = "/introspect"
METADATA: Final = {"introspection_endpoint": PATH}
#: Access-token claims an introspection response repeats (RFC 7662 §2.2, RFC 9068 §2.2, RFC 9449 §6.2).
_ACCESS_MEMBERS: Final = ("iss", "sub", "aud", "client_id", "scope", "iat", "exp", "jti", "auth_time", "acr", "amr",
                          "cnf")


def _access_response(token: AccessToken) -> dict[str, Any]:
    body: dict[str, Any] = {"active": True, "token_type": token.token_type}
    body.update({name: token.claims[name] for name in _ACCESS_MEMBERS if name in token.claims})
    return body


async def _refresh_response(services: Services, token: RefreshToken, now: dt.datetime) -> dict[str, Any]:
    if token.consumed_at is not None or await services.objects.find(
            GRANT_KIND, token.authorization.grant_id, now=now) is None:
        return {"active": False}
    return {"active": True, "client_id": token.client_id, "sub": token.authorization.sub,
            "scope": format_scope(token.authorization.scope), "exp": int(token.expires_at.timestamp()),
            "iss": services.settings.issuer}


@post(PATH, status_code=200, request_max_body_size=MAX_FORM_BODY, summary="Token introspection",
      tags=["OAuth 2.0"])
async def introspect(request: AnyRequest, services: NamedDependency[Services]) -> Response[dict[str, Any]]:
    """Whether a token is active, and its meta-information (RFC 7662 §2)."""
    form = await read_form(request)
    now = utcnow()
    client = await authenticate_client(form=form, authorization=request.headers.get("authorization"),
                                       services=services, audiences=endpoint_audiences(services.settings, PATH),
                                       now=now)
    if client.auth_method is AuthMethod.NONE:
        raise InvalidClient("introspection needs client authentication (RFC 7662 §2.1)")
    value = form.get("token")
    if value is None:
        raise InvalidRequest("token is required")
    found = await find_token(services, value, now)
    body: dict[str, Any] = {"active": False}
    if found is not None and (found.client_id == client.client_id
                              or client.client_id in services.settings.tokens.introspection_clients):
        body = _access_response(found) if isinstance(found, AccessToken) else await _refresh_response(
            services, found, now)
    return Response(body, headers=NO_STORE, media_type="application/json")


OPENAPI: Final = {PATH: {"post": doc.operation(
    parameters=[CLIENT_AUTH_HEADER],
    body=doc.form_body({**doc.strings("token", "token_type_hint"), **CLIENT_AUTH_FIELDS}, ("token",)),
    responses=doc.responses(
        doc.json_answer(200, "the token's state (RFC 7662 §2.2)",
                        doc.obj({"active": {"type": "boolean"}}, ("active",))),
        doc.oauth_error(400, description="invalid_request"), INVALID_CLIENT, doc.too_large()))}}

ROUTES: Final = (introspect,)
