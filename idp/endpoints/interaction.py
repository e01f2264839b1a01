"""``/interaction/{uid}``: the login, consent and resume steps of an authorization (idp.oauth.interaction).

``GET /interaction/{uid}``
    The login page of the deployment's authenticator (``login.authenticator``;
    :func:`idp.oauth.authenticator.authenticator_for`), or,
    once the person has logged in, a redirect to the next step.
``GET /interaction/{uid}/consent``, ``POST /interaction/{uid}/consent``
    The consent page: the scope values and, with one checkbox ``claim`` each, the claims the login can give
    (their values shown). ``decision=allow`` records the approved claims and goes on to resume;
    ``decision=deny`` answers the client ``access_denied``. At a kiosk (:mod:`idp.oauth.kiosk`) the page leaves
    the screen by itself (``Refresh``, HTML §7.11.1) when ``authorization.kiosk_idle_timeout`` after the login has
    passed: to ``authorization.kiosk_home``, or to this interaction's page, which is gone by then.
``GET /interaction/{uid}/sign``, ``POST /interaction/{uid}/sign``
    The signing consent page of a ``jpki_sign`` request (:mod:`idp.sign.consent`), before the card step:
    ``decision=approve`` goes on to the card login with the signing key, anything else answers ``access_denied``.
``GET /interaction/{uid}/resume``
    Issues the code and answers the client (OIDC Core §3.1.2.5): once per interaction, only after the login and,
    when needed, the consent; an essential ``acr`` not met is ``unmet_authentication_requirements``, a login of
    another subject than ``claims`` named ``login_required``.
``POST /interaction/{uid}/abort``
    The person cancels: ``access_denied``.

Every step needs the interaction's browser cookie (``mynacard_interaction``); POSTs with an ``Origin`` header
must come from the issuer's origin. The session cookie a login produced is handed to the browser on the
consent page and with the final answer.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from litestar import Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect

from idp.errors import OAuthError
from idp.metrics import Metrics
from idp.oauth import consent, decoupled
from idp.oauth.authenticator import acr_values_supported, authenticator_for, next_url
from idp.oauth.authorization_request import (
    AccessDenied,
    AuthorizationError,
    LoginRequired,
    UnmetAuthenticationRequirements,
)
from idp.oauth.authorization_response import authorization_response, error_response, issue_code
from idp.oauth.interaction import (
    INTERACTION_COOKIE,
    Interaction,
    LoginRecord,
    browser_interaction,
    cleared_interaction_cookie,
    finish_interaction,
    interaction_path,
    update_interaction,
)
from idp.oauth.session import find_session, session_cookie
from idp.oauth.subject import subject_for
from idp.runtime import Services, utcnow
from idp.settings import Settings
from idp.sign.consent import sign_consent_page, signing_request, signing_step
from idp.sign.details import JPKI_SIGN
from idp.sign.requests import SigningRequest, SigningRequests
from idp.storage.audit import digest_ref, record
from idp.web.forms import AnyRequest
from idp.web.pages import client_view, consent_page, expired_page, message_page, page, request_language, same_origin
from servicekit.http import openapi as doc
from servicekit.http.bodies import BodyError, read_form_pairs

_MAX_FORM: Final = 8 * 1024
_NO_STORE: Final = {"Cache-Control": "no-store"}
_log = logging.getLogger("idp.interaction")


def feature_metadata(settings: Settings) -> dict[str, Any]:
    """Discovery member of the login (OIDC Discovery §3): the acr values logins carry."""
    return {"acr_values_supported": list(acr_values_supported(settings))}


async def _interaction(request: AnyRequest, services: Services, uid: str, now: dt.datetime) -> Interaction | None:
    return await browser_interaction(services, uid, request.cookies.get(INTERACTION_COOKIE), now)


async def _posted_interaction(request: AnyRequest, services: Services, uid: str,
                              now: dt.datetime) -> Interaction | None:
    """The interaction a form post of this browser names, only from our own pages (same origin): else None."""
    interaction = await _interaction(request, services, uid, now)
    return interaction if interaction is not None and same_origin(request, services.settings) else None


async def _session_cookies(services: Services, interaction: Interaction, now: dt.datetime) -> list[Cookie]:
    value, sid = interaction.session_cookie, interaction.session_id
    if value is None or sid is None:
        return []
    session = await find_session(services, sid, now)
    return [] if session is None else [session_cookie(value, services.settings, session.expires_at, now)]


async def _final(services: Services, interaction: Interaction, now: dt.datetime) -> list[Cookie]:
    """The cookies of the answer to the client: the session (if a login opened one), the interaction's cleared."""
    return [*await _session_cookies(services, interaction, now), cleared_interaction_cookie(interaction.uid,
                                                                                            services.settings)]


