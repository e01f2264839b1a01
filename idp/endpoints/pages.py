"""The authorization side's server-rendered pages: error, consent, form post, and their common frame.

Pages are small HTML documents in Japanese or English (the first of ``ui_locales`` we speak, else the browser's
``Accept-Language``, else Japanese),
every value escaped, no script except the form-post page's one fixed line (allowed by its hash). Headers:
``Cache-Control: no-store``, a CSP without ``unsafe-inline`` (``frame-ancestors 'none'``, ``form-action`` the
provider and, where a form leads there through redirects, the client's redirect URI), ``X-Frame-Options: DENY``,
``Referrer-Policy: same-origin`` (no referrer leaves the provider; ``no-referrer`` would make browsers send
``Origin: null`` with the pages' own form posts, which the origin check refuses), ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any, Final
from urllib.parse import urlsplit

from litestar import MediaType, Request, Response
from litestar.datastructures import Cookie

from idp.errors import OAuthError
from idp.oauth.consent import LABELS
from idp.settings import Settings

LANGUAGES: Final = ("ja", "en")
_STYLE: Final = ("body{font-family:sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}"
                 ".error{color:#a00}label{display:block;margin:.5rem 0}button{margin:.5rem .5rem 0 0}"
                 "dd{margin:0 0 .5rem 1.5rem;color:#333}fieldset{border:1px solid #767676;margin:1rem 0}"
                 "button{font-size:1rem;padding:.4rem 1rem}"
                 ":focus-visible{outline:3px solid #1a5fb4;outline-offset:2px}")
_FORM_POST_SCRIPT: Final = "document.forms[0].submit();"
_CSP_SOURCE: Final = re.compile(r"[A-Za-z0-9.+-]+:(//[A-Za-z0-9.\-\[\]:]+)?")
_MAX_ACCEPT_LANGUAGE: Final = 512


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _accepted(accept_language: str) -> list[str]:
    """The language tags of an ``Accept-Language`` header (RFC 9110 §12.5.4), most preferred first, q=0 left out."""
    weighted: list[tuple[float, int, str]] = []
    for index, item in enumerate(accept_language[:_MAX_ACCEPT_LANGUAGE].split(",")[:32]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag.strip() and quality > 0:
            weighted.append((-quality, index, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


def language(ui_locales: Iterable[str], accept_language: str | None = None) -> str:
    """The page language: the first of ``ui_locales`` (OIDC Core §3.1.2.1) we speak, else the browser's most
    preferred language we speak (``Accept-Language``), else Japanese."""
    for tag in (*ui_locales, *_accepted(accept_language or "")):
        primary = tag.split("-")[0].lower()
        if primary in LANGUAGES:
            return primary
    return "ja"


def request_language(request: Request[Any, Any, Any], ui_locales: Iterable[str] = ()) -> str:
    """:func:`language` for a request: ``ui_locales``, then the request's ``Accept-Language``."""
    return language(ui_locales, request.headers.get("accept-language"))


def say(lang: str, ja: str, en: str) -> str:
    """The text in the page language."""
    return ja if lang == "ja" else en


def redirect_source(redirect_uri: str) -> str | None:
    """The CSP source expression of a redirect URI's origin (or scheme, for private-use schemes)."""
    parts = urlsplit(redirect_uri)
    source = f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else f"{parts.scheme}:"
    return source if _CSP_SOURCE.fullmatch(source) else None


def headers(*, form_action: Sequence[str] = (), script: str | None = None) -> dict[str, str]:
    """The security headers of a page whose forms may lead to ``form_action`` besides the provider."""
    sources = " ".join(["'self'", *form_action])
    csp = (f"default-src 'none'; style-src {_hash(_STYLE)}; img-src 'self'; form-action {sources}; "
           f"frame-ancestors 'none'; base-uri 'none'")
    if script is not None:
        csp += f"; script-src {_hash(script)}"
    return {"Cache-Control": "no-store", "Pragma": "no-cache", "Content-Security-Policy": csp,
            "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin", "X-Content-Type-Options": "nosniff"}


def page(title: str, body: str, lang: str, *, status: int = 200, form_action: Sequence[str] = (),
         script: str | None = None, cookies: Sequence[Cookie] = ()) -> Response[str]:
    """A complete page; ``title`` is escaped here, ``body`` must be escaped HTML already."""
    script_tag = "" if script is None else f"<script>{script}</script>"
    document = (f'<!doctype html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
                f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n<main>\n"
                f"<h1>{escape(title)}</h1>\n{body}\n</main>\n{script_tag}\n</body>\n</html>\n")
    return Response(document, status_code=status, media_type=MediaType.HTML,
                    headers=headers(form_action=form_action, script=script), cookies=list(cookies))


