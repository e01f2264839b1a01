"""Pushed authorization requests (RFC 9126): a validated request stored under a one-time ``request_uri``
(§2.2), used up by the authorization endpoint (§4)::

    request_uri, expires_in = await push_request(services, request, now)
    request = await take_pushed_request(services, client, request_uri, now)
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Final

from idp.clients import Client
from idp.errors import InvalidRequest
from idp.oauth.authorization_request.errors import InvalidRequestUri
from idp.oauth.authorization_request.request import AuthorizationRequest
from idp.runtime import Services

#: RFC 9126 §2.2: the request_uri of a pushed request, stored as objects of kind ``PushedAuthorizationRequest``.
REQUEST_URI_PREFIX: Final = "urn:ietf:params:oauth:request_uri:"
PAR_KIND: Final = "PushedAuthorizationRequest"


async def push_request(services: Services, request: AuthorizationRequest, now: dt.datetime) -> tuple[str, int]:
    """Store a validated pushed request (RFC 9126 §2.2): its ``request_uri`` and ``expires_in``."""
    ttl = services.settings.authorization.par_ttl
    reference = secrets.token_urlsafe(32)
    await services.objects.upsert(PAR_KIND, reference, {"client_id": request.client_id,
                                                        "request": request.to_payload()},
                                  now + dt.timedelta(seconds=ttl))
    return REQUEST_URI_PREFIX + reference, int(ttl)


async def take_pushed_request(services: Services, client: Client, request_uri: str,
                              now: dt.datetime) -> AuthorizationRequest:
    """The pushed request ``request_uri`` names (RFC 9126 §4), used up: once, by the client that pushed it, before
    it expires, and still within the client's registered redirect URIs."""
    reference = request_uri.removeprefix(REQUEST_URI_PREFIX)
    if reference == request_uri or not 0 < len(reference) <= 255:
        raise InvalidRequestUri("request_uri must come from this provider's pushed authorization request endpoint")
    stored = await services.objects.consume_matching(PAR_KIND, reference, {"client_id": client.client_id}, now=now)
    if stored is None:  # one statement decided; now only the message is chosen
        found = await services.objects.find(PAR_KIND, reference, now=now)
        if found is None or found.payload.get("client_id") != client.client_id:
            raise InvalidRequestUri("request_uri is unknown, expired, or was pushed by another client")
        raise InvalidRequestUri("request_uri was already used (RFC 9126 §4)")
    request = AuthorizationRequest.from_payload(stored.payload["request"])
    if request.redirect_uri not in client.redirect_uris:
        raise InvalidRequest("redirect_uri is no longer registered for this client")
    return request



__all__ = ["PAR_KIND", "REQUEST_URI_PREFIX", "push_request", "take_pushed_request"]