def _lang(interaction: Interaction, request: AnyRequest) -> str:
    return request_language(request, interaction.request.ui_locales)


async def _decoupled_answer(request: AnyRequest, services: Services, interaction: Interaction,
                            approved: frozenset[str] | None, now: dt.datetime) -> Response[Any]:
    """The end of an interaction standing for a device code (RFC 8628 §3.3): the device gets the answer at its
    next poll, the person a page saying so; no session cookie (the login opened none)."""
    lang = _lang(interaction, request)
    if not await finish_interaction(services, interaction, now) or not await decoupled.answer_from_browser(
            services, interaction, approved=approved, now=now):
        return expired_page(lang)
    prefix = "device.done" if approved is not None else "device.denied"
    return page("message.html", lang, title_key=f"{prefix}_title", text_key=f"{prefix}_text",
                cookies=[cleared_interaction_cookie(interaction.uid, services.settings)])


async def _approved(services: Services, interaction: Interaction, login: LoginRecord,
                    now: dt.datetime) -> frozenset[str]:
    """The claims approved on the consent page, or before at this client."""
    if interaction.consent is not None:
        return interaction.consent
    before = await consent.remembered(services, login.account_id, interaction.client_id, now)
    return frozenset() if before is None else consent.approved_before(interaction.request, login.claims, before)


async def _deny(request: AnyRequest, services: Services, metrics: Metrics, interaction: Interaction,
                error: OAuthError, now: dt.datetime) -> Response[Any]:
    if interaction.payload.get("decoupled") is not None:
        return await _decoupled_answer(request, services, interaction, None, now)
    if not await finish_interaction(services, interaction, now):
        return expired_page(_lang(interaction, request))
    cookies = await _final(services, interaction, now)
    return error_response(AuthorizationError(error, interaction.request.target), request, services.settings, metrics,
                          cookies=cookies)


@get("/interaction/{uid:str}", summary="Login page", tags=["Interaction"])
async def login_page(uid: FromPath[str], request: AnyRequest, services: NamedDependency[Services]) -> Response[Any]:
    """The authenticator's login page, or the next step once logged in."""
    now = utcnow()
    interaction = await _interaction(request, services, uid, now)
    if interaction is None:
        return expired_page(request_language(request))
    if interaction.login is not None:
        return Redirect(await next_url(services, interaction, now), status_code=303, headers=_NO_STORE)
    signing = await signing_step(services, interaction, now)  # consent to the documents comes before the card
    if signing is not None:
        return Redirect(signing, status_code=303, headers=_NO_STORE)
    return await authenticator_for(services.settings).login_page(request, interaction, services)


def _offered(interaction: Interaction) -> tuple[str, ...]:
    login = interaction.login
    return () if login is None else consent.askable(interaction.request, login.claims)


