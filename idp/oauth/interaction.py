"""Interactions: an authorization request waiting for the person to log in and consent.

When ``/authorize`` needs a login or consent it stores an object of kind ``Interaction`` under a random ``uid``
(32 octets, base64url) for ``authorization.interaction_ttl``, sets the cookie ``mynacard_interaction`` (path
``/interaction/{uid}``, holding a random secret whose SHA-256 the interaction keeps) and sends the browser to
``/interaction/{uid}``. Every interaction page checks that cookie, so knowing a ``uid`` (it is in URLs and
logs) does not let another browser log in, consent, or collect the code in someone else's place.

Payload (notes/contracts.md): ``request`` (:meth:`AuthorizationRequest.to_payload`), ``client_id``, ``prompt``,
``max_age``, ``login_hint``, ``acr_values``, ``claims``, ``ui_locales``, ``created_at``; and as the interaction
goes on ``browser`` (the cookie digest), ``session`` (the browser's session id), ``login`` (:class:`LoginRecord`,
with the login's claims: personal data, deleted with the interaction), ``session_cookie`` (set after a login,
until the browser has it) and ``consent`` (the claims the person approved on the consent page).
The interaction is consumed when the code is issued, so it completes once.

:func:`login_needed` decides whether the browser's session can stand in for a login (OIDC Core §3.1.2.3).
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from litestar.datastructures import Cookie

from idp.oauth.authorization_request.details import types_of
from idp.oauth.authorization_request.request import AuthorizationRequest
from idp.oauth.consent import RELEASABLE_CLAIMS
from idp.oauth.session import Session, digest, secure_cookies
from idp.runtime import Services
from idp.settings import Settings

INTERACTION_KIND: Final = "Interaction"
INTERACTION_COOKIE: Final = "mynacard_interaction"
_UID: Final = re.compile(r"[A-Za-z0-9_-]{43}")


def interaction_path(uid: str, step: str = "") -> str:
    """The path of interaction ``uid``'s page, or of one of its steps (``consent``, ``resume``, …)."""
    return f"/interaction/{uid}" + (f"/{step}" if step else "")


@dataclass(frozen=True, slots=True)
class LoginRecord:
    """The login an interaction rests on: a new one (``fresh``, with its claims) or the browser's session."""

    account_id: str
    acr: str
    amr: tuple[str, ...]
    auth_time: int
    claims: Mapping[str, Any] = field(default_factory=dict)
    fresh: bool = True
    #: What a signing-certificate login gives the credential issuer (idp.vci.grant), when credentials were asked.
    credential_source: Mapping[str, Any] | None = None
    #: The signing request (idp.sign) whose verified card signatures this login carried, if any.
    signing_request: str | None = None

    @classmethod
    def from_session(cls, session: Session) -> LoginRecord:
        """The session's login: no claims (those come only with a new login)."""
        return cls(session.account_id, session.acr, session.amr, session.auth_time, {}, fresh=False)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> LoginRecord:
        """The login as :meth:`to_payload` stored it."""
        return cls(str(payload["account_id"]), str(payload["acr"]), tuple(payload.get("amr") or ()),
                   int(payload["auth_time"]), dict(payload.get("claims") or {}), bool(payload.get("fresh", True)),
                   payload.get("credential_source"), payload.get("signing_request"))

    def to_payload(self) -> dict[str, Any]:
        """The JSON form."""
        return {"account_id": self.account_id, "acr": self.acr, "amr": list(self.amr), "auth_time": self.auth_time,
                "claims": dict(self.claims), "fresh": self.fresh, "credential_source": self.credential_source,
                "signing_request": self.signing_request}


def _text(value: object) -> str | None:
    """A payload member as a string, ``None`` when absent."""
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Interaction:
    """A stored interaction (see the module docstring)."""

    uid: str
    request: AuthorizationRequest
    payload: Mapping[str, Any]
    expires_at: dt.datetime

    @property
    def client_id(self) -> str:
        """The client that asked."""
        return self.request.client_id

    @property
    def login(self) -> LoginRecord | None:
        """The login, once there is one."""
        login = self.payload.get("login")
        return None if login is None else LoginRecord.from_payload(login)

    @property
    def session_id(self) -> str | None:
        """The browser's session: the one it had at ``/authorize``, or the one its login opened."""
        return _text(self.payload.get("session"))

    @property
    def session_cookie(self) -> str | None:
        """The session cookie value a login produced, until the interaction ends."""
        return _text(self.payload.get("session_cookie"))

    @property
    def consent(self) -> frozenset[str] | None:
        """The claims approved on the consent page, once the person answered it."""
        approved = self.payload.get("consent")
        return None if approved is None else frozenset(approved)

    def has_browser(self, secret: str | None) -> bool:
        """Whether ``secret`` (the ``mynacard_interaction`` cookie) is the one this interaction was started with."""
        return secret is not None and secret.isascii() and hmac.compare_digest(digest(secret),
                                                                                 str(self.payload["browser"]))


