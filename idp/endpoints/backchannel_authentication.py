"""``POST /backchannel``: the backchannel authentication endpoint (OpenID Connect CIBA Core 1.0 §7, poll and ping
modes; FAPI-CIBA where it fits).

A staff client (confidential: ``private_key_jwt`` or ``client_secret_basic``) starts an authentication of the person
at a counter's reader: ``scope`` (``openid`` only: the person sees no consent page at the reader, so no personal
claims), ``login_hint`` = ``reader:NAME`` (:mod:`idp.login.counter`: the registered reader, never a person),
``binding_message`` (required, FAPI-CIBA §5.2.2: 1-:data:`MAX_BINDING_MESSAGE` characters, Japanese allowed, no
control or format characters; shown on that reader's PIN pad), optional ``requested_expiry`` (1-:data:`MAX_EXPIRY`
seconds) and, for ping clients, ``client_notification_token``. ``id_token_hint``, ``login_hint_token``,
``user_code`` and signed ``request`` objects are not supported (not advertised).

Answers (§7.3): ``{"auth_req_id", "expires_in", "interval"}``; errors (§13): ``invalid_request``,
``invalid_scope``, ``invalid_binding_message``, ``unknown_user_id`` (no such reader), ``unauthorized_client``,
``access_denied`` (403: the reader's agent is offline, or the reader is busy with another authentication),
``invalid_client`` (401). One authentication per reader at a time (an atomic
claim on the reader, released when the person answered or the request expired).
"""

from __future__ import annotations

import datetime as dt
import logging
import unicodedata
from typing import Any, Final

from litestar import Response, post
from litestar.di import NamedDependency

from idp.errors import InvalidRequest, OAuthError, UnauthorizedClient
from idp.login import counter
from idp.oauth import decoupled
from idp.oauth.authorization_request.request import OPENID
from idp.oauth.client_auth import (
    CLIENT_AUTH_FIELDS,
    CLIENT_AUTH_HEADER,
    INVALID_CLIENT,
    authenticate_client,
    endpoint_audiences,
)
from idp.oauth.grants.ciba import CIBA_CLIENT_AUTH
from idp.runtime import Services, utcnow
from idp.settings import Settings
from idp.web.forms import AnyRequest, read_form
from idp.web.responses import NO_STORE
from servicekit.http import openapi as doc

PATH: Final = "/backchannel"
METADATA: Final = {"backchannel_authentication_endpoint": PATH}
MAX_BINDING_MESSAGE: Final = 40
DEFAULT_EXPIRY: Final = 120
MAX_EXPIRY: Final = 600
_MAX_FORM: Final = 8 * 1024
_log = logging.getLogger("idp.ciba")
_FORBIDDEN_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


class InvalidBindingMessage(OAuthError):
    """CIBA Core §13: the binding message is invalid or unacceptable."""

    error = "invalid_binding_message"
    status_code = 400


class UnknownUserId(OAuthError):
    """CIBA Core §13: the hint names no one (here: no registered reader)."""

    error = "unknown_user_id"
    status_code = 400


class ReaderUnavailable(OAuthError):
    """CIBA Core §13 ``access_denied`` (403): the OP refuses, as the reader is offline or busy with another
    authentication (the description says which)."""

    error = "access_denied"
    status_code = 403


def feature_metadata(settings: Settings) -> dict[str, Any]:
    """CIBA Core §4 provider metadata."""
    return {"backchannel_token_delivery_modes_supported": ["poll", "ping"],
            "backchannel_user_code_parameter_supported": False}


def checked_binding_message(value: str | None) -> str:
    """FAPI-CIBA §5.2.2: required; NFC, 1-40 characters, no control, format, private-use or unassigned characters
    and no line breaks (it is shown on a PIN pad next to a card reader)."""
    if value is None:
        raise InvalidBindingMessage("binding_message is required")
    text = unicodedata.normalize("NFC", value)
    if not 0 < len(text) <= MAX_BINDING_MESSAGE or text.strip() != text:
        raise InvalidBindingMessage(f"binding_message is 1-{MAX_BINDING_MESSAGE} characters without outer spaces")
    if any(unicodedata.category(c) in _FORBIDDEN_CATEGORIES for c in text):
        raise InvalidBindingMessage("binding_message has control or format characters")
    return text


def _expiry(value: str | None) -> int:
    if value is None:
        return DEFAULT_EXPIRY
    if not value.isascii() or not value.isdigit() or not 0 < int(value) <= MAX_EXPIRY:
        raise InvalidRequest(f"requested_expiry is a whole number of seconds, 1-{MAX_EXPIRY} (CIBA Core §7.1)")
    return int(value)


