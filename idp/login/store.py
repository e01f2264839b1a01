"""Card-login state in the generic ``objects`` table (no migration): one login per interaction, its tickets, and
its one-time challenges.

=====================  =========================  ===========================================================
kind                   id                         payload
=====================  =========================  ===========================================================
``CardLogin``          the interaction uid        ``key``, ``client_name``, ``token`` (SHA-256 hex of the
                                                  page's token), ``code``, ``state`` pending|verified|failed,
                                                  ``error``, ``result`` (the login, claims included, until
                                                  the browser collects it)
``CardLoginTicket``    SHA-256 hex of the token,  ``uid``
                       or ``code:`` + the code
``CardChallenge``      the challenge, base64url   ``uid``, ``issued_at``; consumed by the response (single use)
=====================  =========================  ===========================================================

Tokens are stored hashed; the cross-device code is short-lived and single-login. Every object
expires with the login (``card_login.login_ttl``, never after the interaction), challenges sooner
(``card_login.challenge_ttl``); the result is deleted as soon as the browser has collected it, so the 4 facts
never outlive the interaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from idp.login.signals import SIGNALS
from idp.storage import Database, ObjectStore
from keys.cardlogin import CHALLENGE_OCTETS, CODE_ALPHABET, CODE_LENGTH
from keys.jose.b64 import b64url_encode
from keys.x509.profile import Purpose

LOGIN: Final = "CardLogin"
TICKET: Final = "CardLoginTicket"
CHALLENGE: Final = "CardChallenge"
#: The context of the interaction binding in the login message (the uid itself never leaves the browser).
_INTERACTION_CONTEXT: Final = b"mynacard-id interaction v1\x00"

if TYPE_CHECKING:
    from idp.runtime import Services

State = Literal["pending", "verified", "failed"]


def digest(secret: str) -> str:
    """Lower-case hex SHA-256 of a secret, as stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def interaction_binding(uid: str) -> str:
    """The ``interaction`` field of the login message: a hash of the uid, which stays with the browser."""
    return b64url_encode(hashlib.sha256(_INTERACTION_CONTEXT + uid.encode("utf-8")).digest())


def new_code() -> str:
    """A cross-device code (8 characters of a 30-letter alphabet without look-alikes: ~39 bits)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def show_code(code: str) -> str:
    """The code as people read it: ``ABCD-EFGH``."""
    return f"{code[:4]}-{code[4:]}"


def shown_name(payload: dict[str, Any]) -> str:
    """What the agent shows as the client asking: its name and, for a CIBA request, the binding message the
    staff's screen shows too (CIBA Core §7.1, FAPI-CIBA §5.2.2), e.g. ``staff「受付 42番」``."""
    binding = payload.get("binding_message")
    return str(payload["client_name"]) + (f"「{binding}」" if binding else "")


@dataclass(frozen=True, slots=True)
class CardLogin:
    """One interaction's card login."""

    uid: str
    payload: dict[str, Any]
    expires_at: dt.datetime

    @property
    def key(self) -> Purpose:
        """The card key the login asks for."""
        return Purpose(self.payload["key"])

    @property
    def state(self) -> State:
        """pending, verified or failed."""
        state: State = self.payload["state"]
        return state

    def has_ticket(self, kind: str, value: str) -> bool:
        """Whether the ticket is this login's current token or code (a reloaded page replaces both)."""
        stored = self.payload["token"] if kind == "token" else self.payload["code"]
        return hmac.compare_digest(digest(value) if kind == "token" else value, stored)


@dataclass(frozen=True, slots=True)
class Opened:
    """What the login page needs: the agent's token and the cross-device code."""

    token: str
    code: str


