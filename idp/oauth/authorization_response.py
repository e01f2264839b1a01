"""Authorization responses (RFC 6749 §4.1.2, §4.1.2.1) with ``iss`` (RFC 9207 §2), and the code behind them.

The answer goes back to the client's redirect URI by redirect or form post (OAuth 2.0 Form Post Response Mode),
:func:`authorization_response`; an error whose redirect URI is not verified is shown here
(:func:`error_response`). The authorization and interaction endpoints both answer through them.

Every response to a redirect URI, success or error, carries ``state`` (when the request had one) and ``iss``.
The code is 256 random bits, single use, valid ``authorization.code_ttl``; it and its grant are stored exactly as
notes/contracts.md ("Authorization code") has the token side redeem them
(:func:`idp.oauth.grants.authorization_code.redeem_code`): kinds ``AuthorizationCode`` and ``Grant``, the subject
already pairwise, the claims already filtered by the request and the person's consent, the DPoP key of the
request (RFC 9449 §10) when it named one. Claims approved for credentials are handed to the registered
``authorization_details`` types (:mod:`idp.oauth.authorization_request.details`; the credential issuer's
``openid_credential``) and never stored with the grant; the grant only names what they granted.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.response import Redirect

from idp.clients import Client
from idp.errors import OAuthError, oauth_error_response
from idp.metrics import Metrics
from idp.oauth.authorization_request import (
    CREDENTIAL_TARGET,
    AuthorizationError,
    AuthorizationRequest,
    ResponseMode,
    ResponseTarget,
)
from idp.oauth.authorization_request.details import registered_types
from idp.oauth.consent import release
from idp.oauth.grants.authorization_code import CODE_KIND
from idp.oauth.interaction import LoginRecord
from idp.oauth.scope import format_scope
from idp.oauth.session import add_client
from idp.oauth.subject import subject_for
from idp.oauth.tokens import GRANT_KIND
from idp.runtime import Services
from idp.settings import Settings
from idp.storage import NewObject
from idp.web.pages import error_page, form_post_page, wants_html

_log = logging.getLogger("idp.authorize")
_NO_STORE: Final = {"Cache-Control": "no-store"}


def response_parameters(target: ResponseTarget, issuer: str, values: Mapping[str, str]) -> dict[str, str]:
    """``values`` with the request's ``state`` and the issuer's ``iss`` (RFC 9207 §2)."""
    params = dict(values)
    if target.state is not None:
        params["state"] = target.state
    params["iss"] = issuer
    return params


def error_parameters(error: OAuthError, target: ResponseTarget, issuer: str) -> dict[str, str]:
    """The parameters of an error response (RFC 6749 §4.1.2.1)."""
    return response_parameters(target, issuer, {"error": error.error, "error_description": error.description})


def redirect_url(redirect_uri: str, params: Mapping[str, str]) -> str:
    """``redirect_uri`` with ``params`` added to its query, which is kept (RFC 6749 §3.1.2)."""
    parts = urlsplit(redirect_uri)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params.items()])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def authorization_response(target: ResponseTarget, values: Mapping[str, str], settings: Settings, *,
                           cookies: Sequence[Cookie] = ()) -> Response[Any]:
    """The response to the client: ``values`` with ``state`` and ``iss``, redirected or form-posted."""
    params = response_parameters(target, settings.issuer, values)
    if target.response_mode is ResponseMode.FORM_POST:
        return form_post_page(target.redirect_uri, params, cookies=cookies)
    return Redirect(redirect_url(target.redirect_uri, params), status_code=303, headers=_NO_STORE,
                    cookies=list(cookies))


def error_response(exc: AuthorizationError, request: Request[Any, Any, Any], settings: Settings, metrics: Metrics, *,
                   lang: str = "ja", cookies: Sequence[Cookie] = ()) -> Response[Any]:
    """An authorization error: back to the client when its redirect URI is verified, else shown here."""
    error = exc.error
    metrics.oauth_errors.labels(error.error).inc()
    _log.info("authorization_error", extra={"error": error.error, "redirected": exc.target is not None,
                                            "detail": error.detail})
    if exc.target is not None:
        return authorization_response(exc.target, error_parameters(error, exc.target, settings.issuer), settings,
                                      cookies=cookies)
    if wants_html(request.headers.get("accept", "")):
        return error_page(error, lang, cookies=cookies)
    return oauth_error_response(error)


async def issue_code(
    services: Services,
    client: Client,
    request: AuthorizationRequest,
    login: LoginRecord,
    *,
    approved: Collection[str],
    sid: str | None,
    now: dt.datetime,
    session_clients: Sequence[str] | None = None,
) -> str:
    """Store a new grant and its authorization code for ``request``, released claims limited to ``approved``;
    remember the client in session ``sid`` (whose clients the caller may already know: ``session_clients``).
    Returns the code."""
    settings = services.settings
    sub = subject_for(login.account_id, client, settings)
    claims = release(request, login.claims, approved, now=now)
    for_credentials = claims.pop(CREDENTIAL_TARGET, None)  # goes to the issuer's datasets, never into the grant
    approved_details = set(for_credentials or {})
    granted = [found for details_type in registered_types()
               if (found := await details_type.on_code(services, request, login, approved=approved_details,
                                                       now=now)) is not None]
    scope = format_scope(request.scope)
    grant_id, code = secrets.token_urlsafe(24), secrets.token_urlsafe(32)
    grant = {"client_id": client.client_id, "sub": sub, "account_id": login.account_id, "scope": scope,
             "claims": claims}
    for details in granted:
        grant.update(details.grant_members(by_identifier=bool(request.authorization_details)))
    payload: dict[str, Any] = {
        "client_id": client.client_id, "redirect_uri": request.redirect_uri, "scope": scope, "nonce": request.nonce,
        "code_challenge": request.code_challenge, "code_challenge_method": "S256", "sub": sub,
        "account_id": login.account_id, "auth_time": login.auth_time, "acr": login.acr, "amr": list(login.amr),
        "sid": sid, "claims": claims, "dpop_jkt": request.dpop_jkt, "grant_id": grant_id}
    if granted and request.authorization_details:  # RFC 9396 §7, OpenID4VCI 1.0 §6.2
        payload["authorization_details"] = [entry for details in granted for entry in details.token_details()]
    await services.objects.upsert_many([  # the grant with its code, in one statement
        NewObject(GRANT_KIND, grant_id, grant, now + dt.timedelta(seconds=settings.tokens.refresh_token_ttl),
                  grant_id=grant_id),
        NewObject(CODE_KIND, code, payload, now + dt.timedelta(seconds=settings.authorization.code_ttl),
                  grant_id=grant_id)])
    if sid is not None:
        await add_client(services, sid, client.client_id, now, known=session_clients)
    _log.info("authorization_code_issued", extra={"client_id": client.client_id, "fresh_login": login.fresh,
                                                  "released": sorted({n for c in claims.values() for n in c})})
    return code


__all__ = ["authorization_response", "error_parameters", "error_response", "issue_code", "redirect_url",
           "response_parameters"]
