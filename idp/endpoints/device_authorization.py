"""The OAuth 2.0 Device Authorization Grant (RFC 8628) for shared terminals without a usable browser.

``POST /device/auth``
    The device authorization endpoint (§3.1-§3.2), client-authenticated like the token endpoint (public clients
    with ``none`` too): ``scope`` (``openid`` and the personal-data scopes; no ``offline_access``) →
    ``device_code`` (32 random octets), ``user_code``, ``verification_uri`` (``{issuer}/device``),
    ``verification_uri_complete`` (§3.3.1, for a QR code), ``expires_in`` (``authorization.device_code_ttl``) and
    ``interval`` (``authorization.poll_interval``).
``GET /device``, ``POST /device``
    The verification page (§3.3): the person types the user code (case, spaces and dashes do not matter, §6.1);
    at most :data:`MAX_GUESSES` wrong codes per address in :data:`GUESS_WINDOW` (§5.1). A known code shows the
    client asking and a warning against relayed codes (§5.4, remote phishing); ``decision=allow`` starts an
    ordinary interaction (card login with ``max_age=0``, then consent) whose end approves the device code
    (:func:`idp.oauth.decoupled.answer_from_browser`) instead of redirecting; ``deny`` refuses it
    (``access_denied`` at the next poll). The user code is spent by the decision: single use.

The token side is the ``urn:ietf:params:oauth:grant-type:device_code`` grant (:mod:`idp.oauth.grants.device_code`,
polling rules in :mod:`idp.oauth.decoupled`). User codes: 8 letters of the base-20 alphabet
``BCDFGHJKLMNPQRSTVWXZ`` (§6.1: no vowels, no digits, ~34.6 bits), shown ``XXXX-XXXX``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from typing import Any, Final
from urllib.parse import quote

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Redirect

from idp.oauth import decoupled
from idp.oauth.authorization_request.request import AuthorizationRequest
from idp.oauth.client_auth import (
    CLIENT_AUTH_FIELDS,
    CLIENT_AUTH_HEADER,
    INVALID_CLIENT,
    authenticate_client,
    endpoint_audiences,
)
from idp.oauth.interaction import interaction_cookie, interaction_path, start_interaction, update_interaction
from idp.runtime import Services, utcnow
from idp.web.forms import AnyRequest, read_form
from idp.web.pages import client_view, message_page, page, request_language, same_origin
from servicekit.http import openapi as doc
from servicekit.http.bodies import BodyError, read_form_pairs

PATH: Final = "/device/auth"
VERIFICATION_PATH: Final = "/device"
METADATA: Final = {"device_authorization_endpoint": PATH}
#: RFC 8628 §6.1: base-20, no vowels (no words), no digits; 8 characters.
USER_CODE_ALPHABET: Final = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH: Final = 8
#: RFC 8628 §5.1: wrong user codes allowed per client address and window.
MAX_GUESSES: Final = 10
GUESS_WINDOW: Final = dt.timedelta(minutes=10)
USER_CODE_KIND: Final = "DeviceUserCode"
GUESS_KIND: Final = "DeviceCodeGuesses"
_MAX_FORM: Final = 4 * 1024
_NO_STORE: Final = {"Cache-Control": "no-store"}


def new_user_code() -> str:
    """A fresh user code (RFC 8628 §6.1)."""
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))


def normalize_user_code(typed: str) -> str | None:
    """A user code as typed (any case, spaces and dashes), or None if it cannot be one (§6.1)."""
    normal = re.sub(r"[\s-]", "", typed).upper()
    return normal if len(normal) == USER_CODE_LENGTH and all(c in USER_CODE_ALPHABET for c in normal) else None


def show_user_code(code: str) -> str:
    """``XXXX-XXXX``."""
    return f"{code[:4]}-{code[4:]}"


@post(PATH, status_code=200, request_max_body_size=_MAX_FORM, summary="Device authorization", tags=["OAuth 2.0"])
async def device_authorization(request: AnyRequest, services: NamedDependency[Services]) -> Response[dict[str, Any]]:
    """RFC 8628 §3.1-§3.2."""
    form, now, settings = await read_form(request), utcnow(), services.settings
    client = await authenticate_client(form=form, authorization=request.headers.get("authorization"),
                                       services=services, audiences=endpoint_audiences(settings, PATH), now=now)
    scope = decoupled.checked_scope(form.get("scope"), personal=True)
    user_code = new_user_code()
    while await services.objects.find(USER_CODE_KIND, user_code, now=now) is not None:
        user_code = new_user_code()
    expires_in, interval = int(settings.authorization.device_code_ttl), settings.authorization.poll_interval
    device_code, pending = await decoupled.start(services, "device", client_id=client.client_id, scope=scope,
                                                 expires_in=expires_in, interval=interval, now=now)
    await services.objects.upsert(USER_CODE_KIND, user_code, {"pending": pending.id},
                                  now + dt.timedelta(seconds=expires_in))
    uri = settings.issuer + VERIFICATION_PATH
    return Response({"device_code": device_code, "user_code": show_user_code(user_code), "verification_uri": uri,
                     "verification_uri_complete": f"{uri}?user_code={quote(show_user_code(user_code))}",
                     "expires_in": expires_in, "interval": interval}, headers=_NO_STORE, media_type="application/json")


def _entry_page(lang: str, user_code: str = "", error_key: str | None = None, status: int = 200) -> Response[str]:
    return page("device.html", lang, status=status, action=VERIFICATION_PATH, user_code=user_code,
                error_key=error_key)


@get(VERIFICATION_PATH, summary="Device login: enter the code", tags=["OAuth 2.0"])
async def verification_page(request: AnyRequest, user_code: FromQuery[str] = "") -> Response[str]:
    """The form (prefilled from ``verification_uri_complete``)."""
    return _entry_page(request_language(request), user_code[:32])


async def _too_many_guesses(services: Services, address: str, now: dt.datetime) -> bool:
    """Count a wrong code of ``address``; True once it has used up its guesses (RFC 8628 §5.1)."""
    key = hashlib.sha256(address.encode()).hexdigest()
    stored = await services.objects.find(GUESS_KIND, key, now=now)
    count = 1 if stored is None else int(stored.payload["count"]) + 1
    await services.objects.upsert(GUESS_KIND, key, {"count": count},
                                  now + GUESS_WINDOW if stored is None else stored.expires_at)
    return count > MAX_GUESSES


async def _guesses_left(services: Services, address: str, now: dt.datetime) -> bool:
    stored = await services.objects.find(GUESS_KIND, hashlib.sha256(address.encode()).hexdigest(), now=now)
    return stored is None or int(stored.payload["count"]) < MAX_GUESSES


@post(VERIFICATION_PATH, status_code=200, request_max_body_size=_MAX_FORM, summary="Device login: the code",
      tags=["OAuth 2.0"])
async def verification(request: AnyRequest, services: NamedDependency[Services]) -> Response[Any]:
    """Check the code; then confirm (no ``decision``) or act on the person's ``decision``."""
    now, lang = utcnow(), request_language(request)
    if not same_origin(request, services.settings):
        return message_page(lang, "expired.title", "expired.text", status=400)
    try:
        fields = dict(await read_form_pairs(request, max_bytes=_MAX_FORM, max_fields=8))
    except BodyError:
        return _entry_page(lang, error_key="device.unknown", status=400)
    address = request.client.host if request.client is not None else "unknown"
    if not await _guesses_left(services, address, now):
        return _entry_page(lang, error_key="device.too_many", status=429)
    code = normalize_user_code(fields.get("user_code", ""))
    stored = None if code is None else await services.objects.find(USER_CODE_KIND, code, now=now)
    pending = None if stored is None or stored.consumed_at is not None else await decoupled.find(
        services, str(stored.payload["pending"]), now)
    if code is None or pending is None or pending.state != "pending" or pending.expired(now):
        status, key = (429, "device.too_many") if await _too_many_guesses(services, address, now) else (
            400, "device.unknown")
        return _entry_page(lang, fields.get("user_code", "")[:32], key, status)
    decision = fields.get("decision")
    client_id = str(pending.payload["client_id"])
    if decision is None:
        client = client_view(await services.clients.get(client_id), client_id, lang)
        return page("device_confirm.html", lang, action=VERIFICATION_PATH, user_code=show_user_code(code),
                    client=client)
    if await services.objects.consume(USER_CODE_KIND, code, now=now) is None:
        return _entry_page(lang, error_key="device.unknown", status=400)
    if decision != "allow":
        await decoupled.deny(services, pending, now)
        return message_page(lang, "device.denied_title", "device.denied_text",
                            status=200)
    scope = tuple(str(pending.payload["scope"]).split())
    auth = AuthorizationRequest(client_id=client_id, redirect_uri="", scope=scope, code_challenge="",
                                prompt=("login",), max_age=0, ui_locales=(lang,))
    interaction, secret = await start_interaction(services, auth, session=None, login=None, now=now)
    await update_interaction(services, interaction, decoupled=pending.id)
    return Redirect(interaction_path(interaction.uid), status_code=303, headers=_NO_STORE,
                    cookies=[interaction_cookie(interaction.uid, secret, services.settings)])