class CardLogins:
    """The card-login objects of one provider."""

    def __init__(self, objects: ObjectStore, db: Database) -> None:
        self._objects = objects
        self._db = db  # announces each settled answer to every worker (idp.login.signals)

    @classmethod
    def of(cls, services: Services) -> CardLogins:
        """The card logins of the provider ``services`` opened."""
        return cls(services.objects, services.db)

    async def open(self, uid: str, *, key: Purpose, client_id: str, client_name: str, expires_at: dt.datetime,
                   now: dt.datetime, credentials: bool = False, assurance: bool = False,
                   binding_message: str | None = None, link: str | None = None) -> Opened:
        """Start (or restart, on a reload of the page) the card login of interaction ``uid`` for client ``client_id``
        (``client_name``: how people see it); ``credentials``:
        the request asks for credentials, so the verified login also keeps the facts for the issuer;
        ``assurance``: it asks for ``verified_claims``, so the login keeps the certificate's references;
        ``binding_message``: a CIBA request's, shown with the client's name at the reader (:func:`shown_name`);
        ``link``: the person asked to link the card's two keys (``"card"``) or an old and a renewed card
        (``"renewal"``) (:mod:`idp.login.link`)."""
        token, code = secrets.token_urlsafe(32), new_code()
        while await self._objects.find(TICKET, f"code:{code}", now=now) is not None:
            code = new_code()
        payload = {"key": key.value, "client_id": client_id, "client_name": client_name, "token": digest(token),
                   "code": code,
                   "state": "pending", "error": None, "result": None, "credentials": credentials,
                   "assurance": assurance, "binding_message": binding_message, **({"link": link} if link else {})}
        await self._objects.upsert(LOGIN, uid, payload, expires_at)
        await self._objects.upsert(TICKET, digest(token), {"uid": uid}, expires_at)
        await self._objects.upsert(TICKET, f"code:{code}", {"uid": uid}, expires_at)
        return Opened(token, code)

    async def get(self, uid: str, now: dt.datetime) -> CardLogin | None:
        """The unexpired card login of interaction ``uid``."""
        found = await self._objects.find(LOGIN, uid, now=now)
        return None if found is None else CardLogin(uid, found.payload, found.expires_at)

    async def by_ticket(self, kind: str, value: str, now: dt.datetime) -> CardLogin | None:
        """The login a token or code names, if it is still that login's current ticket."""
        ticket = await self._objects.find(TICKET, digest(value) if kind == "token" else f"code:{value}", now=now)
        if ticket is None:
            return None
        login = await self.get(str(ticket.payload["uid"]), now)
        return login if login is not None and login.has_ticket(kind, value) else None

    async def challenge(self, login: CardLogin, *, ttl: dt.timedelta, now: dt.datetime) -> tuple[bytes, dt.datetime]:
        """A fresh one-time challenge for ``login``, and its issue time (whole seconds)."""
        value, issued_at = secrets.token_bytes(CHALLENGE_OCTETS), now.replace(microsecond=0)
        await self._objects.upsert(CHALLENGE, b64url_encode(value),
                                   {"uid": login.uid, "issued_at": int(issued_at.timestamp())},
                                   min(issued_at + ttl, login.expires_at))
        return value, issued_at

    async def take_challenge(self, login: CardLogin, value: str, now: dt.datetime) -> dt.datetime | None:
        """Consume the challenge ``value`` of ``login``: its issue time, or ``None`` when it is unknown, expired,
        already used (a replay) or another login's."""
        taken = await self._objects.consume(CHALLENGE, value, now=now)
        if taken is None or taken.payload.get("uid") != login.uid:
            return None
        return dt.datetime.fromtimestamp(int(taken.payload["issued_at"]), dt.UTC)

    async def challenge_is_live(self, login: CardLogin, value: str, now: dt.datetime) -> bool:
        """Whether ``value`` is an unexpired, unused challenge of ``login`` (looked at, not consumed)."""
        found = await self._objects.find(CHALLENGE, value, now=now)
        return found is not None and found.consumed_at is None and found.payload.get("uid") == login.uid

    async def settle(self, login: CardLogin, state: State, *, error: dict[str, str] | None = None,
                     result: dict[str, Any] | None = None) -> None:
        """Record the outcome of the card's response (and wake the pages waiting for it, in every worker)."""
        await self._objects.upsert(LOGIN, login.uid, {**login.payload, "state": state, "error": error,
                                                      "result": result}, login.expires_at)
        await SIGNALS.announce(self._db, login.uid)

    async def collect(self, login: CardLogin, now: dt.datetime) -> dict[str, Any] | None:
        """Take the verified result, once (atomic across workers); the object is deleted with its claims."""
        taken = await self._objects.consume(LOGIN, login.uid, now=now)
        if taken is None or taken.payload.get("state") != "verified":
            return None
        await self.close(login)
        result: dict[str, Any] = taken.payload["result"]
        return result

    async def close(self, login: CardLogin) -> None:
        """Delete the login and its tickets."""
        await self._objects.destroy(TICKET, login.payload["token"])
        await self._objects.destroy(TICKET, f"code:{login.payload['code']}")
        await self._objects.destroy(LOGIN, login.uid)


__all__ = ["CardLogin", "CardLogins", "Opened", "digest", "interaction_binding",
           "show_code", "shown_name"]