@get("/interaction/{uid:str}/consent", summary="Consent page", tags=["Interaction"])
async def consent_form(uid: FromPath[str], request: AnyRequest, services: NamedDependency[Services]) -> Response[Any]:
    """What the client asks for, claim by claim."""
    now = utcnow()
    interaction = await _interaction(request, services, uid, now)
    if interaction is None:
        return expired_page(request_language(request))
    login = interaction.login
    if login is None:
        return Redirect(interaction_path(uid), status_code=303, headers=_NO_STORE)
    auth = interaction.request
    essential = consent.essential(auth)
    claims = [(name, login.claims[name], name in essential) for name in _offered(interaction)]
    page = consent_page(uid=uid, client=await services.clients.get(auth.client_id), client_id=auth.client_id,
                        scopes=auth.scope, claims=claims,
                        lang=_lang(interaction, request),
                        redirect_uri=auth.redirect_uri, cookies=await _session_cookies(services, interaction, now))
    if interaction.payload.get("kiosk"):  # the person's identity leaves the kiosk's screen with the interaction
        settings = services.settings.authorization
        left = settings.kiosk_idle_timeout - (now.timestamp() - login.auth_time)
        page.headers["Refresh"] = f"{max(1, math.ceil(left) + 1)};url={settings.kiosk_home or interaction_path(uid)}"
    return page


async def _form(request: AnyRequest, interaction: Interaction) -> list[tuple[str, str]] | Response[Any]:
    """The posted form's fields, or the page saying it could not be read."""
    try:
        return await read_form_pairs(request, max_bytes=_MAX_FORM, max_fields=64)
    except BodyError:
        return message_page(_lang(interaction, request), "common.error", "consent.form_unreadable", status=400)


_Subject = TypeVar("_Subject", LoginRecord, SigningRequest)
_Fields = list[tuple[str, str]]


async def _decision(uid: str, request: AnyRequest, services: Services, metrics: Metrics,
                    subject: Callable[[Services, Interaction, dt.datetime], Awaitable[_Subject | None]],
                    decide: Callable[[Services, Interaction, _Subject, _Fields, dt.datetime], Awaitable[str | None]],
                    refused: str) -> Response[Any]:
    """A decision the person posts on one of our pages (consent, signing consent): the interaction of this browser,
    from our own origin; what the decision is about (``subject``: the login, the signing request; without it, back
    to the interaction's current step); the form; then ``decide`` (records the decision and answers the next
    step's path, or ``None`` when the person refused: the client gets ``access_denied``, ``refused`` saying why)."""
    now = utcnow()
    if (interaction := await _posted_interaction(request, services, uid, now)) is None:
        return expired_page(request_language(request))
    about = await subject(services, interaction, now)
    if about is None:
        return Redirect(interaction_path(uid), status_code=303, headers=_NO_STORE)
    if isinstance(fields := await _form(request, interaction), Response):
        return fields
    step = await decide(services, interaction, about, fields, now)
    if step is None:
        return await _deny(request, services, metrics, interaction, AccessDenied(refused), now)
    return Redirect(step, status_code=303, headers=_NO_STORE)


async def _login_of(services: Services, interaction: Interaction, now: dt.datetime) -> LoginRecord | None:
    return interaction.login


async def _consent_decided(services: Services, interaction: Interaction, login: LoginRecord, fields: _Fields,
                           now: dt.datetime) -> str | None:
    """The consent form: ``decision=allow`` records the approved claims (and remembers them for this client)."""
    decision = next((value for name, value in fields if name == "decision"), "deny")
    if decision != "allow":
        await record(services, "consent", now, outcome="refused", client_id=interaction.client_id,
                     account=login.account_id, scope=list(interaction.request.scope))
        return None
    offered = _offered(interaction)
    approved = sorted({value for name, value in fields if name == "claim"} & set(offered))
    await consent.remember(services, login.account_id, interaction.client_id, scopes=interaction.request.scope,
                           asked=offered, approved=approved, now=now)
    await update_interaction(services, interaction, consent=approved)
    await record(services, "consent", now, outcome="given", client_id=interaction.client_id, account=login.account_id,
                 scope=list(interaction.request.scope), claims=approved)
    return interaction_path(interaction.uid, "resume")


@post("/interaction/{uid:str}/consent", status_code=303, request_max_body_size=_MAX_FORM, summary="Consent decision",
      tags=["Interaction"])
