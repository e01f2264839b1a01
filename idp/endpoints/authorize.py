"""``GET``/``POST /authorize``: the authorization endpoint (RFC 6749 §3.1, §4.1; OIDC Core §3.1.2; RFC 9126 §4).

Steps, after node-oidc-provider's ``lib/actions/authorization``: read the parameters (the query, or for POST the
form body: RFC 6749 §3.1, OIDC Core §3.1.2.1), resolve and validate the request
(:func:`idp.oauth.authorization_request.resolve_request`: a pushed request, a request object, or the parameters),
then decide (OIDC Core §3.1.2.3–4) from the browser's session (:mod:`idp.oauth.session`):

* a login is needed (:func:`idp.oauth.interaction.login_needed`): ``login_required`` for ``prompt=none``, else an
  interaction and a redirect to ``/interaction/{uid}``;
* consent is needed (:mod:`idp.oauth.consent`): ``consent_required`` for ``prompt=none``, else an interaction
  that goes straight to the consent page;
* otherwise the code, at once.

Errors found before the redirect URI is verified are shown to the person (HTML, or JSON for clients that ask for
it), never redirected; later ones go back to the client. Every response to the client carries ``iss``
(RFC 9207) and ``state``, as a redirect (303) or, for ``response_mode=form_post``, a self-posting page.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from litestar import Request, Response, route
from litestar.di import NamedDependency
from litestar.response import Redirect

from idp.clients import Client
from idp.errors import InvalidRequest, OAuthError
from idp.metrics import Metrics
from idp.oauth import consent, request_object, verified_claims
from idp.oauth.authorization_request import (
    MAX_REQUEST_OCTETS,
    PROMPTS,
    RESPONSE_MODES,
    SCOPES,
    AuthorizationError,
    AuthorizationRequest,
    ConsentRequired,
    LoginRequired,
    parse_parameters,
    resolve_request,
)
from idp.oauth.authorization_request.details import authorization_details_types
from idp.oauth.authorization_request.parameters import REQUEST_PARAMETERS
from idp.oauth.authorization_response import authorization_response, error_response, issue_code
from idp.oauth.interaction import (
    LoginRecord,
    interaction_cookie,
    interaction_path,
    login_needed,
    start_interaction,
    update_interaction,
)
from idp.oauth.kiosk import kiosk_key
from idp.oauth.pkce import CODE_CHALLENGE_METHODS
from idp.oauth.session import SESSION_COOKIE, Session, session_key, session_named
from idp.oauth.subject import subject_for
from idp.runtime import Services, utcnow
from idp.settings import Settings
from idp.sign.digital_agency import bind_transaction
from idp.web.pages import language
from servicekit.http import openapi as doc

PATH: Final = "/authorize"
METADATA: Final = {"authorization_endpoint": PATH}
_FORM: Final = "application/x-www-form-urlencoded"
_NO_STORE: Final = {"Cache-Control": "no-store"}
_log = logging.getLogger("idp.authorize")

AnyRequest = Request[Any, Any, Any]


def feature_metadata(settings: Settings) -> dict[str, Any]:
    """Discovery members of the authorization endpoint (OIDC Discovery §3, RFC 8414 §2, RFC 9207 §3)."""
    return {"response_types_supported": ["code"], "response_modes_supported": list(RESPONSE_MODES),
            "code_challenge_methods_supported": list(CODE_CHALLENGE_METHODS), "scopes_supported": list(SCOPES),
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid",
                                 *consent.RELEASABLE_CLAIMS],
            "claim_types_supported": ["normal"], "claims_parameter_supported": True,
            "request_parameter_supported": True, "request_uri_parameter_supported": False,
            "prompt_values_supported": list(PROMPTS),
            "ui_locales_supported": ["ja", "en"], "authorization_response_iss_parameter_supported": True,
            **request_object.feature_metadata(settings), **_details_types(), **verified_claims.metadata()}


def _details_types() -> dict[str, Any]:
    """RFC 9396 §10: the registered ``authorization_details`` types, when there are any."""
    types = authorization_details_types()
    return {"authorization_details_types_supported": list(types)} if types else {}


async def read_parameters(request: AnyRequest) -> dict[str, Any]:
    """The request's parameters: the query (GET) or the form body (POST)."""
    if request.method == "GET":
        return parse_parameters(request.scope.get("query_string", b""))
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != _FORM:
        raise InvalidRequest(f"the request body must be {_FORM}")
    return parse_parameters(await request.body())


