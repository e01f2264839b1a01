"""Which request the authorization endpoint serves (RFC 9101 §5, RFC 9126 §4): a pushed one (``request_uri``), one
in a signed request object (``request``, by value; :mod:`idp.oauth.request_object`), or the parameters themselves::

    client, request = await resolve_request(services, params, now)  # or AuthorizationError
"""

from __future__ import annotations

import datetime as dt

from idp.clients import Client
from idp.errors import InvalidRequest, OAuthError
from idp.oauth.authorization_request.errors import AuthorizationError
from idp.oauth.authorization_request.parameters import Parameters, text
from idp.oauth.authorization_request.pushed import take_pushed_request
from idp.oauth.authorization_request.request import AuthorizationRequest
from idp.oauth.authorization_request.validation import validate_request
from idp.oauth.request_object import decode_request_object
from idp.runtime import Services


async def resolve_request(services: Services, params: Parameters,
                          now: dt.datetime) -> tuple[Client, AuthorizationRequest]:
    """The client and the validated request of an authorization endpoint request: a pushed one (``request_uri``),
    one in a request object (``request``, RFC 9101 §5: its parameters only), or the parameters themselves.
    Requests that were not pushed are refused when ``authorization.require_par`` or the client requires PAR."""
    try:
        client_id = text(params, "client_id")
        if client_id is None:
            raise InvalidRequest("client_id is required")
        client = await services.clients.get(client_id)
        if client is None:
            raise InvalidRequest("client_id does not name a registered client")
        if "request_uri" in params:
            if "request" in params:
                raise InvalidRequest("request and request_uri cannot both be given (RFC 9101 §5)")
            return client, await take_pushed_request(services, client, text(params, "request_uri") or "", now)
        if "request" in params:
            params = await decode_request_object(text(params, "request") or "", client=client, services=services,
                                                 now=now)
    except OAuthError as exc:
        raise AuthorizationError(exc, None) from None
    request = validate_request(client, params, services.settings)
    if services.settings.authorization.require_par or client.require_par:
        raise AuthorizationError(InvalidRequest("this client must push its authorization requests (RFC 9126 §5)"),
                                 request.target)
    return client, request



__all__ = ["resolve_request"]
