"""The card login pages (server-rendered) and their one small script.

* The login page (``GET /interaction/{uid}``): says what will be read from the card, finds the card agent on
  this machine and hands it the page's token; shows the cross-device code, its QR code and the command for a
  machine with a reader; follows the login's progress — the agent's and the provider's server-sent events, or
  long polls where event streams fail — and, once verified, posts the finish form. At a kiosk it returns to its
  start when the card is taken out or after the kiosk's idle timeout (:func:`login_page`).
* The device page (``GET /card-login/device#CODE``, the QR code's target): on the machine with the reader, hands
  the code to the local agent; the login then continues on the first device.

The pages are the templates ``idp/templates/card_login.html`` and ``card_device.html`` (words in
``idp/messages.toml``, ``card_login.*``); the script is ``idp/templates/card_login.js`` and reads its words, in the
page's language, from the page's ``data-step-*`` and ``data-error-prefix`` attributes. No PIN field exists on either
page: the PIN is typed in the agent's terminal or in its own PIN pad page. The
script is served from the provider's origin (CSP ``script-src 'self'``) and talks only to the provider and to the
configured agent URL (``connect-src``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import segno
from markupsafe import Markup

from idp.web.pages import MESSAGES, TEMPLATES
from keys.x509.profile import Purpose

SCRIPT_PATH: Final = "/card-login/login.js"
DEVICE_PATH: Final = "/card-login/device"
#: The login pages' script (``idp/templates/card_login.js``); its words come from the page (``data-step-*``).
SCRIPT: Final = TEMPLATES.render("card_login.js")
_STEPS: Final = ("fetching", "waiting_for_card", "signing", "sending", "done", "other", "none", "done_card",
                  "done_smartphone")


def content_security_policy(agent_url: str, form_action: Sequence[str] = ()) -> str:
    """The pages' CSP: our script only, connections to us and to the loopback agent, no framing; forms post to us
    (and may be redirected on to ``form_action``, the relying party's redirect URI)."""
    forms = " ".join(["'self'", *form_action])
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' {agent_url}; form-action {forms}; frame-ancestors 'none'; base-uri 'none'")


def _steps(lang: str, key: Purpose) -> dict[str, str]:
    """What the script shows for each of the agent's states, in the page's language (``waiting_for_pin`` names the
    PIN of ``key``); the page carries them as ``data-step-*`` attributes."""
    steps = {state: MESSAGES.message(f"card_login.step.{state}", lang) for state in _STEPS}
    steps["waiting_for_pin"] = MESSAGES.message(f"card_login.step.waiting_for_pin_{key.value}", lang)
    return steps


def login_page(*, uid: str, issuer: str, client: Mapping[str, str | None], key: Purpose, token: str, code: str,
               shown_code: str, agent_url: str, lang: str, link: str | None = None, kiosk: bool = False,
               kiosk_idle: float = 120.0, kiosk_home: str = "") -> str:
    """The login page of interaction ``uid``, in ``lang`` (``ja`` or ``en``); ``client`` says who is asking
    (:func:`idp.web.pages.client_view`); ``link``: a "link my card" login; ``kiosk``: a kiosk's client
    (:mod:`idp.oauth.kiosk`), whose page returns to its start (``kiosk_home``, or the client) when the card is taken
    out or after ``kiosk_idle`` seconds without progress or input — as does any page whose agent runs as a
    kiosk's."""
    qr = segno.make(f"{issuer}{DEVICE_PATH}#{code}", error="m").svg_inline(scale=4, omitsize=False)
    return TEMPLATES.render("card_login.html", lang=lang, script_path=SCRIPT_PATH, uid=uid, issuer=issuer,
                            client=client, key=key.value, token=token, shown_code=shown_code,
                            agent_url=agent_url, qr=Markup(qr),  # noqa: S704 - segno's own SVG, no input text
                            steps=_steps(lang, key), link=link, kiosk=kiosk, kiosk_idle=f"{kiosk_idle:g}",
                            kiosk_home=kiosk_home)


def device_page(*, issuer: str, agent_url: str, lang: str) -> str:
    """The cross-device page: the code comes from the URL fragment, which never reaches the server."""
    return TEMPLATES.render("card_device.html", lang=lang, script_path=SCRIPT_PATH, issuer=issuer,
                            agent_url=agent_url, steps=_steps(lang, Purpose.AUTH))


__all__ = ["DEVICE_PATH", "SCRIPT", "SCRIPT_PATH", "content_security_policy", "device_page", "login_page"]