def _language(params: Mapping[str, Any], accept_language: str | None) -> str:
    value = params.get("ui_locales")
    return language(value.split()[:16] if isinstance(value, str) and len(value) <= 256 else (), accept_language)


async def _decide(services: Services, client: Client, auth: AuthorizationRequest,
                  session: Session | None, *, kiosk: bool = False) -> Response[Any]:
    settings, now = services.settings, utcnow()
    login = None
    if session is not None and not login_needed(auth, session, now=now,
                                                sub=subject_for(session.account_id, client, settings)):
        login = LoginRecord.from_session(session)
        before = await consent.remembered(services, login.account_id, client.client_id, now)
        if before is not None and not consent.consent_needed(auth, login.claims, before):
            code = await issue_code(services, client, auth, login, approved=consent.approved_before(auth, {}, before),
                                    sid=session.sid, now=now, session_clients=session.clients)
            return authorization_response(auth.target, {"code": code}, settings)
        if "none" in auth.prompt:
            raise AuthorizationError(ConsentRequired("consent is needed and prompt=none forbids asking"), auth.target)
    elif "none" in auth.prompt:
        raise AuthorizationError(LoginRequired("a login is needed and prompt=none forbids one"), auth.target)
    interaction, secret = await start_interaction(services, auth, session=session, login=login, now=now)
    try:
        await bind_transaction(services, auth, interaction.uid, now)  # scope sign + sign_transaction_id, once
    except OAuthError as exc:
        raise AuthorizationError(exc, auth.target) from None
    if kiosk:  # a kiosk client's login opens no session (idp.oauth.kiosk)
        interaction = await update_interaction(services, interaction, kiosk=True)
    step = "" if login is None else "consent"
    return Redirect(interaction_path(interaction.uid, step), status_code=303, headers=_NO_STORE,
                    cookies=[interaction_cookie(interaction.uid, secret, settings)])


@route(PATH, http_method=["GET", "POST"], status_code=303, request_max_body_size=MAX_REQUEST_OCTETS,
       summary="Authorization endpoint", tags=["OAuth 2.0"])
async def authorize(
    request: AnyRequest, services: NamedDependency[Services], metrics: NamedDependency[Metrics]
) -> Response[Any]:
    """Start an authorization (RFC 6749 §4.1.1): login and consent as needed, then the code."""
    settings, lang = services.settings, language((), request.headers.get("accept-language"))
    try:
        try:
            params = await read_parameters(request)
        except OAuthError as exc:
            raise AuthorizationError(exc, None) from None
        lang = _language(params, request.headers.get("accept-language"))
        client, auth = await resolve_request(services, params, utcnow())
        cookie, kiosk_mark = request.cookies.get(SESSION_COOKIE), kiosk_key(client.client_id)
        stored_session = session_key(cookie)
        found = await services.objects.find_many([kiosk_mark, *([stored_session] if stored_session else [])],
                                                 now=utcnow())  # one round trip for both
        session = None if stored_session is None else session_named(cookie, found.get(stored_session))
        kiosk = kiosk_mark in found
        return await _decide(services, client, auth, None if kiosk else session, kiosk=kiosk)
    except AuthorizationError as exc:
        return error_response(exc, request, settings, metrics, lang=lang)


_ANSWERS: Final = doc.responses(
    doc.see_other("to the login or consent step, or to the client's redirect URI with the code or the error "
                  "(RFC 6749 §4.1.2, RFC 9207)"),
    doc.html(200, description="response_mode form_post: the page that posts the response to the client"),
    doc.html(400, 401, 403, 503, description="an error that cannot go back to the client, for a browser"),
    doc.oauth_error(400, 401, 403, 503, description="an error that cannot go back to the client, for a program"))
OPENAPI: Final = {PATH: {
    "get": doc.operation(parameters=[*doc.query(*REQUEST_PARAMETERS), doc.ACCEPT_LANGUAGE], responses=_ANSWERS),
    "post": doc.operation(parameters=[doc.ACCEPT_LANGUAGE], body=doc.form_body(doc.strings(*REQUEST_PARAMETERS)),
                          responses=doc.responses(_ANSWERS, doc.too_large()))}}

ROUTES: Final = (authorize,)

__all__ = [
    "METADATA",
    "PATH",
    "ROUTES",
    "authorize",
    "feature_metadata",
    "read_parameters",
]