async def consent_decision(
    uid: FromPath[str], request: AnyRequest, services: NamedDependency[Services], metrics: NamedDependency[Metrics]
) -> Response[Any]:
    """Record the person's decision: ``decision`` allow or deny, and one ``claim`` per approved claim."""
    return await _decision(uid, request, services, metrics, _login_of, _consent_decided, "the person did not consent")


@get("/interaction/{uid:str}/sign", summary="Signing consent page", tags=["Interaction"])
async def sign_form(uid: FromPath[str], request: AnyRequest, services: NamedDependency[Services]) -> Response[Any]:
    """The documents the client asks the card to sign, before the card step."""
    now = utcnow()
    interaction = await _interaction(request, services, uid, now)
    if interaction is None:
        return expired_page(request_language(request))
    signing = await signing_request(services, interaction, now)
    if signing is None:
        return message_page(_lang(interaction, request), "sign.title", "sign.unavailable", status=400)
    if signing.state != "bound" or interaction.login is not None:
        return Redirect(interaction_path(uid), status_code=303, headers=_NO_STORE)
    lang = _lang(interaction, request)
    client = client_view(await services.clients.get(interaction.client_id), interaction.client_id, lang)
    return sign_consent_page(uid=uid, client=client, documents=signing.documents, lang=lang,
                             redirect_uri=interaction.request.redirect_uri)


async def _bound_signing(services: Services, interaction: Interaction, now: dt.datetime) -> SigningRequest | None:
    signing = await SigningRequests(services.objects).for_interaction(interaction.uid, now)
    return signing if signing is not None and signing.state == "bound" else None


async def _signing_decided(services: Services, interaction: Interaction, signing: SigningRequest, fields: _Fields,
                           now: dt.datetime) -> str | None:
    """The signing consent form: ``decision=approve`` approves the documents for the card step."""
    approved = ("decision", "approve") in fields
    await record(services, "signing_consent", now, outcome="given" if approved else "refused",
                 client_id=interaction.client_id, count=len(signing.documents), request_ref=digest_ref(signing.id))
    requests = SigningRequests(services.objects)
    if not approved:
        await requests.forget(signing)
        return None
    await requests.approve(signing, now=now)
    return interaction_path(interaction.uid)


@post("/interaction/{uid:str}/sign", status_code=303, request_max_body_size=_MAX_FORM, summary="Signing decision",
      tags=["Interaction"])
async def sign_decision(
    uid: FromPath[str], request: AnyRequest, services: NamedDependency[Services], metrics: NamedDependency[Metrics]
) -> Response[Any]:
    """``decision=approve``: on to the card step with these documents; anything else: ``access_denied``."""
    return await _decision(uid, request, services, metrics, _bound_signing, _signing_decided,
                           "the person refused to sign")


@get("/interaction/{uid:str}/resume", summary="Finish the authorization", tags=["Interaction"])
async def resume(
    uid: FromPath[str], request: AnyRequest, services: NamedDependency[Services], metrics: NamedDependency[Metrics]
) -> Response[Any]:
    """Issue the code and answer the client."""
    now = utcnow()
    interaction = await _interaction(request, services, uid, now)
    if interaction is None:
        return expired_page(request_language(request))
    step = await next_url(services, interaction, now)
    login = interaction.login
    if step != interaction_path(uid, "resume") or login is None:
        return Redirect(step, status_code=303, headers=_NO_STORE)
    if interaction.payload.get("decoupled") is not None:
        return await _decoupled_answer(request, services, interaction, await _approved(services, interaction, login,
                                                                                       now), now)
    auth, settings = interaction.request, services.settings
    client = await services.clients.get(auth.client_id)
    if client is None or auth.redirect_uri not in client.redirect_uris:
        await finish_interaction(services, interaction, now)
        return expired_page(_lang(interaction, request))
    essential = auth.essential_acr()
    if essential and login.acr not in essential:
        return await _deny(request, services, metrics, interaction,
                           UnmetAuthenticationRequirements("the login does not meet the essential acr"), now)
    wanted = auth.requested_sub()
    if wanted is not None and wanted != subject_for(login.account_id, client, settings):
        return await _deny(request, services, metrics, interaction,
                           LoginRequired("the person who logged in is not the requested subject"), now)
    if (auth.details_of(JPKI_SIGN) or await SigningRequests(services.objects).for_interaction(uid, now)) and (
            login.signing_request is None):  # a signing request is answered only with verified signatures
        return await _deny(request, services, metrics, interaction,
                           AccessDenied("no verified signature over the requested documents"), now)
    approved = await _approved(services, interaction, login, now)
    if not await finish_interaction(services, interaction, now):
        return expired_page(_lang(interaction, request))
    code = await issue_code(services, client, auth, login, approved=approved, sid=interaction.session_id, now=now)
    return authorization_response(auth.target, {"code": code}, settings,
                                  cookies=await _final(services, interaction, now))


