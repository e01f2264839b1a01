"""``POST /revoke``: token revocation (RFC 7009).

A refresh token revokes its whole grant: every refresh and access token issued under it (RFC 7009 §2.1,
"SHOULD also invalidate all access tokens based on the same authorization grant"). An access token
has its ``jti`` recorded as revoked until it expires, so userinfo and introspection refuse it at once.
Unknown, expired or already revoked tokens are answered 200 all the same (§2.2); a token issued to
another client is refused with ``invalid_request``, after node-oidc-provider.
"""

from __future__ import annotations

import logging
from typing import Final

from litestar import MediaType, Response, post
from litestar.di import NamedDependency

from idp.errors import InvalidRequest
from idp.oauth.client_auth import (
    CLIENT_AUTH_FIELDS,
    CLIENT_AUTH_HEADER,
    INVALID_CLIENT,
    authenticate_client,
    endpoint_audiences,
)
from idp.oauth.refresh import find_token
from idp.oauth.tokens import AccessToken, revoke_access_token
from idp.runtime import Services, utcnow
from idp.storage.audit import record
from idp.web.forms import MAX_FORM_BODY, AnyRequest, read_form
from idp.web.responses import NO_STORE
from servicekit.http import openapi as doc

PATH: Final = "/revoke"
METADATA: Final = {"revocation_endpoint": PATH}
_log = logging.getLogger("idp.revocation")


@post(PATH, status_code=200, request_max_body_size=MAX_FORM_BODY, summary="Token revocation", tags=["OAuth 2.0"])
async def revoke(request: AnyRequest, services: NamedDependency[Services]) -> Response[bytes]:
    """Revoke an access or refresh token (RFC 7009 §2.1)."""
    form = await read_form(request)
    now = utcnow()
    client = await authenticate_client(form=form, authorization=request.headers.get("authorization"),
                                       services=services, audiences=endpoint_audiences(services.settings, PATH),
                                       now=now)
    value = form.get("token")
    if value is None:
        raise InvalidRequest("token is required")
    found = await find_token(services, value, now)
    if found is not None:
        if found.client_id != client.client_id:
            raise InvalidRequest("the token was not issued to this client")
        if isinstance(found, AccessToken):
            await revoke_access_token(services, found)
        else:
            await services.objects.revoke_by_grant(found.authorization.grant_id)
            await record(services, "grant_revoked", now, grant=found.authorization.grant_id,
                         client_id=client.client_id, reason="client_request")
        _log.info("token_revoked", extra={"client_id": client.client_id,
                                          "kind": "access_token" if isinstance(found, AccessToken) else "grant"})
    return Response(b"", headers=NO_STORE, media_type=MediaType.TEXT)


OPENAPI: Final = {PATH: {"post": doc.operation(
    parameters=[CLIENT_AUTH_HEADER],
    body=doc.form_body({**doc.strings("token", "token_type_hint"), **CLIENT_AUTH_FIELDS}, ("token",)),
    responses=doc.responses(
        doc.answer((200,), "revoked, or unknown (RFC 7009 §2.2): an empty body", {"text/plain": None}),
        doc.oauth_error(400, description="invalid_request (RFC 7009 §2.2.1)"), INVALID_CLIENT, doc.too_large()))}}

ROUTES: Final = (revoke,)
