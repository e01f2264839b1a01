"""``/logout``: RP-initiated logout (OIDC RP-Initiated Logout 1.0), ending the browser session and telling its clients
by back-channel (OIDC Back-Channel Logout 1.0, :mod:`idp.oauth.logout`).

``GET`` or ``POST /logout`` (§2) takes ``id_token_hint``, ``client_id``, ``post_logout_redirect_uri``, ``state`` and
``ui_locales`` (``logout_hint`` is accepted and ignored). A ``post_logout_redirect_uri`` needs the client (from the
hint or ``client_id``; both must agree) and must equal one of its registered ``post_logout_redirect_uris`` exactly
(§3.1); a request that fails these checks is shown an error page and never redirected.

When the browser has a session, the person is asked to confirm (§2: "the OP SHOULD ask the End-User whether to log
out"): the page posts to ``/logout/confirm`` the id of a stored ``LogoutRequest`` (random, single use, bound to the
browser's session id, expiring with ``authorization.interaction_ttl``), so another site can neither skip the
question nor log someone out. Confirming ends the session (:func:`idp.oauth.session.end_session`), clears the cookie
and, after the answer is sent, POSTs logout tokens to the session's clients. Either answer, and a request without a
session, ends at the ``post_logout_redirect_uri`` (with ``state``) when one was given, else on a "logged out" page.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

from litestar import Request, Response, post, route
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.response import Redirect

from idp.errors import InvalidRequest, OAuthError
from idp.oauth.authorization_request import MAX_REQUEST_OCTETS, parse_parameters
from idp.oauth.authorization_response import redirect_url
from idp.oauth.logout import MAX_HINT, notify_clients, verify_id_token_hint
from idp.oauth.session import SESSION_COOKIE, cleared_session_cookie, end_session, load_session
from idp.runtime import Services, utcnow
from idp.settings import Settings
from idp.web.pages import (
    error_page,
    expired_page,
    form_actions,
    language,
    message_page,
    page,
    request_language,
    same_origin,
)
from servicekit.http import openapi as doc

PATH: Final = "/logout"
CONFIRM_PATH: Final = "/logout/confirm"
METADATA: Final = {"end_session_endpoint": PATH}
LOGOUT_KIND: Final = "LogoutRequest"
_FORM: Final = "application/x-www-form-urlencoded"
_NO_STORE: Final = {"Cache-Control": "no-store"}
_LIMITS: Final = {"id_token_hint": MAX_HINT, "client_id": 255, "post_logout_redirect_uri": 2000, "state": 2048,
                  "ui_locales": 256, "logout": 64, "decision": 8, "logout_hint": 256}
_log = logging.getLogger("idp.logout")

AnyRequest = Request[Any, Any, Any]


def feature_metadata(settings: Settings) -> dict[str, Any]:
    """OIDC Back-Channel Logout §2.1: logout tokens are sent, and carry ``sid``."""
    return {"backchannel_logout_supported": True, "backchannel_logout_session_supported": True}


@dataclass(frozen=True, slots=True)
class LogoutTarget:
    """Where a logout ends: the verified ``post_logout_redirect_uri`` of ``client_id`` and ``state``, if any."""

    client_id: str | None
    redirect_uri: str | None
    state: str | None
    lang: str
    #: The client's name in ``lang`` as the confirmation page shows it (OIDC Dynamic Client Registration §2.1).
    client_name: str | None = None


def _param(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"parameter {name} is repeated")
    if len(value) > _LIMITS[name] or any(ord(c) < 0x20 or c == "\x7f" for c in value):
        raise InvalidRequest(f"parameter {name} is too long or has control characters")
    return value


async def _read(request: AnyRequest) -> dict[str, Any]:
    if request.method == "GET":
        return parse_parameters(request.scope.get("query_string", b""))
    if request.headers.get("content-type", "").partition(";")[0].strip().lower() != _FORM:
        raise InvalidRequest(f"the request body must be {_FORM}")
    return parse_parameters(await request.body())


async def logout_target(services: Services, params: Mapping[str, Any], now: dt.datetime,
                        accept_language: str | None = None) -> LogoutTarget:
    """The checked parameters of a logout request (OIDC RP-Initiated Logout §2, §3.1); the page language from
    ``ui_locales``, then the browser's ``accept_language``."""
    ui_locales = _param(params, "ui_locales")
    lang = language(ui_locales.split()[:16] if ui_locales else (), accept_language)
    hint = _param(params, "id_token_hint")
    client_id = _param(params, "client_id")
    client = None
    if hint is not None:
        client = (await verify_id_token_hint(services, hint, now)).client
        if client_id not in (None, client.client_id):
            raise InvalidRequest("client_id differs from the audience of id_token_hint")
    elif client_id is not None:
        client = await services.clients.get(client_id)
        if client is None:
            raise InvalidRequest("client_id is not a registered client")
    redirect_uri = _param(params, "post_logout_redirect_uri")
    if redirect_uri is not None:
        if client is None:
            raise InvalidRequest("post_logout_redirect_uri needs id_token_hint or client_id")
        if redirect_uri not in client.post_logout_redirect_uris:
            raise InvalidRequest("post_logout_redirect_uri is not registered for this client")
    return LogoutTarget(None if client is None else client.client_id, redirect_uri,
                        _param(params, "state") if redirect_uri else None, lang,
                        None if client is None else client.presentation.name(lang) or client.client_id)


