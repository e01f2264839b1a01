"""The agent's PIN pad: a page the agent itself serves on loopback, for kiosks without a terminal in reach.

The person types the PIN into ``http://127.0.0.1:<port>/pinpad``, a page of the *agent's* origin: the provider's
login page can open it in a window but cannot read or script it (no CORS on these routes, ``frame-ancestors
'none'``), and no other page can answer it (the answer must come from the agent's own origin and name the
current prompt, whose random id only a same-origin page can read). The PIN is turned into a
:class:`~cardreader.pin.Pin` as soon as it arrives and handed to the card; nothing else keeps it.

:class:`PinPad` is the :class:`~cardreader.login.PinPrompt` the login flow waits on; :func:`page` and
:data:`SCRIPT` are the page, rendered from ``templates/`` with the words of ``messages.toml``.
"""

from __future__ import annotations

import hmac
import re
import secrets
import threading
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Final, Literal
from urllib.parse import parse_qs

import jinja2

from cardreader.login import PinRequest, cancelled
from cardreader.pin import Pin


class StalePrompt(Exception):
    """An answer to a prompt that is no longer (or never was) the current one."""


@dataclass(eq=False)
class _Pending:
    id: str
    mode: Literal["confirm", "pin"]
    request: PinRequest
    pin: Pin | None = None
    confirmed: bool = False
    cancelled: bool = False
    done: bool = False


class PinPad:
    """The prompt the PIN pad page shows and answers; one at a time."""

    def __init__(self, *, timeout: float = 120.0) -> None:
        self._timeout = timeout
        self._changed = threading.Condition()
        self._pending: _Pending | None = None
        self._notice: tuple[str, str] | None = None

    def _wait(self, mode: Literal["confirm", "pin"], request: PinRequest) -> _Pending:
        with self._changed:
            pending = _Pending(secrets.token_urlsafe(16), mode, request)
            self._pending, self._notice = pending, None
            self._changed.notify_all()
            answered = self._changed.wait_for(lambda: pending.done, self._timeout)
            if self._pending is pending:
                self._pending = None
        if not answered or pending.cancelled:
            raise cancelled()
        return pending

    def confirm_last_try(self, request: PinRequest) -> bool:
        """Show the last-try warning and wait for the person's decision."""
        return self._wait("confirm", request).confirmed

    def ask_pin(self, request: PinRequest) -> Pin:
        """Wait for the PIN from the page."""
        pin = self._wait("pin", request).pin
        if pin is None:
            raise cancelled()
        return pin

    def answer(self, prompt: str, *, pin: str | None = None, confirm: bool | None = None,
               cancel: bool = False) -> None:
        """The page's answer to ``prompt``. A PIN in the wrong format raises
        :class:`~cardreader.errors.PinFormatError` and the prompt stays open (no try was spent)."""
        with self._changed:
            pending = self._pending
            if pending is None or not hmac.compare_digest(pending.id.encode(), prompt.encode()):
                raise StalePrompt
            if cancel:
                pending.cancelled = True
            elif pending.mode == "confirm":
                if confirm is None:
                    raise ValueError("a yes or no is expected")
                pending.confirmed = confirm
            else:
                if pin is None:
                    raise ValueError("a PIN is expected")
                pending.pin = Pin(pending.request.key, pin)
            pending.done = True
            self._changed.notify_all()

    def notice(self, en: str, ja: str) -> None:
        """A message for the page when no prompt is open (e.g. "please take your card")."""
        with self._changed:
            self._notice = (en, ja)

    def cancel(self) -> None:
        """Close any open prompt (the login gives up)."""
        with self._changed:
            if self._pending is not None:
                self._pending.cancelled = self._pending.done = True
                self._changed.notify_all()

    def state(self) -> dict[str, object]:
        """What the page shows now (the prompt id is readable only by same-origin pages)."""
        with self._changed:
            pending, notice = self._pending, self._notice
        if pending is None:
            return {"prompt": None, "notice": None if notice is None else {"message": notice[0],
                                                                          "message_ja": notice[1]}}
        en, ja = pending.request.describe()
        return {
            "prompt": pending.id,
            "mode": pending.mode,
            "key": pending.request.key.value,
            "tries_left": pending.request.tries_left,
            "last_try": pending.request.last_try,
            "issuer": pending.request.issuer,
            "headline": en,
            "headline_ja": ja,
            "documents": [d.shown() for d in pending.request.documents],
        }


def render(name: str, table: str = "pinpad", lang: str | None = None, **context: object) -> str:
    """Template ``name`` of ``cardreader/agent/templates/`` with the messages of ``table`` in ``messages.toml``
    (the PIN pad's by default): ``say(key)`` in ``lang``, or in both languages when ``lang`` is None (``both(key)``
    is always "日本語 / English").

    The agent has its own small loader (``cardreader`` never imports the services' ``servicekit``); HTML is
    autoescaped and undefined names raise, as in :mod:`servicekit.templates`."""
    messages = tomllib.loads(resources.files(__package__).joinpath("messages.toml").read_text(encoding="utf-8"))
    words: dict[str, dict[str, str]] = messages[table]
    environment = jinja2.Environment(loader=jinja2.PackageLoader(__package__, "templates"),
                                     autoescape=jinja2.select_autoescape(("html",)),
                                     undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)

    def both(key: str) -> str:
        return f"{words[key]['ja']} / {words[key]['en']}"

    def say(key: str) -> str:
        return both(key) if lang is None else words[key][lang]

    return environment.get_template(name).render(both=both, say=say, lang=lang, **context)


#: The PIN pad's languages; the first is the default.
LANGUAGES: Final = ("ja", "en")
_LANGUAGE_RANGE = re.compile(r"\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([01](?:\.\d{0,3})?))?\s*")


def language(query: str, accept_language: str | None) -> str:
    """The pad's language: ``lang=ja|en`` in the page's query (the pad's own switch), else the most preferred
    of ``Accept-Language`` (RFC 9110 §12.5.4) the pad speaks, else Japanese."""
    asked = parse_qs(query).get("lang", [])
    if asked and asked[-1] in LANGUAGES:
        return asked[-1]
    best, weight = LANGUAGES[0], 0.0
    for item in (accept_language or "")[:512].split(",")[:32]:
        match = _LANGUAGE_RANGE.fullmatch(item)
        quality = float(match[2]) if match and match[2] else 1.0
        if match and match[1].lower() in LANGUAGES and quality > weight:
            best, weight = match[1].lower(), quality
    return best


#: The PIN pad page's script (``templates/pinpad.js``) and its own stylesheet (``templates/pinpad.css``: large
#: touch targets and the full-screen kiosk layout, on top of the provider's shared design).
SCRIPT: Final = render("pinpad.js")
STYLE: Final = resources.files(__package__).joinpath("templates/pinpad.css").read_text(encoding="utf-8")


def page(provider: str, lang: str = LANGUAGES[0], *, kiosk: bool = False) -> str:
    """The PIN pad page in ``lang``, styled by the stylesheet of ``provider`` (the services' shared design) and the
    pad's own; ``kiosk``: full screen, its start screen asks for the card."""
    return render("pinpad.html", lang=lang, stylesheet=f"{provider}/assets/design.css", kiosk=kiosk)


__all__ = ["LANGUAGES", "SCRIPT", "STYLE", "PinPad", "StalePrompt", "language", "page", "render"]
