"""``/credentials``: the issuer's own pages, where a person starts getting a credential.

``GET /credentials``
    Choose credentials (``configuration`` query values, ``jp_age`` / ``jp_basic4``). With a choice made, the page
    shows (a) a Credential Offer by value for the authorization code flow (``openid-credential-offer://`` link and
    QR code; the wallet then logs in with the card itself) and (b) the "log in here, take it on the phone" form.
``POST /credentials/start``
    Starts that login: an authorization request of the issuer client (:data:`idp.vci.preauth.ISSUER_CLIENT_ID`)
    for the chosen configurations, pushed internally (PKCE S256, ``prompt=login``), bound to this browser by the
    cookie ``mynacard_portal``; the browser goes through the card login and the consent page like any other.
``GET /credentials/callback``
    The issuer client's redirect URI: the code is redeemed here (once, by PKCE, for this browser only), the
    datasets the login granted get a pre-authorized code (:func:`idp.vci.preauth.create_offer`), and the page
    shows the offer by reference as a QR code and link, and — separately — the Transaction Code to type into the
    wallet. The portal's own grant is revoked at once: it existed only to carry the login.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any, Final
from urllib.parse import urlencode

from litestar import Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.response import Redirect
from markupsafe import Markup

from credentials.oid4vci.configurations import CONFIGURATIONS
from credentials.oid4vci.offer import CredentialOffer, offer_link, qr_svg
from idp.oauth.authorization_request import AuthorizationRequest, push_request
from idp.oauth.grants.authorization_code import CODE_KIND
from idp.oauth.pkce import s256_challenge, verify_code_verifier
from idp.oauth.session import digest, secure_cookies
from idp.oauth.tokens import GRANT_KIND
from idp.runtime import Services, utcnow
from idp.vci.grant import ISSUANCE_MEMBER
from idp.vci.preauth import CALLBACK_PATH, ISSUER_CLIENT_ID, create_offer
from idp.web.forms import AnyRequest
from idp.web.pages import LANGUAGES, language, message_page, page, same_origin
from servicekit.http import openapi as doc
from servicekit.http.bodies import BodyError, parse_form_pairs

PATH: Final = "/credentials"
START_PATH: Final = "/credentials/start"
PORTAL_KIND: Final = "CredentialPortal"
PORTAL_COOKIE: Final = "mynacard_portal"
_NO_STORE: Final = {"Cache-Control": "no-store"}
_MAX_FORM: Final = 4096


def _chosen(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v in CONFIGURATIONS))


def _qr(link: str) -> Markup:
    return Markup(qr_svg(link))  # noqa: S704 - segno's own SVG of the link, no text of ours inside


@get(PATH, summary="Get a credential", tags=["OpenID4VCI"])
async def portal(request: AnyRequest, services: NamedDependency[Services]) -> Response[str]:
    """The choice, and the two ways to receive the chosen credentials."""
    lang = language([request.query_params.get("lang", "ja")])
    chosen = _chosen(request.query_params.getall("configuration", []))
    configurations = [{"id": c.id, "name": c.name[LANGUAGES.index(lang)], "checked": c.id in chosen}
                      for c in CONFIGURATIONS.values()]
    link = ""
    if chosen:
        offer = CredentialOffer(services.settings.issuer, chosen, issuer_state=secrets.token_urlsafe(16),
                                authorization_code=True)
        link = offer_link(offer=offer)
    return page("portal.html", lang, path=PATH, start_path=START_PATH, configurations=configurations, chosen=chosen,
                link=link, qr=_qr(link) if chosen else "")


@post(START_PATH, status_code=303, request_max_body_size=_MAX_FORM, summary="Log in for a pre-authorized offer",
      tags=["OpenID4VCI"])
async def start(request: AnyRequest, services: NamedDependency[Services]) -> Response[Any]:
    """The issuer client's authorization request for the chosen configurations."""
    now, settings = utcnow(), services.settings
    if not same_origin(request, settings):
        return message_page("ja", "common.error", "common.try_again", status=400)
    try:
        fields = parse_form_pairs(await request.body(), max_bytes=_MAX_FORM, max_fields=16)
    except BodyError:
        fields = []
    chosen = _chosen([v for k, v in fields if k == "configuration"])
    if not chosen:
        return Redirect(PATH, status_code=303, headers=_NO_STORE)
    verifier, state, secret = (secrets.token_urlsafe(48) for _ in range(3))
    auth = AuthorizationRequest(client_id=ISSUER_CLIENT_ID, redirect_uri=settings.issuer + CALLBACK_PATH,
                                scope=chosen, code_challenge=s256_challenge(verifier), state=state, prompt=("login",))
    request_uri, _ = await push_request(services, auth, now)
    ttl = dt.timedelta(seconds=settings.authorization.interaction_ttl)
    await services.objects.upsert(PORTAL_KIND, state, {"verifier": verifier, "browser": digest(secret),
                                                       "configurations": list(chosen)}, now + ttl)
    cookie = Cookie(PORTAL_COOKIE, value=secret, path=CALLBACK_PATH, max_age=int(ttl.total_seconds()), httponly=True,
                    samesite="lax", secure=secure_cookies(settings.issuer))
    location = "/authorize?" + urlencode({"client_id": ISSUER_CLIENT_ID, "request_uri": request_uri})
    return Redirect(location, status_code=303, headers=_NO_STORE, cookies=[cookie])


