"""The provider's server-rendered pages: templates in ``idp/templates/``, words in ``idp/messages.toml``.

Pages are in Japanese or English (:func:`request_language`: the first of ``ui_locales`` we speak, else the
browser's ``Accept-Language``, else Japanese), every value escaped by the templates' autoescape, no script except
the form-post page's one fixed line (allowed by its hash). Headers (:func:`headers`): ``Cache-Control: no-store``,
a CSP without ``unsafe-inline`` (the shared stylesheet, :mod:`servicekit.design`, from the provider's own origin;
``frame-ancestors 'none'``, ``form-action`` the
provider and, where a form leads there through redirects, the client's redirect URI), ``X-Frame-Options: DENY``,
``Referrer-Policy: same-origin`` (no referrer leaves the provider; ``no-referrer`` would make browsers send
``Origin: null`` with the pages' own form posts, which the origin check refuses), ``X-Content-Type-Options: nosniff``.

Usage::

    return page("logout_confirm.html", lang, form_action=[source], client_id=client_id, logout_id=logout_id, ...)
    return message_page(lang, "portal.failed_title", "portal.failed_text", status=400)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

from litestar import MediaType, Request, Response
from litestar.datastructures import Cookie

from idp.clients import Client
from idp.errors import OAuthError
from idp.settings import Settings
from idp.web.logos import logo_path
from servicekit.design import STYLESHEET
from servicekit.messages import LANGUAGES, Catalog, language
from servicekit.templates import Templates, csp_hash

MESSAGES: Final = Catalog.load("idp", "messages.toml")
TEMPLATES: Final = Templates("idp", catalog=MESSAGES)
TEMPLATES.environment.globals["stylesheet"] = STYLESHEET.href
_FORM_POST_SCRIPT: Final = "form_post.js"
_CSP_SOURCE: Final = re.compile(r"[A-Za-z0-9.+-]+:(//[A-Za-z0-9.\-\[\]:]+)?")
_LABEL: Final = "consent.label."


def message(key: str, lang: str, **params: object) -> str:
    """The provider's message ``key`` in ``lang`` (:meth:`servicekit.messages.Catalog.message`)."""
    return MESSAGES.message(key, lang, **params)


def request_language(request: Request[Any, Any, Any], ui_locales: Iterable[str] = ()) -> str:
    """:func:`servicekit.messages.language` for a request: ``ui_locales``, then the request's ``Accept-Language``."""
    return language(ui_locales, request.headers.get("accept-language"))


def redirect_source(redirect_uri: str) -> str | None:
    """The CSP source expression of a redirect URI's origin (or scheme, for private-use schemes)."""
    parts = urlsplit(redirect_uri)
    source = f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else f"{parts.scheme}:"
    return source if _CSP_SOURCE.fullmatch(source) else None


def form_actions(redirect_uri: str | None) -> list[str]:
    """The ``form-action`` sources beyond the provider of a page whose forms lead on to ``redirect_uri``."""
    source = redirect_source(redirect_uri) if redirect_uri else None
    return [source] if source else []


def headers(*, form_action: Sequence[str] = (), script: str | None = None) -> dict[str, str]:
    """The security headers of a page whose forms may lead to ``form_action`` besides the provider (``script``:
    the text of its one inline script)."""
    sources = " ".join(["'self'", *form_action])
    csp = (f"default-src 'none'; style-src 'self'; img-src 'self'; form-action {sources}; "
           f"frame-ancestors 'none'; base-uri 'none'")
    if script is not None:
        csp += f"; script-src {csp_hash(script)}"
    return {"Cache-Control": "no-store", "Pragma": "no-cache", "Content-Security-Policy": csp,
            "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin", "X-Content-Type-Options": "nosniff"}


def page(template: str, lang: str, *, status: int = 200, form_action: Sequence[str] = (), script: str | None = None,
         cookies: Sequence[Cookie] = (), **context: Any) -> Response[str]:
    """Page ``template`` (extending ``base.html``) in ``lang``; ``script`` names the template of its inline script."""
    document = TEMPLATES.render(template, lang=lang, **context)
    script_text = None if script is None else TEMPLATES.render(script)
    return Response(document, status_code=status, media_type=MediaType.HTML,
                    headers=headers(form_action=form_action, script=script_text), cookies=list(cookies))


def message_page(lang: str, title: str, text: str, *, status: int) -> Response[str]:
    """A page that only says something: messages ``title`` and ``text``."""
    return page("message.html", lang, status=status, title_key=title, text_key=text)