async def start_interaction(
    services: Services, request: AuthorizationRequest, *, session: Session | None, login: LoginRecord | None,
    now: dt.datetime
) -> tuple[Interaction, str]:
    """Store a new interaction for ``request``; also the browser secret for its cookie (:func:`interaction_cookie`).
    ``login`` is the session's login when only consent is missing."""
    uid, secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    stored = request.to_payload()
    payload = {"request": stored, "client_id": request.client_id, "prompt": list(request.prompt),
               "max_age": request.max_age, "login_hint": request.login_hint, "acr_values": list(request.acr_values),
               "claims": stored["claims"], "ui_locales": list(request.ui_locales), "created_at": int(now.timestamp()),
               "browser": digest(secret), "session": None if session is None else session.sid,
               "login": None if login is None else login.to_payload(), "session_cookie": None, "consent": None}
    expires_at = now + dt.timedelta(seconds=services.settings.authorization.interaction_ttl)
    await services.objects.upsert(INTERACTION_KIND, uid, payload, expires_at)
    return Interaction(uid, request, payload, expires_at), secret


def _interaction(uid: str, payload: Mapping[str, Any], expires_at: dt.datetime) -> Interaction:
    return Interaction(uid, AuthorizationRequest.from_payload(payload["request"]), payload, expires_at)


async def find_interaction(services: Services, uid: str, now: dt.datetime) -> Interaction | None:
    """The unexpired, unfinished interaction ``uid`` (whoever asks: check :meth:`Interaction.has_browser`)."""
    if not _UID.fullmatch(uid):
        return None
    stored = await services.objects.find(INTERACTION_KIND, uid, now=now)
    if stored is None or stored.consumed_at is not None:
        return None
    return _interaction(uid, stored.payload, stored.expires_at)


async def browser_interaction(services: Services, uid: str, secret: str | None,
                              now: dt.datetime) -> Interaction | None:
    """The interaction ``uid``, if it is unfinished and ``secret`` is the cookie of the browser that started it."""
    interaction = await find_interaction(services, uid, now)
    return interaction if interaction is not None and interaction.has_browser(secret) else None


async def update_interaction(services: Services, interaction: Interaction, **changes: Any) -> Interaction:
    """Store ``changes`` to the interaction's payload (same expiry)."""
    payload = {**interaction.payload, **changes}
    await services.objects.upsert(INTERACTION_KIND, interaction.uid, payload, interaction.expires_at)
    return Interaction(interaction.uid, interaction.request, payload, interaction.expires_at)


async def finish_interaction(services: Services, interaction: Interaction, now: dt.datetime) -> bool:
    """End the interaction, atomically: True for exactly one caller (who then answers the client)."""
    if await services.objects.consume(INTERACTION_KIND, interaction.uid, now=now) is None:
        return False
    await services.objects.destroy(INTERACTION_KIND, interaction.uid)
    return True


def interaction_cookie(uid: str, secret: str, settings: Settings) -> Cookie:
    """The cookie binding interaction ``uid`` to the browser that started it."""
    return Cookie(INTERACTION_COOKIE, value=secret, path=interaction_path(uid),
                  max_age=int(settings.authorization.interaction_ttl), httponly=True, samesite="lax",
                  secure=secure_cookies(settings.issuer))


def cleared_interaction_cookie(uid: str, settings: Settings) -> Cookie:
    """A ``Set-Cookie`` removing the interaction's cookie once it has ended."""
    return Cookie(INTERACTION_COOKIE, value="", path=interaction_path(uid), max_age=0, httponly=True, samesite="lax",
                  secure=secure_cookies(settings.issuer))


def personal_claims_requested(request: AuthorizationRequest) -> bool:
    """Whether the request asks for claims only a login gives (:data:`idp.oauth.consent.RELEASABLE_CLAIMS`)."""
    return any(name in RELEASABLE_CLAIMS for members in request.requested_claims().values() for name in members)


def login_needed(request: AuthorizationRequest, session: Session | None, *, sub: str | None,
                 now: dt.datetime) -> bool:
    """Whether the request needs a new login rather than the browser's ``session`` (whose pairwise ``sub`` at
    the client is ``sub``): none, ``prompt`` login or select_account, ``max_age`` exceeded (0 means always:
    OIDC Core §3.1.2.1), an essential ``acr`` or a ``sub`` the session does not have, personal claims (they come
    only with a login), ``authorization_details`` of a type that always needs a login (signing), or — unless
    ``prompt=none`` — an ``acr_values`` the session's login does not meet."""
    if session is None or {"login", "select_account"} & set(request.prompt):
        return True
    if request.max_age is not None and (request.max_age == 0 or now.timestamp() - session.auth_time > request.max_age):
        return True
    if request.essential_acr() and session.acr not in request.essential_acr():
        return True
    wanted = request.requested_sub()
    if wanted is not None and wanted != sub:
        return True
    if personal_claims_requested(request) or any(t.fresh_login for t in types_of(request.authorization_details)):
        return True
    return bool(request.acr_values) and session.acr not in request.acr_values and "none" not in request.prompt


__all__ = ["INTERACTION_COOKIE", "INTERACTION_KIND", "Interaction", "LoginRecord", "browser_interaction",
           "cleared_interaction_cookie", "find_interaction", "finish_interaction", "interaction_cookie",
           "interaction_path", "login_needed", "personal_claims_requested", "start_interaction",
           "update_interaction"]