def _failed(lang: str) -> Response[str]:
    return message_page(lang, "portal.failed_title", "portal.failed_text", status=400)


@get(CALLBACK_PATH, summary="The issuer client's redirect URI", tags=["OpenID4VCI"])
async def callback(request: AnyRequest, services: NamedDependency[Services]) -> Response[str]:
    """Redeem the portal's code and show the pre-authorized offer with its Transaction Code."""
    now, settings, lang = utcnow(), services.settings, "ja"
    query = request.query_params
    state, code = query.get("state", ""), query.get("code", "")
    portal_state = await services.objects.consume(PORTAL_KIND, state, now=now) if 0 < len(state) <= 255 else None
    secret = request.cookies.get(PORTAL_COOKIE, "")
    if portal_state is None or not secret or digest(secret) != portal_state.payload["browser"] or not code \
            or len(code) > 255 or query.get("iss") != settings.issuer:
        return _failed(lang)
    stored = await services.objects.consume(CODE_KIND, code, now=now)
    if stored is None or stored.payload.get("client_id") != ISSUER_CLIENT_ID or not verify_code_verifier(
            portal_state.payload["verifier"], str(stored.payload.get("code_challenge"))):
        return _failed(lang)
    grant_id = str(stored.payload["grant_id"])
    grant = await services.objects.find(GRANT_KIND, grant_id, now=now)
    await services.objects.revoke_by_grant(grant_id)
    issuance = None if grant is None else grant.payload.get(ISSUANCE_MEMBER)
    if not isinstance(issuance, str):
        return message_page(lang, "portal.failed_title", "portal.nothing_chosen", status=400)
    offered = await create_offer(services, issuance, tuple(portal_state.payload["configurations"]), now)
    link = offer_link(uri=offered.uri)
    minutes = int((offered.expires_at - now).total_seconds() // 60)
    response = page("portal_offer.html", lang, qr=_qr(link), link=link, tx_code=offered.tx_code, minutes=minutes)
    response.cookies.append(Cookie(PORTAL_COOKIE, value="", path=CALLBACK_PATH, max_age=0, httponly=True,
                                   samesite="lax", secure=secure_cookies(settings.issuer)))
    return response


OPENAPI: Final = {
    PATH: {"get": doc.operation(
        parameters=[doc.parameter("query", "configuration", "the chosen Credential Configurations",
                                  schema={"type": "array", "items": {"type": "string"}}),
                    doc.parameter("query", "lang", "ja or en")],
        responses=doc.html(200, description="the portal page"))},
    START_PATH: {"post": doc.operation(
        body=doc.form_body({"configuration": {"description": "the chosen configurations (repeated); others ignored"}},
                           optional=True),
        responses=doc.responses(
            doc.see_other("to the authorization endpoint, or back to the portal when nothing is chosen"),
            doc.html(400, description="a request from another origin"), doc.too_large()))},
    CALLBACK_PATH: {"get": doc.operation(
        parameters=[*doc.query("code", "state", "iss"), doc.parameter("cookie", PORTAL_COOKIE, "the portal's browser")],
        responses=doc.responses(doc.html(200, description="the offer with its Transaction Code"),
                                doc.html(400, description="the login failed or is not this browser's")))},
}

ROUTES: Final = (portal, start, callback)

__all__ = ["PATH", "PORTAL_COOKIE", "ROUTES"]