OPENAPI: Final = {
    PATH: {"post": doc.operation(
        parameters=[CLIENT_AUTH_HEADER],
        body=doc.form_body({**doc.strings("scope"), **CLIENT_AUTH_FIELDS}),
        responses=doc.responses(
            doc.json_answer(200, "the device authorization response (RFC 8628 §3.2)", doc.obj({
                **doc.strings("device_code", "user_code", "verification_uri", "verification_uri_complete"),
                "expires_in": {"type": "integer"}, "interval": {"type": "integer"}},
                ("device_code", "user_code", "verification_uri", "expires_in"))),
            doc.oauth_error(400, description="invalid_request, invalid_scope (RFC 8628 §3.2)"),
            INVALID_CLIENT, doc.too_large()))},
    VERIFICATION_PATH: {
        "get": doc.operation(responses=doc.html(200, description="the code entry page")),
        "post": doc.operation(
            body=doc.form_body({**doc.strings("user_code"),
                                "decision": {"type": "string", "enum": ["allow", "deny"]}}, ("user_code",)),
            responses=doc.responses(
                doc.html(200, description="the confirmation page, or the answer to a denial"),
                doc.see_other("allow: the login of an interaction"),
                doc.html(400, description="an unknown or expired code"),
                doc.html(429, description="too many wrong codes (RFC 8628 §5.1)"), doc.too_large()))},
}

ROUTES: Final = (device_authorization, verification_page, verification)

__all__ = ["METADATA", "PATH", "ROUTES", "USER_CODE_ALPHABET", "VERIFICATION_PATH",
           "normalize_user_code", "show_user_code"]
