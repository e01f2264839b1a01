"""The card agent: ``python -m cardreader agent --provider URL`` on the machine with the card reader.

The provider's login page (server-rendered, same origin as the issuer) talks to the agent from the browser over
loopback. The agent then talks to the provider directly (:mod:`cardreader.login`): it fetches the challenge,
asks the person for the PIN in *its own* prompt, has the card sign the login message, and posts the result.
The page only learns how far the login got; the PIN never reaches the page or the provider.

HTTP API (``http://127.0.0.1:47210`` by default; JSON; CORS for the configured provider's origin only)
--------------------------------------------------------------------------------------------------------

Every route below (and its preflight) needs ``Origin:`` the provider's origin (``https://id.example.jp``, no
path); without it, or with another origin, the answer is ``403`` ``{"reason": "wrong_origin", ...}`` and no state.
Browsers send it on the login page's cross-origin requests; a client that is not a browser (the test wallet,
:mod:`credentials.wallet.login`; test harnesses) sends the provider's origin explicitly.

==================  ==============================================================================================
``GET /v1/status``  ``{"agent", "protocol": 1, "provider", "kiosk", "pin_entry": "terminal"|"pinpad",
                    "state": "idle"|"busy"|"remove_card"}`` — lets the page find the agent.
``POST /v1/login``  ``{"token": T}`` (the per-interaction token the login page was rendered with; 43
                    base64url characters), or ``{"code": C}`` (the provider's cross-device page, opened from the
                    QR code on another device). Only from the provider's origin (``Origin`` required). ``202``
                    ``{"login": id, "state", "error": null, "remove_card", "pin_entry", "pinpad_url"}``;
                    ``409`` ``busy`` or ``remove_card``; ``403`` ``wrong_origin``; ``400`` ``bad_token``.
``GET /v1/login/ID``  ``{"login", "state": fetching|waiting_for_card|waiting_for_pin|signing|sending|done|failed,
                    "error": null | {"reason", "message", "message_ja", "tries_left"?}, "remove_card": bool,
                    "card_removed": bool, "revision": n}`` (kiosk mode: the person must take the card;
                    ``card_removed``: the card was taken out, at the PIN prompt or after a kiosk login;
                    ``revision`` counts the view's changes). ``?wait=S&after=N``: a long poll, answered once
                    ``revision`` is past ``N`` or after ``S`` seconds (at most 30).
``GET /v1/login/ID/events``  ``text/event-stream``: the view above at once and at each change (event ``id``: its
                    ``revision``), a comment every 15 s, ending once the login is over (``done``/``failed`` and
                    no card left to take out). The login page follows this stream, or long polls where it fails.
==================  ==============================================================================================

``POST /v1/login/ID/cancel`` (the login page, on ``pagehide``) cancels that login if no PIN was submitted yet:
``{"cancelled": true|false}``. A new ``POST /v1/login`` also pre-empts a login whose PIN prompt is open (an
abandoned page), so a closed tab never keeps the reader busy until the prompt times out.

The token names the login at the provider: without it a page cannot make the agent log in to anything, and with
the ``Origin`` check no page but the provider's can hand the agent one. Bodies must be ``application/json``, so a
cross-origin page would need a CORS preflight, which only the provider's origin passes. ``Host`` must be the
agent's own loopback name (DNS rebinding). Preflights answer Private Network Access
(``Access-Control-Allow-Private-Network``) for the provider's origin.

The code page (``GET /``, the agent's own page, both languages): a person whose login page is on a device without
a reader types its short code here; the page's script starts the login (``POST /code/login`` ``{"code": C}``, only
with ``Origin:`` the agent's own origin, answered like ``POST /v1/login``) and follows it (``GET
/code/login/ID``, same-origin only); the login page on the other device moves on by itself. The agent's pages use
the provider's stylesheet (the services' shared design, CSP ``style-src`` the provider's origin).

PIN entry: the terminal the agent runs in (default), or the PIN pad page the agent serves on its own origin
(``/pinpad``, ``--pin-entry pinpad``; :mod:`cardreader.agent.pinpad`) for kiosks. Its state (``GET
/pinpad/state``) is only for the page itself: ``Sec-Fetch-Site: same-origin`` (what a browser sends with the page's
own fetch) or ``Origin:`` the agent's own origin; its answers (``POST /pinpad/answer``) need the agent's origin.
The pad speaks the browser's language (``Accept-Language``, or ``?lang=ja|en`` from its switch), works by touch,
mouse or keyboard, and adds its own ``/pinpad.css`` (CSP ``style-src`` also ``'self'``); its state carries the
reader's (``"reader"``, ``"step"``, ``"error"``), so with ``--kiosk`` it shows "take your card" until the reader
is empty, then its start screen.
The tries left are read first; a blocked PIN is not asked for; with one try left the person must confirm first; a
PIN the card refused is never sent again.

Kiosk mode (``--kiosk``): after each login, successful or not, the agent keeps nothing of it and asks for the
card to be taken; it accepts no new login until the reader is empty, so a card left behind is never used for the
next person (who would in any case have to enter the PIN in their own login).

Cross-device: ``python -m cardreader login --code CODE --provider URL`` completes a login whose page is shown on
another device (the page shows the code and a QR code), with the PIN typed in this terminal.
"""
