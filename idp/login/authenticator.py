"""The card authenticator (``login.authenticator = "card"``): its login page, and what a card login proves.

Which card key a login asks for, from the authorization request:

* the signing key (署名用, ``acr`` :data:`ACR_SIGN`) when ``acr_values`` contains :data:`ACR_SIGN`, or when the
  request asks for any claim only a signing certificate holds (:func:`idp.oauth.interaction.
  personal_claims_requested`: name, birthdate, gender, address, age_over_18, age_over_20, through scope values
  or the ``claims`` parameter), or when the request carries ``authorization_details`` of a type whose login needs
  :data:`ACR_SIGN` (``jpki_sign``: :mod:`idp.sign.details`);
* otherwise the authentication key (利用者証明用, ``acr`` :data:`ACR_AUTH`), which releases no personal data.
  A ``verified_claims`` request that names no claim (verification only) is answered at an authentication-key
  login from the account's linked signing certificate (:mod:`idp.login.accounts`: when and with which
  certificate the account was identity-verified), so it does not need the signing key.

Both give ``amr`` ``["sc", "pin"]`` (RFC 8176: smart card, PIN). The login is bound to the browser by the
interaction's own cookie (``mynacard_interaction``, path ``/interaction/{uid}``), which also covers the card
login's status and finish steps under ``/interaction/{uid}/card/``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from litestar import Request, Response

from idp.login.page import content_security_policy, login_page
from idp.login.store import CardLogins, show_code
from idp.oauth.authorization_request import AuthorizationRequest
from idp.oauth.authorization_request.details import types_of
from idp.oauth.consent import RELEASABLE_CLAIMS
from idp.oauth.interaction import Interaction, personal_claims_requested
from idp.oauth.verified_claims import VERIFIED_CLAIMS, requested_claim_names
from idp.runtime import Services, utcnow
from idp.web.pages import client_view, redirect_source, request_language
from keys.x509.profile import Purpose

ACR_AUTH: Final = "urn:mynacard:acr:auth-cert"
ACR_SIGN: Final = "urn:mynacard:acr:sign-cert"
ACRS: Final = {Purpose.AUTH: ACR_AUTH, Purpose.SIGN: ACR_SIGN}
AMR: Final = ("sc", "pin")

AnyRequest = Request[Any, Any, Any]


def required_key(request: AuthorizationRequest) -> Purpose:
    """The card key the authorization request needs (see the module docstring)."""
    if ACR_SIGN in request.acr_values or _facts_requested(request):
        return Purpose.SIGN
    if any(t.acr == ACR_SIGN for t in types_of(request.authorization_details)):
        return Purpose.SIGN
    return Purpose.AUTH


def _facts_requested(request: AuthorizationRequest) -> bool:
    """Whether the request asks for a claim the signing certificate holds: a personal claim, or a
    ``verified_claims`` element naming claims (one asking for the verification only does not)."""
    if not personal_claims_requested(request):
        return False
    requested = request.requested_claims()
    if any(name != VERIFIED_CLAIMS for members in requested.values() for name in members
           if name in RELEASABLE_CLAIMS):
        return True
    return any(requested_claim_names(members[VERIFIED_CLAIMS].query) for members in requested.values()
               if VERIFIED_CLAIMS in members)


def assurance_requested(request: AuthorizationRequest) -> bool:
    """Whether the request asks for ``verified_claims`` (idp.oauth.verified_claims) anywhere."""
    return any(VERIFIED_CLAIMS in members for members in request.requested_claims().values())


def page_headers(services: Services, redirect_uri: str | None = None) -> dict[str, str]:
    """Headers of the card pages: no caching, no framing, no referrer, a strict CSP (whose ``form-action`` admits
    the relying party's ``redirect_uri``, where finishing or cancelling the login leads through redirects)."""
    source = redirect_source(redirect_uri) if redirect_uri else None
    return {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": content_security_policy(services.settings.card_login.agent_url,
                                                               [source] if source else [])}


class CardAuthenticator:
    """Log in with a My Number card through the card agent (same device) or a code (another device)."""

    name = "card"
    acr_values: tuple[str, ...] = (ACR_AUTH, ACR_SIGN)
    test_only = False

    async def login_page(self, request: AnyRequest, interaction: Interaction, services: Services) -> Response[str]:
        """Open (or, on a reload, reopen) the interaction's card login and render its page."""
        now = utcnow()
        key = required_key(interaction.request)
        options = services.settings.card_login
        expires_at = min(interaction.expires_at, now + dt.timedelta(seconds=options.login_ttl))
        lang = request_language(request, interaction.request.ui_locales)
        client = client_view(await services.clients.get(interaction.client_id), interaction.client_id, lang)
        asked = request.query_params.get("link")  # "link my card" or a renewed card (idp.login.link)
        link = {"1": "card", "renewal": "renewal"}.get(asked or "")
        opened = await CardLogins.of(services).open(interaction.uid, key=key, client_id=interaction.client_id,
                                                    client_name=str(client["name"]),
                                                    expires_at=expires_at, now=now,
                                                    credentials=bool(interaction.request.credential_requests),
                                                    assurance=assurance_requested(interaction.request),
                                                    link=link)
        html = login_page(uid=interaction.uid, issuer=services.settings.issuer, client=client,
                          key=key, token=opened.token, code=opened.code, shown_code=show_code(opened.code),
                          agent_url=options.agent_url, lang=lang, link=link,
                          kiosk=bool(interaction.payload.get("kiosk")),
                          kiosk_idle=services.settings.authorization.kiosk_idle_timeout,
                          kiosk_home=services.settings.authorization.kiosk_home)
        return Response(html, media_type="text/html; charset=utf-8",
                        headers=page_headers(services, interaction.request.redirect_uri))


__all__ = ["ACRS", "ACR_AUTH", "ACR_SIGN", "AMR", "CardAuthenticator", "assurance_requested", "page_headers",
           "required_key"]