def message_page(lang: str, title: tuple[str, str], text: tuple[str, str], *, status: int) -> Response[str]:
    """A page that only says something, ``title`` and ``text`` as (Japanese, English)."""
    return page(say(lang, *title), f"<p>{escape(say(lang, *text))}</p>", lang, status=status)


#: The page of an interaction that has ended, expired, or belongs to another browser.
EXPIRED: Final = (("期限切れ", "Expired"),
                  ("このログインは終了したか期限切れです。サービスの画面からもう一度お試しください。",
                   "This login has ended or expired. Please start again from the service."))


def expired_page(lang: str = "ja") -> Response[str]:
    """The page of an interaction that has ended, expired, or belongs to another browser."""
    return message_page(lang, *EXPIRED, status=400)


def error_page(error: OAuthError, lang: str, *, cookies: Sequence[Cookie] = ()) -> Response[str]:
    """An authorization error that cannot go back to the client (RFC 6749 §4.1.2.1): shown to the person."""
    text = say(lang, "サービスからの要求を処理できませんでした。サービスに戻り、もう一度お試しください。",
               "The request from the service could not be processed. Please go back to the service and try again.")
    body = (f"<p>{escape(text)}</p>\n"
            f'<p class="error"><code>{escape(error.error)}</code>: {escape(error.description)}</p>')
    return page(say(lang, "エラー", "Error"), body, lang, status=error.status_code, cookies=cookies)


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
    fields = "\n".join(f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
                       for name, value in params.items())
    body = (f'<form method="post" action="{escape(redirect_uri)}">\n{fields}\n'
            f'<noscript><button type="submit">続ける / Continue</button></noscript>\n</form>')
    source = redirect_source(redirect_uri)
    return page("送信中 / Submitting", body, "ja", form_action=[source] if source else [], script=_FORM_POST_SCRIPT,
                cookies=cookies)


def label(name: str, lang: str) -> str:
    """The label of a claim or scope value on the consent page (its name when we have none)."""
    labels = LABELS.get(name)
    return name if labels is None else say(lang, *labels)


def shown_value(value: Any, lang: str) -> str:
    """A claim value as the person reads it (escaped)."""
    if isinstance(value, bool):
        return escape(say(lang, "はい", "yes") if value else say(lang, "いいえ", "no"))
    if isinstance(value, Mapping) and isinstance(value.get("formatted"), str):
        return escape(value["formatted"])
    return escape(str(value))


def consent_page(*, uid: str, client_id: str, scopes: Sequence[str], claims: Sequence[tuple[str, Any, bool]],
                 lang: str, redirect_uri: str, cookies: Sequence[Cookie] = ()) -> Response[str]:
    """The consent page of interaction ``uid``: what ``client_id`` gets, each claim (name, value, pre-approved)
    with its own checkbox."""
    e = escape
    items = "".join(f"<li>{e(label(s, lang))}</li>" for s in scopes if s in LABELS)
    boxes = "\n".join(
        f'<label><input type="checkbox" name="claim" value="{e(name)}"{" checked" if checked else ""}> '
        f"{e(label(name, lang))}: <strong>{shown_value(value, lang)}</strong></label>"
        for name, value, checked in claims)
    choose = say(lang, "提供する項目を選んでください（選ばなかった項目は提供されません）:",
                 "Choose what to give (anything not ticked is not given):")
    claims_part = f"<fieldset>\n<legend>{e(choose)}</legend>\n{boxes}\n</fieldset>" if claims else ""
    asks = say(lang, f"サービス「{client_id}」が次の利用を求めています。",
               f"The service “{client_id}” asks for the following.")
    body = (f"<p>{e(asks)}</p>\n"
            f"<ul>{items}</ul>\n"
            f'<form method="post" action="/interaction/{e(uid)}/consent">\n{claims_part}\n'
            f'<button type="submit" name="decision" value="allow">{e(say(lang, "許可する", "Allow"))}</button>'
            f'<button type="submit" name="decision" value="deny">{e(say(lang, "拒否する", "Deny"))}</button>\n'
            "</form>")
    source = redirect_source(redirect_uri)
    return page(say(lang, "情報提供の確認", "Consent"), body, lang, form_action=[source] if source else [],
                cookies=cookies)


__all__ = ["EXPIRED", "LANGUAGES", "consent_page", "error_page", "expired_page", "form_post_page", "headers", "label",
           "language", "message_page", "page", "redirect_source", "request_language", "same_origin", "say",
           "shown_value", "wants_html"]
