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
from html import escape
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

from litestar import Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.response import Redirect

from credentials.oid4vci.configurations import CONFIGURATIONS
from credentials.oid4vci.offer import CredentialOffer, offer_link, qr_svg
from idp.endpoints.pages import language, message_page, page, same_origin, say
from idp.oauth.authorization_request import AuthorizationRequest, push_request
from idp.oauth.grants.authorization_code import CODE_KIND
from idp.oauth.pkce import s256_challenge, verify_code_verifier
from idp.oauth.session import digest, secure_cookies
from idp.oauth.tokens import GRANT_KIND
from idp.runtime import Services, utcnow
from idp.vci.grant import ISSUANCE_MEMBER
from idp.vci.preauth import CALLBACK_PATH, ISSUER_CLIENT_ID, create_offer
from idp.web.forms import AnyRequest

PATH: Final = "/credentials"
START_PATH: Final = "/credentials/start"
PORTAL_KIND: Final = "CredentialPortal"
PORTAL_COOKIE: Final = "mynacard_portal"
_NO_STORE: Final = {"Cache-Control": "no-store"}
#: Texts of the pages: (Japanese, English).
THIS_DEVICE: Final = ("このデバイスのウォレットで受け取る", "Receive in a wallet on this device")
OPEN_WALLET: Final = ("ウォレットを開く", "Open the wallet")
ON_PHONE: Final = ("スマートフォンで受け取る", "Receive on your phone")
PHONE_HOW: Final = ("このPCでマイナンバーカードでログインし、"
                    "表示されるQRコードをスマートフォンのウォレットで読み取ります。",
                    "Log in with your My Number card on this PC, then scan the QR code shown with the wallet on your "
                    "phone.")
SCAN: Final = ("スマートフォンのウォレットでこのQRコードを読み取ってください。",
               "Scan this QR code with the wallet on your phone.")
TX_CODE: Final = ("ウォレットに入力する確認コード:", "Confirmation code to enter in the wallet:")
VALIDITY: Final = ("有効期限は約{minutes}分です。このコードを他人に教えないでください。",
                   "Valid for about {minutes} minutes. Do not tell this code to anyone.")


def _chosen(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v in CONFIGURATIONS))


def _choice_form(lang: str, chosen: tuple[str, ...]) -> str:
    boxes = "".join(
        f'<label><input type="checkbox" name="configuration" value="{escape(c.id)}"'
        f'{" checked" if c.id in chosen else ""}> {escape(say(lang, *c.name))}</label><br>\n'
        for c in CONFIGURATIONS.values())
    return (f'<form method="get" action="{PATH}">\n{boxes}'
            f'<button type="submit">{escape(say(lang, "選ぶ", "Choose"))}</button></form>\n')


@get(PATH, summary="Get a credential", tags=["OpenID4VCI"])
async def portal(request: AnyRequest, services: NamedDependency[Services]) -> Response[str]:
    """The choice, and the two ways to receive the chosen credentials."""
    lang = language([request.query_params.get("lang", "ja")])
    chosen = _chosen(request.query_params.getall("configuration", []))
    body = _choice_form(lang, chosen)
    if chosen:
        offer = CredentialOffer(services.settings.issuer, chosen, issuer_state=secrets.token_urlsafe(16),
                                authorization_code=True)
        link = offer_link(offer=offer)
        hidden = "".join(f'<input type="hidden" name="configuration" value="{escape(c)}">' for c in chosen)
        body += (f"<h2>{escape(say(lang, *THIS_DEVICE))}</h2>\n"
                 f'<p><a class="offer" href="{escape(link)}">{escape(say(lang, *OPEN_WALLET))}</a></p>\n'
                 f"{qr_svg(link)}\n<h2>{escape(say(lang, *ON_PHONE))}</h2>\n<p>{escape(say(lang, *PHONE_HOW))}</p>\n"
                 f'<form method="post" action="{START_PATH}">{hidden}'
                 f'<button type="submit">{escape(say(lang, "ログインする", "Log in"))}</button></form>')
    return page(say(lang, "証明書を受け取る", "Get a credential"), body, lang)


@post(START_PATH, status_code=303, request_max_body_size=4096, summary="Log in for a pre-authorized offer",
      tags=["OpenID4VCI"])
async def start(request: AnyRequest, services: NamedDependency[Services]) -> Response[Any]:
    """The issuer client's authorization request for the chosen configurations."""
    now, settings = utcnow(), services.settings
    if not same_origin(request, settings):
        return message_page("ja", ("エラー", "Error"), ("もう一度お試しください。", "Please try again."), status=400)
    try:
        fields = parse_qsl((await request.body()).decode("utf-8"), max_num_fields=16)
    except (UnicodeDecodeError, ValueError):
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
    return message_page(lang, ("受け取れませんでした", "Not received"),
                        ("ログインが完了しなかったか、期限が切れました。もう一度お試しください。",
                         "The login did not complete or has expired. Please try again."), status=400)


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
        return message_page(lang, ("受け取れませんでした", "Not received"),
                            ("証明書に含める項目が選ばれませんでした。", "Nothing was chosen to go into a credential."),
                            status=400)
    offered = await create_offer(services, issuance, tuple(portal_state.payload["configurations"]), now)
    link = offer_link(uri=offered.uri)
    minutes = int((offered.expires_at - now).total_seconds() // 60)
    validity = say(lang, *VALIDITY).format(minutes=minutes)
    body = (f"<p>{escape(say(lang, *SCAN))}</p>\n{qr_svg(link)}\n"
            f'<p><a class="offer" href="{escape(link)}">{escape(link)}</a></p>\n'
            f"<p>{escape(say(lang, *TX_CODE))}</p>\n"
            f'<p class="tx-code"><strong>{escape(offered.tx_code)}</strong></p>\n<p>{escape(validity)}</p>')
    response = page(say(lang, *ON_PHONE), body, lang)
    response.cookies.append(Cookie(PORTAL_COOKIE, value="", path=CALLBACK_PATH, max_age=0, httponly=True,
                                   samesite="lax", secure=secure_cookies(settings.issuer)))
    return response


ROUTES: Final = (portal, start, callback)

__all__ = ["PATH", "PORTAL_COOKIE", "ROUTES"]