def _finish(target: LogoutTarget, *, cookies: Sequence[Cookie] = (),
            background: BackgroundTask | None = None) -> Response[Any]:
    if target.redirect_uri is not None:
        params = {} if target.state is None else {"state": target.state}
        return Redirect(redirect_url(target.redirect_uri, params), status_code=303, headers=_NO_STORE,
                        cookies=list(cookies), background=background)
    response = message_page(target.lang, "logout.done_title", "logout.done_text", status=200)
    response.cookies.extend(cookies)
    response.background = background
    return response


def _confirm_page(target: LogoutTarget, logout_id: str) -> Response[str]:
    return page("logout_confirm.html", target.lang, form_action=form_actions(target.redirect_uri),
                client_id=target.client_name, action=CONFIRM_PATH, logout_id=logout_id)


@route(PATH, http_method=["GET", "POST"], request_max_body_size=MAX_REQUEST_OCTETS, summary="RP-initiated logout",
       tags=["OpenID Connect"])
async def end_session_endpoint(request: AnyRequest, services: NamedDependency[Services]) -> Response[Any]:
    """OIDC RP-Initiated Logout §2: check the request, then ask the person to confirm (or finish at once when the
    browser has no session)."""
    now = utcnow()
    try:
        target = await logout_target(services, await _read(request), now, request.headers.get("accept-language"))
    except OAuthError as exc:
        _log.info("logout_refused", extra={"error": exc.error, "detail": exc.detail})
        return error_page(exc, request_language(request))
    session = await load_session(services, request.cookies.get(SESSION_COOKIE), now)
    if session is None:
        return _finish(target)
    logout_id = secrets.token_urlsafe(32)
    expires = now + dt.timedelta(seconds=services.settings.authorization.interaction_ttl)
    await services.objects.upsert(LOGOUT_KIND, logout_id, {**asdict(target), "sid": session.sid}, expires)
    return _confirm_page(target, logout_id)


@post(CONFIRM_PATH, status_code=200, request_max_body_size=MAX_REQUEST_OCTETS, summary="Confirm logout",
      tags=["OpenID Connect"])
async def confirm(request: AnyRequest, services: NamedDependency[Services]) -> Response[Any]:
    """The answer to the confirmation page: end the session (and tell its clients) or keep it."""
    now = utcnow()
    settings = services.settings
    try:
        form = await _read(request)
        logout_id, decision = _param(form, "logout"), _param(form, "decision")
    except OAuthError:
        return expired_page(request_language(request))
    if not same_origin(request, settings) or logout_id is None:
        return expired_page(request_language(request))
    stored = await services.objects.consume(LOGOUT_KIND, logout_id, now=now)
    if stored is None:
        return expired_page(request_language(request))
    payload = dict(stored.payload)
    sid = payload.pop("sid")
    target = LogoutTarget(**payload)
    if decision != "yes":
        return _finish(target)
    session = await load_session(services, request.cookies.get(SESSION_COOKIE), now)
    if session is None or session.sid != sid:  # another browser, or the session changed meanwhile
        return expired_page(target.lang)
    ended = await end_session(services, session.sid, now)
    _log.info("logged_out", extra={"client_id": target.client_id, "clients": len(session.clients)})
    background = None if ended is None else BackgroundTask(notify_clients, services, ended, now)
    return _finish(target, cookies=[cleared_session_cookie(settings)], background=background)


_PARAMETERS: Final = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales", "logout_hint")
_SESSION: Final = doc.parameter("cookie", SESSION_COOKIE, "the browser's session")
_END: Final = doc.responses(doc.see_other("to the post_logout_redirect_uri, with state (§3)"),
                            doc.html(200, description="the confirmation page, or the logged-out page"),
                            doc.html(400, 401, description="the request is refused (never redirected)"))
OPENAPI: Final = {
    PATH: {"get": doc.operation(parameters=[*doc.query(*_PARAMETERS), doc.ACCEPT_LANGUAGE, _SESSION],
                                responses=_END),
           "post": doc.operation(parameters=[doc.ACCEPT_LANGUAGE, _SESSION],
                                 body=doc.form_body(doc.strings(*_PARAMETERS)),
                                 responses=doc.responses(_END, doc.too_large()))},
    CONFIRM_PATH: {"post": doc.operation(
        parameters=[_SESSION],
        body=doc.form_body({"logout": {"type": "string"}, "decision": {"type": "string", "enum": ["yes", "no"]}}),
        responses=doc.responses(doc.see_other("to the post_logout_redirect_uri"),
                                doc.html(200, description="the logged-out page"),
                                doc.html(400, description="the confirmation is unknown, expired or another browser's"),
                                doc.too_large()))},
}

ROUTES: Final = (end_session_endpoint, confirm)

__all__ = ["CONFIRM_PATH", "LOGOUT_KIND", "METADATA", "PATH", "ROUTES", "LogoutTarget", "feature_metadata",
           "logout_target"]