@post("/interaction/{uid:str}/abort", status_code=303, request_max_body_size=_MAX_FORM, summary="Cancel the login",
      tags=["Interaction"])
async def abort(
    uid: FromPath[str], request: AnyRequest, services: NamedDependency[Services], metrics: NamedDependency[Metrics]
) -> Response[Any]:
    """The person cancels: ``access_denied`` to the client."""
    now = utcnow()
    if (interaction := await _posted_interaction(request, services, uid, now)) is None:
        return expired_page(request_language(request))
    return await _deny(request, services, metrics, interaction, AccessDenied("the person cancelled the login"), now)


_COOKIE: Final = doc.parameter("cookie", INTERACTION_COOKIE, "binds the interaction to the browser that started it")
_EXPIRED: Final = doc.html(400, description="the interaction is unknown, expired or another browser's")
_ANSWER: Final = doc.responses(doc.see_other("the next step, or the answer to the client"),
                               doc.html(200, description="response_mode form_post: the answer to the client"), _EXPIRED)
OPENAPI: Final = {
    "/interaction/{uid}": {"get": doc.operation(parameters=[_COOKIE], responses=doc.responses(
        doc.html(200, description="the login page"), doc.see_other("the next step, once logged in"), _EXPIRED))},
    "/interaction/{uid}/consent": {
        "get": doc.operation(parameters=[_COOKIE], responses=doc.responses(
            doc.html(200, description="the consent page"), doc.see_other("the login page, before the login"),
            _EXPIRED)),
        "post": doc.operation(
            parameters=[_COOKIE],
            body=doc.form_body({"decision": {"type": "string", "enum": ["allow", "deny"]},
                                "claim": {"type": "array", "items": {"type": "string"},
                                          "description": "the approved claims"}}, optional=True),
            responses=doc.responses(_ANSWER, doc.html(400, description="the form cannot be read"), doc.too_large()))},
    "/interaction/{uid}/sign": {
        "get": doc.operation(parameters=[_COOKIE], responses=doc.responses(
            doc.html(200, description="the signing consent page"),
            doc.see_other("the login page, once decided"),
            doc.html(400, description="no signing request, or the interaction is unknown or expired"))),
        "post": doc.operation(
            parameters=[_COOKIE],
            body=doc.form_body({"decision": {"type": "string", "enum": ["approve", "refuse"]}}, optional=True),
            responses=doc.responses(_ANSWER, doc.html(400, description="the form cannot be read"), doc.too_large()))},
    "/interaction/{uid}/resume": {"get": doc.operation(parameters=[_COOKIE], responses=_ANSWER)},
    "/interaction/{uid}/abort": {"post": doc.operation(parameters=[_COOKIE], body=doc.form_body({}, optional=True),
                                                       responses=doc.responses(_ANSWER, doc.too_large()))},
}

ROUTES: Final = (login_page, consent_form, consent_decision, sign_form, sign_decision, resume, abort)

__all__ = ["ROUTES", "feature_metadata"]
