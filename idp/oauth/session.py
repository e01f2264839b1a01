"""The browser session: who logged in on this browser, when and how (OIDC Core §3.1.2.3, "session" of §2).

Objects of kind ``Session`` under the session id ``sid`` (which ID tokens carry, OIDC Back-Channel Logout §2.4):
``account_id``, ``auth_time`` (seconds since the epoch), ``acr``, ``amr``, ``clients`` (the clients that received
a code in this session, for logout) and ``secret`` (SHA-256 hex of the cookie's secret half). The cookie
``mynacard_session`` holds ``sid.secret``: knowing a ``sid`` (every relying party does) is not enough to use the
session. The session expires ``authorization.session_ttl`` after the login; a new login of the same account keeps
the ``sid`` and replaces the secret, a login of another account starts a new session and ends the old one.

Cookies are ``HttpOnly``, ``SameSite=Lax`` and ``Secure`` unless the issuer is http on a loopback host.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from litestar.datastructures import Cookie

from idp.runtime import Services
from idp.settings import Settings
from idp.storage import StoredObject

SESSION_KIND: Final = "Session"
SESSION_COOKIE: Final = "mynacard_session"
#: Most clients remembered per session (the oldest are forgotten first).
MAX_CLIENTS: Final = 64
_COOKIE: Final = re.compile(r"([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{43})")


def secure_cookies(issuer: str) -> bool:
    """Cookies are ``Secure`` unless the issuer is http on a loopback host."""
    parts = urlsplit(issuer)
    return not (parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1"))


def digest(secret: str) -> str:
    """SHA-256 hex of a browser secret, as stored."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    """A browser session (the payload of a ``Session`` object)."""

    sid: str
    account_id: str
    auth_time: int
    acr: str
    amr: tuple[str, ...]
    clients: tuple[str, ...]
    expires_at: dt.datetime

    @classmethod
    def from_payload(cls, sid: str, payload: dict[str, Any], expires_at: dt.datetime) -> Session:
        """The session stored under ``sid``."""
        return cls(sid=sid, account_id=str(payload["account_id"]), auth_time=int(payload["auth_time"]),
                   acr=str(payload["acr"]), amr=tuple(payload.get("amr") or ()),
                   clients=tuple(payload.get("clients") or ()), expires_at=expires_at)

    def to_payload(self, secret_digest: str) -> dict[str, Any]:
        """The stored payload, with the digest of the cookie's secret."""
        return {"account_id": self.account_id, "auth_time": self.auth_time, "acr": self.acr, "amr": list(self.amr),
                "clients": list(self.clients), "secret": secret_digest}


async def find_session(services: Services, sid: str, now: dt.datetime) -> Session | None:
    """The unexpired session ``sid`` (for the provider's own use: no cookie check)."""
    if not 0 < len(sid) <= 255:
        return None
    stored = await services.objects.find(SESSION_KIND, sid, now=now)
    return None if stored is None else Session.from_payload(sid, stored.payload, stored.expires_at)


async def load_session(services: Services, cookie: str | None, now: dt.datetime) -> Session | None:
    """The session the browser's ``mynacard_session`` cookie value names, if the cookie's secret matches."""
    key = session_key(cookie)
    return None if key is None else session_named(cookie, await services.objects.find(*key, now=now))


def session_key(cookie: str | None) -> tuple[str, str] | None:
    """The object key of the session a ``mynacard_session`` cookie value names (to read it with others at once:
    :meth:`idp.storage.ObjectStore.find_many`), or None for no cookie or a malformed one."""
    match = _COOKIE.fullmatch(cookie or "")
    return None if match is None else (SESSION_KIND, match[1])


def session_named(cookie: str | None, stored: StoredObject | None) -> Session | None:
    """The session ``stored`` (read under :func:`session_key`), if the cookie's secret matches it."""
    match = _COOKIE.fullmatch(cookie or "")
    if match is None or stored is None or stored.kind != SESSION_KIND or stored.id != match[1] \
            or not hmac.compare_digest(digest(match[2]), str(stored.payload.get("secret", ""))):
        return None
    return Session.from_payload(match[1], stored.payload, stored.expires_at)


async def open_session(
    services: Services,
    *,
    account_id: str,
    auth_time: int,
    acr: str,
    amr: Sequence[str],
    previous: Session | None,
    now: dt.datetime,
) -> tuple[Session, str]:
    """Record a login: the session and the cookie value to give the browser. The ``previous`` session of the
    browser is kept (same ``sid``, new secret) for the same account and ended for another."""
    secret = secrets.token_urlsafe(32)
    if previous is not None and previous.account_id == account_id:
        sid, clients = previous.sid, previous.clients
    else:
        sid, clients = secrets.token_urlsafe(32), ()
        if previous is not None:
            await end_session(services, previous.sid, now)
    expires_at = now + dt.timedelta(seconds=services.settings.authorization.session_ttl)
    session = Session(sid=sid, account_id=account_id, auth_time=auth_time, acr=acr, amr=tuple(amr), clients=clients,
                      expires_at=expires_at)
    await services.objects.upsert(SESSION_KIND, sid, session.to_payload(digest(secret)), expires_at)
    return session, f"{sid}.{secret}"


async def add_client(services: Services, sid: str, client_id: str, now: dt.datetime, *,
                     known: Sequence[str] | None = None) -> None:
    """Remember that ``client_id`` received a code in session ``sid`` (for logout). ``known``: the session's
    clients as the caller read them in this request; when ``client_id`` is already the last of them, nothing is
    read or written (a returning client's next code costs no statement here)."""
    if known and known[-1] == client_id:
        return
    stored = await services.objects.find(SESSION_KIND, sid, now=now)
    if stored is None:
        return
    others = [c for c in stored.payload.get("clients") or () if c != client_id]
    clients = [*others[-(MAX_CLIENTS - 1):], client_id]
    await services.objects.upsert(SESSION_KIND, sid, {**stored.payload, "clients": clients}, stored.expires_at)


async def end_session(services: Services, sid: str, now: dt.datetime) -> Session | None:
    """End session ``sid`` (logout): delete it and return what it was, or None if it had ended already."""
    session = await find_session(services, sid, now)
    if session is None:
        return None
    await services.objects.destroy(SESSION_KIND, sid)
    return session


def session_cookie(value: str, settings: Settings, expires_at: dt.datetime, now: dt.datetime) -> Cookie:
    """The ``Set-Cookie`` of a session (its value from :func:`open_session`), expiring with it."""
    return Cookie(SESSION_COOKIE, value=value, path="/", max_age=max(int((expires_at - now).total_seconds()), 0),
                  httponly=True, samesite="lax", secure=secure_cookies(settings.issuer))


def cleared_session_cookie(settings: Settings) -> Cookie:
    """A ``Set-Cookie`` that removes the session cookie (logout)."""
    return Cookie(SESSION_COOKIE, value="", path="/", max_age=0, httponly=True, samesite="lax",
                  secure=secure_cookies(settings.issuer))


__all__ = ["MAX_CLIENTS", "SESSION_COOKIE", "SESSION_KIND", "Session", "add_client", "cleared_session_cookie",
           "digest", "end_session", "find_session", "load_session", "open_session", "secure_cookies",
           "session_cookie", "session_key", "session_named"]
