"""Pluggable login (notes/contracts.md, "Interaction and login"): what an authenticator proves, and how its login
continues the authorization request.

An :class:`Authenticator` renders the login page of an interaction (``GET /interaction/{uid}``) and, by whatever
exchange it needs (the card agent, a form), ends with :func:`complete_login`, which records the login on the
interaction, opens or renews the browser session (:mod:`idp.oauth.session`) and says where the browser goes
next: the consent page or the step that issues the code (:func:`next_url`).

Authenticators are plug-ins: the composition layer (:mod:`idp.app`) registers them by name
(:func:`register_authenticator`) and the deployment's setting ``login.authenticator`` chooses one
(:func:`authenticator_for`): ``card`` (:class:`idp.login.authenticator.CardAuthenticator`) or, in test mode only,
``test`` (:class:`idp.endpoints.test_login.TestAuthenticator`)::

    register_authenticator(CardAuthenticator())
    authenticator_for(settings).login_page(request, interaction, services)
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from litestar import Request, Response

from idp.oauth import consent
from idp.oauth.interaction import Interaction, LoginRecord, find_interaction, interaction_path, update_interaction
from idp.oauth.plugins import Registry
from idp.oauth.session import find_session, open_session
from idp.runtime import Services
from idp.settings import Settings
from idp.storage.audit import record

#: Largest claims of one login, as JSON.
MAX_CLAIMS_OCTETS: Final = 16 * 1024
_PRINTABLE: Final = re.compile(r"[^\x00-\x1f\x7f]{1,255}")


@dataclass(frozen=True)
class LoginResult:
    """What a login proved about the person at the browser."""

    account_id: str
    """Stable, opaque, never personal data (card logins: a hash the card login derives)."""
    acr: str
    """E.g. ``urn:mynacard:acr:auth-cert`` / ``urn:mynacard:acr:sign-cert``."""
    amr: tuple[str, ...]
    """E.g. ``("sc", "pin")`` (RFC 8176)."""
    claims: Mapping[str, Any]
    """Verified claims that MAY be released with consent (empty for auth-cert logins)."""
    auth_time: dt.datetime
    credential_source: Mapping[str, Any] | None = None
    """What the credential issuer may take from the login (idp.vci.grant): the facts as read, the certificate's
    notAfter and its reference; only when the request asked for credentials."""
    signing_request: str | None = None
    """The signing request (idp.sign) whose card signatures the login carried, verified and recorded."""

    def check(self) -> None:
        """Raise ValueError unless the result is well-formed (an authenticator's bug, never the person's)."""
        if not _PRINTABLE.fullmatch(self.account_id) or not _PRINTABLE.fullmatch(self.acr):
            raise ValueError("account_id and acr are 1-255 printable characters")
        if not all(isinstance(m, str) and _PRINTABLE.fullmatch(m) for m in self.amr):
            raise ValueError("amr values are printable strings")
        if self.auth_time.tzinfo is None:
            raise ValueError("auth_time must be timezone-aware")
        if len(json.dumps(dict(self.claims), separators=(",", ":")).encode("utf-8")) > MAX_CLAIMS_OCTETS:
            raise ValueError(f"claims larger than {MAX_CLAIMS_OCTETS} octets")


class Authenticator(Protocol):
    """A way of logging in."""

    #: The value of ``login.authenticator`` that chooses it.
    name: str
    #: The ``acr`` values its logins carry (discovery's ``acr_values_supported``).
    acr_values: tuple[str, ...]
    #: Whether it may only run in test mode.
    test_only: bool

    async def login_page(self, request: Request[Any, Any, Any], interaction: Interaction,
                         services: Services) -> Response[Any]:
        """The login page of ``interaction`` (its cookie was checked already)."""
        ...


_REGISTRY: Registry[Authenticator] = Registry("authenticator", same=lambda known, new: type(known) is type(new))


def register_authenticator(authenticator: Authenticator) -> None:
    """Make ``authenticator`` available under its name (registering another one of the same class again replaces
    it; another class under the same name is an error)."""
    _REGISTRY.register(authenticator.name, authenticator)


def authenticator_for(settings: Settings) -> Authenticator:
    """The deployment's authenticator (``login.authenticator``); a test-only one only in test mode (the settings
    refuse it otherwise)."""
    chosen = _REGISTRY.get(settings.login.authenticator)
    if chosen is None or (chosen.test_only and not settings.test_mode):
        raise LookupError(f"no authenticator {settings.login.authenticator!r} is available")
    return chosen


def acr_values_supported(settings: Settings) -> tuple[str, ...]:
    """The ``acr`` values of the deployment's authenticator (none when it is not available)."""
    try:
        return authenticator_for(settings).acr_values
    except LookupError:
        return ()


async def next_url(services: Services, interaction: Interaction, now: dt.datetime) -> str:
    """Where the browser goes next: the login page (no login yet), the consent page (consent needed and not
    given yet) or the resume step, which answers the client."""
    login = interaction.login
    if login is None:
        return interaction_path(interaction.uid)
    if interaction.consent is None:
        before = await consent.remembered(services, login.account_id, interaction.client_id, now)
        if consent.consent_needed(interaction.request, login.claims, before):
            return interaction_path(interaction.uid, "consent")
    return interaction_path(interaction.uid, "resume")


async def complete_login(services: Services, uid: str, result: LoginResult, now: dt.datetime) -> str:
    """Record the login ``result`` on interaction ``uid``, open or renew the browser session, and return the URL
    the browser goes to next (consent page or resume step; the interaction's page, which explains, if the
    interaction has expired meanwhile)."""
    result.check()
    interaction = await find_interaction(services, uid, now)
    if interaction is None:
        return interaction_path(uid)
    previous = None if interaction.session_id is None else await find_session(services, interaction.session_id, now)
    auth_time = int(result.auth_time.timestamp())
    session, cookie = await open_session(services, account_id=result.account_id, auth_time=auth_time,
                                         acr=result.acr, amr=result.amr, previous=previous, now=now)
    login = LoginRecord(result.account_id, result.acr, tuple(result.amr), auth_time, dict(result.claims),
                        credential_source=result.credential_source, signing_request=result.signing_request)
    interaction = await update_interaction(services, interaction, login=login.to_payload(), session=session.sid,
                                           session_cookie=cookie, consent=None)
    await record(services, "login", now, client_id=interaction.client_id, account=result.account_id, acr=result.acr,
                 amr=list(result.amr))
    return await next_url(services, interaction, now)


__all__ = ["Authenticator", "LoginResult", "acr_values_supported", "authenticator_for", "complete_login", "next_url",
           "register_authenticator"]
