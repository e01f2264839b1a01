"""Kiosk logins: a shared browser where each person's login must leave nothing behind for the next person.

Where "kiosk" is marked (both, either suffices):

* **the client**, by an administrator (``python -m idp counter kiosk CLIENT_ID``; object ``KioskClient``): the
  relying party that runs on the kiosk. Its authorization requests never reuse a browser session (as if
  ``prompt=login`` and ``max_age=0``, OIDC Core §3.1.2.1) and its logins open none.
* **the card agent** (``python -m cardreader agent --kiosk``): it tells the provider with the card's answer
  (``"kiosk": true`` in ``POST /card-login/response``), so the login opens no session whatever the client. A host
  that claims it without being a kiosk only denies itself single sign-on, so the claim needs no authentication.

A kiosk login therefore sets no ``mynacard_session`` cookie: the only cookie is the interaction's, which is cleared
when the interaction ends and expires with it (``authorization.interaction_ttl``). After the card login the person
has ``authorization.kiosk_idle_timeout`` to finish (consent); then the interaction and the login's claims are
deleted, so a person walking away leaves nothing for the next one to continue
(:func:`idp.oauth.interaction.browser_interaction`). The ID token carries
``auth_time`` and ``acr`` as always (OIDC Core §2), so the relying party enforces its own reauthentication and idle
limits (NIST SP 800-63B §7.2.1); the agent requires the card to be taken out between people.

The kiosk's screen returns to its start by itself: the card login page (:mod:`idp.login.page`) when the agent
says the card was taken out, or after ``authorization.kiosk_idle_timeout`` without progress or input (it cancels
the interaction — the client hears ``access_denied`` — and goes to ``authorization.kiosk_home`` when set), and
the consent page, which shows the person's claims, once that idle limit after the login has passed (``Refresh``).
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from idp.runtime import Services

KIOSK_CLIENT_KIND: Final = "KioskClient"
_LIFETIME: Final = dt.timedelta(days=3650)


async def set_kiosk_client(services: Services, client_id: str, kiosk: bool, now: dt.datetime) -> None:
    """Mark (or unmark) ``client_id`` as a kiosk's client."""
    if kiosk:
        await services.objects.upsert(KIOSK_CLIENT_KIND, client_id, {"kiosk": True}, now + _LIFETIME)
    else:
        await services.objects.destroy(KIOSK_CLIENT_KIND, client_id)


def kiosk_key(client_id: str) -> tuple[str, str]:
    """The object key of ``client_id``'s kiosk mark: an unexpired object under it makes ``client_id`` a kiosk's
    client (read with the request's other objects at once: :meth:`idp.storage.ObjectStore.find_many`)."""
    return KIOSK_CLIENT_KIND, client_id


async def is_kiosk_client(services: Services, client_id: str, now: dt.datetime) -> bool:
    """Whether ``client_id`` is marked as a kiosk's client (one read; the authorization endpoint reads the mark with
    the request's other objects through :func:`kiosk_key` instead)."""
    return await services.objects.find(*kiosk_key(client_id), now=now) is not None


__all__ = ["KIOSK_CLIENT_KIND", "is_kiosk_client", "kiosk_key", "set_kiosk_client"]