def expired_page(lang: str = "ja") -> Response[str]:
    """The page of an interaction that has ended, expired, or belongs to another browser."""
    return message_page(lang, "expired.title", "expired.text", status=400)


def error_page(error: OAuthError, lang: str, *, cookies: Sequence[Cookie] = ()) -> Response[str]:
    """An authorization error that cannot go back to the client (RFC 6749 §4.1.2.1): shown to the person."""
    return page("error.html", lang, status=error.status_code, cookies=cookies, error=error.error,
                description=error.description)


def same_origin(request: Request[Any, Any, Any], settings: Settings) -> bool:
    """Whether a form POST comes from a page of the provider (without an ``Origin`` header, from an old browser,
    it is accepted: the cookies' SameSite=Lax already keeps other sites' posts out)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    issuer = urlsplit(settings.issuer)
    return origin == f"{issuer.scheme}://{issuer.netloc}"


def wants_html(accept: str) -> bool:
    """Whether a client that sent this ``Accept`` header prefers an HTML page to JSON."""
    return "text/html" in accept or "application/json" not in accept


def form_post_page(redirect_uri: str, params: Mapping[str, str], *, cookies: Sequence[Cookie] = ()) -> Response[str]:
    """OAuth 2.0 Form Post Response Mode §2: the response parameters posted to the redirect URI by the browser."""
    return page("form_post.html", "ja", form_action=form_actions(redirect_uri), script=_FORM_POST_SCRIPT,
                cookies=cookies, redirect_uri=redirect_uri, params=params)


def has_label(name: str) -> bool:
    """Whether a claim or scope value has a label for the consent page."""
    return _LABEL + name in MESSAGES


def label(name: str, lang: str) -> str:
    """The label of a claim or scope value on the consent page (its name when we have none)."""
    return message(_LABEL + name, lang) if has_label(name) else name


def shown_value(value: Any, lang: str) -> str:
    """A claim value as the person reads it (text; the template escapes it)."""
    if isinstance(value, bool):
        return message("common.yes" if value else "common.no", lang)
    if isinstance(value, Mapping) and isinstance(value.get("formatted"), str):
        return str(value["formatted"])
    return str(value)


def client_view(client: Client | None, client_id: str, lang: str) -> dict[str, str | None]:
    """Who is asking, as the pages show it (``client.html``): the name in ``lang`` (the ``client_id`` when none is
    registered), the logo the provider stored, the privacy policy's and terms' URLs (OIDC Dynamic Client
    Registration §2)."""
    shown = None if client is None else client.presentation
    logo = None if client is None or client.logo_sha256 is None else logo_path(client.client_id, client.logo_sha256)
    if shown is None:
        return {"name": client_id, "id": client_id, "logo": None, "policy": None, "terms": None}
    return {"name": shown.name(lang) or client_id, "id": client_id, "logo": logo, "policy": shown.policy(lang),
            "terms": shown.terms(lang)}


def consent_page(*, uid: str, client: Client | None, client_id: str, scopes: Sequence[str],
                 claims: Sequence[tuple[str, Any, bool]], lang: str, redirect_uri: str,
                 cookies: Sequence[Cookie] = ()) -> Response[str]:
    """The consent page of interaction ``uid``: who asks (``client``, registered as ``client_id``), each claim
    (name, value, pre-approved) with its own checkbox and the client's purpose of use beside it."""
    def purpose(name: str) -> str | None:
        return None if client is None else client.presentation.purpose([name], lang)

    shown = [{"name": name, "label": label(name, lang), "value": shown_value(value, lang), "checked": checked,
              "purpose": purpose(name)} for name, value, checked in claims]
    offered = {name for name, _, _ in claims}  # a claim's purpose is shown beside its checkbox, not twice
    asked = [{"label": label(s, lang), "purpose": None if s in offered else purpose(s)} for s in scopes
             if has_label(s)]
    return page("consent.html", lang, form_action=form_actions(redirect_uri), cookies=cookies, uid=uid,
                client=client_view(client, client_id, lang), client_id=client_id, scopes=asked, claims=shown)


__all__ = ["LANGUAGES", "MESSAGES", "TEMPLATES", "client_view", "consent_page", "error_page", "expired_page",
           "form_actions", "form_post_page", "has_label", "headers", "label", "language", "message", "message_page",
           "page", "redirect_source", "request_language", "same_origin", "shown_value", "wants_html"]