def _reader(form: dict[str, str]) -> str:
    hints = [name for name in ("login_hint", "id_token_hint", "login_hint_token") if name in form]
    if len(hints) != 1:
        raise InvalidRequest("exactly one of login_hint, id_token_hint and login_hint_token (CIBA Core §7.1)")
    if hints[0] != "login_hint":
        raise InvalidRequest("only login_hint (reader:NAME) is supported")
    name = counter.reader_from_hint(form["login_hint"])
    if name is None:
        raise UnknownUserId("login_hint names a counter reader: reader:NAME")
    return name


@post(PATH, status_code=200, request_max_body_size=_MAX_FORM, summary="CIBA backchannel authentication",
      tags=["OpenID Connect"])
async def backchannel_authentication(request: AnyRequest,
                                     services: NamedDependency[Services]) -> Response[dict[str, Any]]:
    """CIBA Core §7.1-§7.3."""
    form, now, settings = await read_form(request), utcnow(), services.settings
    client = await authenticate_client(form=form, authorization=request.headers.get("authorization"),
                                       services=services, audiences=endpoint_audiences(settings, PATH), now=now)
    if client.auth_method not in CIBA_CLIENT_AUTH:
        raise UnauthorizedClient("CIBA is for confidential clients (FAPI-CIBA §5.2.2)")
    if "request" in form:
        raise InvalidRequest("signed authentication requests are not supported")
    scope = decoupled.checked_scope(form.get("scope"), personal=False)
    if OPENID not in scope:
        raise InvalidRequest("scope must include openid (CIBA Core §7.1)")
    reader, binding, expires_in = _reader(form), checked_binding_message(form.get("binding_message")), _expiry(
        form.get("requested_expiry"))
    delivery = await counter.ciba_client(services, client.client_id, now)
    token = form.get("client_notification_token")
    if delivery.mode == "ping" and not (token and 0 < len(token) <= 1024):
        raise InvalidRequest("client_notification_token is required for ping clients (CIBA Core §7.1)")
    if not await counter.reader_known(services, reader, now):
        raise UnknownUserId("no counter reader of that name")
    if not await counter.reader_online(services, reader, now):
        raise ReaderUnavailable("the counter reader is offline")
    handle, pending = await decoupled.start(
        services, "ciba", client_id=client.client_id, scope=scope, expires_in=expires_in,
        interval=settings.authorization.poll_interval, now=now,
        extra={"reader": reader, "binding_message": binding, "dispatched": False, "ping": None})
    if delivery.mode == "ping":  # the notification names the auth_req_id (CIBA Core §10.2), so it is kept
        pending = await decoupled.update_extra(services, pending, ping={
            "endpoint": delivery.notification_endpoint, "token": token, "auth_req_id": handle})
    if not await services.objects.remember_once(counter.BUSY_KIND, reader, payload={"pending": pending.id},
                                                expires_at=now + dt.timedelta(seconds=expires_in), now=now):
        await services.objects.destroy(decoupled.KIND, pending.id)
        raise ReaderUnavailable("the reader is busy with another authentication")
    _log.info("ciba_request", extra={"client_id": client.client_id, "reader": reader, "mode": delivery.mode})
    body = {"auth_req_id": handle, "expires_in": expires_in, "interval": settings.authorization.poll_interval}
    return Response(body, headers=dict(NO_STORE), media_type="application/json")


OPENAPI: Final = {PATH: {"post": doc.operation(
    parameters=[CLIENT_AUTH_HEADER],
    body=doc.form_body({**doc.strings("scope", "login_hint", "binding_message", "requested_expiry",
                                      "client_notification_token"), **CLIENT_AUTH_FIELDS},
                       ("scope", "login_hint", "binding_message")),
    responses=doc.responses(
        doc.json_answer(200, "the acknowledgement (CIBA Core §7.3)", doc.obj({
            "auth_req_id": {"type": "string"}, "expires_in": {"type": "integer"}, "interval": {"type": "integer"}},
            ("auth_req_id", "expires_in"))),
        doc.oauth_error(400, 403, description="invalid_request, invalid_scope, invalid_binding_message, "
                                                   "unknown_user_id, unauthorized_client, access_denied (the reader is "
                                                   "offline or busy) (CIBA Core §13)"),
        INVALID_CLIENT, doc.too_large()))}}

ROUTES: Final = (backchannel_authentication,)

__all__ = ["METADATA", "PATH", "ROUTES", "checked_binding_message", "feature_metadata"]
