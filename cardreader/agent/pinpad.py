"""The agent's PIN pad: a page the agent itself serves on loopback, for kiosks without a terminal in reach.

The person types the PIN into ``http://127.0.0.1:<port>/pinpad``, a page of the *agent's* origin: the provider's
login page can open it in a window but cannot read or script it (no CORS on these routes, ``frame-ancestors
'none'``), and no other page can answer it (the answer must come from the agent's own origin and name the
current prompt, whose random id only a same-origin page can read). The PIN is turned into a
:class:`~cardreader.pin.Pin` as soon as it arrives and handed to the card; nothing else keeps it.

:class:`PinPad` is the :class:`~cardreader.login.PinPrompt` the login flow waits on; :data:`PAGE` and
:data:`SCRIPT` are the page.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass
from typing import Literal

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
        }


PAGE = """<!doctype html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>暗証番号の入力 / PIN entry — mynacard-id card agent</title>
<style>
body { font-family: sans-serif; max-width: 36rem; margin: 2rem auto; padding: 0 1rem; }
input[type=password] { font-size: 2rem; width: 100%; letter-spacing: .5rem; }
:focus-visible { outline: 3px solid #1a5fb4; outline-offset: 2px; }
button { font-size: 1.2rem; margin: .5rem .5rem 0 0; }
.warning { color: #a00; font-weight: bold; }
[hidden] { display: none; }
</style>
<script src="/pinpad.js" defer></script>
</head>
<body>
<main>
<h1>カードエージェント / Card agent</h1>
<p id="idle" role="status">ログインの開始を待っています。 / Waiting for a login.</p>
<p id="notice" role="status" hidden></p>
<form id="confirm" hidden>
  <p id="confirm-headline"></p>
  <p class="warning">注意: 残り1回です。間違えるとロックされます。 / Warning: only one try is left: a wrong PIN blocks
  the card.</p>
  <button type="submit" value="yes">続ける / Continue</button>
  <button type="button" id="confirm-no">やめる / Stop</button>
</form>
<form id="pin" hidden autocomplete="off">
  <p id="pin-headline"></p>
  <p>提供者 / Provider: <span id="issuer"></span></p>
  <p>残り回数 / Tries left: <span id="tries"></span></p>
  <p id="error" class="warning" role="alert" hidden></p>
  <p><label for="secret" id="secret-label">暗証番号 / PIN</label></p>
  <input type="password" id="secret" autocomplete="off" inputmode="text" required>
  <button type="submit">OK</button>
  <button type="button" id="pin-cancel">中止 / Cancel</button>
</form>
</main>
</body>
</html>
"""

SCRIPT = """"use strict";
(() => {
  let current = null;
  const $ = (id) => document.getElementById(id);
  const show = (id) => { for (const x of ["idle", "notice", "confirm", "pin"]) $(x).hidden = x !== id; };
  async function send(body) {
    const answer = await fetch("/pinpad/answer", {method: "POST", headers: {"Content-Type": "application/json"},
                                                  body: JSON.stringify(body)});
    return answer.ok ? null : (await answer.json());
  }
  async function poll() {
    try {
      const state = await (await fetch("/pinpad/state", {cache: "no-store"})).json();
      if (state.prompt === null) {
        current = null;
        if (state.notice) { $("notice").textContent = state.notice.message_ja + " / " + state.notice.message;
                            show("notice"); } else { show("idle"); }
      } else if (state.prompt !== current) {
        current = state.prompt;
        const headline = state.headline_ja + " / " + state.headline;
        if (state.mode === "confirm") { $("confirm-headline").textContent = headline; show("confirm"); }
        else {
          $("pin-headline").textContent = headline; $("issuer").textContent = state.issuer;
          $("secret-label").textContent = state.key === "sign" ? "署名用パスワード / Signing password"
                                                               : "暗証番号 / PIN";
          $("tries").textContent = String(state.tries_left); $("error").hidden = true; $("secret").value = "";
          show("pin"); $("secret").focus();
        }
      }
    } catch (e) { /* the agent restarted: keep polling */ }
    setTimeout(poll, 500);
  }
  $("confirm").addEventListener("submit", async (event) => {
    event.preventDefault(); await send({prompt: current, confirm: true});
  });
  $("confirm-no").addEventListener("click", () => send({prompt: current, confirm: false}));
  $("pin-cancel").addEventListener("click", () => send({prompt: current, cancel: true}));
  $("pin").addEventListener("submit", async (event) => {
    event.preventDefault();
    const secret = $("secret").value; $("secret").value = "";
    const error = await send({prompt: current, pin: secret});
    if (error) { $("error").textContent = error.message_ja + " / " + error.message; $("error").hidden = false; }
  });
  poll();
})();
"""

__all__ = ["PAGE", "SCRIPT", "PinPad", "StalePrompt"]
