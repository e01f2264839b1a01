"""The loopback HTTP server of the card agent, and the agent's state (one login at a time).

See :mod:`cardreader.agent` for the routes. Every request passes these gates first:

* the server listens on 127.0.0.1 only, and ``Host`` must name the agent itself (``127.0.0.1:<port>`` or
  ``localhost:<port>``), which defeats DNS rebinding;
* an ``Origin`` header, when present, must be the provider's origin (the login API) or the agent's own (the PIN
  pad); every ``/v1/`` route (status, start, a login's state, preflights) *requires* the provider's origin, and
  only it gets CORS headers; the PIN pad's state needs the agent's own origin or, as a browser sends it for the
  page's own same-origin ``GET``, ``Sec-Fetch-Site: same-origin``; its answers need the agent's own origin. A
  request without these gets ``403 wrong_origin`` and no state; so a client that is not a browser sends the
  origin it acts for explicitly (``Origin: <provider origin>``, as :mod:`credentials.wallet.login` does);
* bodies are JSON (so a cross-origin page cannot send one without a preflight, which only the provider's origin
  passes) and at most 4 KiB.

A login's progress is pushed to the page (issue 14: push, not poll): ``GET /v1/login/{id}/events`` is a
``text/event-stream`` (WHATWG HTML §9.2) of the login's view (the JSON of ``GET /v1/login/{id}``, whose
``revision`` is the event's ``id``) at once and at each change, a comment every 15 s, ending once the login is
over (``done``/``failed`` and, in kiosk mode, the card taken out: ``card_removed``). Where a proxy or browser
forbids event streams, ``GET /v1/login/{id}?wait=25&after=REVISION`` long polls: it answers once the revision is
past ``after`` or after ``wait`` seconds (at most 30). Both are ``/v1/`` routes: the gates above hold for them.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cardreader.agent.pinpad import LANGUAGES, SCRIPT, STYLE, PinPad, StalePrompt, language, page, render
from cardreader.errors import CardError, PinFormatError
from cardreader.login import (
    CardOptions,
    LoginError,
    PinPrompt,
    Provider,
    Step,
    Ticket,
    cancelled,
    origin_of,
    run_login,
    wait_for_removal,
)

log = logging.getLogger("cardreader.agent")

#: The agent's default port on loopback (the provider's ``card_login.agent_url`` must match).
DEFAULT_PORT = 47210
PROTOCOL_VERSION = 1
_MAX_BODY = 4096
_LOGIN_ROUTE = re.compile(r"/v1/login/([A-Za-z0-9_-]{22})")
_CODE_LOGIN_ROUTE = re.compile(r"/code/login/([A-Za-z0-9_-]{22})")
#: Finished logins kept viewable after a newer one started.
_RECENT = 4
_BEFORE_PIN = frozenset({Step.FETCHING, Step.WAITING_FOR_CARD, Step.WAITING_FOR_PIN})
#: How long a pre-empting login waits for the pre-empted one to end.
_PREEMPT_WAIT = 2.0
_CANCEL_ROUTE = re.compile(r"/v1/login/([A-Za-z0-9_-]{22})/cancel")
_EVENTS_ROUTE = re.compile(r"/v1/login/([A-Za-z0-9_-]{22})/events")
#: Seconds between an event stream's keep-alive comments, the longest stream, and the longest long poll.
_HEARTBEAT = 15.0
_STREAM_LIFETIME = 600.0
_MAX_WAIT = 30.0
_OVER = frozenset({Step.DONE.value, Step.FAILED.value})
#: How long a card must stay out before a PIN prompt closes for its removal (seconds): a contactless card that
#: slips out of the field for a moment is not a person leaving.
_REMOVAL_SETTLE = 0.5
_REMOVE_CARD = ("Please take your card from the reader.", "カードをカードリーダーから取り出してください。")


class Refused(Exception):
    """A request the agent will not serve now; ``reason``/``message``/``message_ja`` as for card errors."""

    def __init__(self, status: HTTPStatus, reason: str, message: str, message_ja: str) -> None:
        super().__init__(reason)
        self.status = status
        self.body = {"reason": reason, "message": message, "message_ja": message_ja}


@dataclass
class Job:
    """One login: where it is and, once it failed, why (never the card's data)."""

    id: str
    step: Step = Step.FETCHING
    error: dict[str, object] | None = None
    remove_card: bool = False
    #: Cancelled (its page was closed, or a newer login pre-empted it) before the PIN was submitted.
    cancelled: bool = False
    #: What the login page handed over (a second start with the same ticket is the same page: busy, no pre-emption).
    ticket: Ticket | None = field(default=None, repr=False)
    #: The card was taken out: at the PIN prompt (the login ended) or, in kiosk mode, after the login.
    card_removed: bool = False
    #: Counts the changes of the view (:meth:`Agent.changed`).
    revision: int = 0

    def view(self) -> dict[str, object]:
        """What the login page may see."""
        return {"login": self.id, "state": self.step.value, "error": self.error, "remove_card": self.remove_card,
                "card_removed": self.card_removed, "revision": self.revision}

    def over(self) -> bool:
        """Whether nothing more will change (ended, and no card left to take out)."""
        return self.step in (Step.DONE, Step.FAILED) and not self.remove_card


@dataclass
class AgentConfig:
    """How the agent runs."""

    provider: str
    port: int = DEFAULT_PORT
    kiosk: bool = False
    pin_entry: str = "terminal"  # or "pinpad"
    card: CardOptions = field(default_factory=CardOptions)


class Agent:
    """The agent's state: the provider it serves, the PIN prompt, and the current login."""

    def __init__(self, config: AgentConfig, provider: Provider, prompt: PinPrompt) -> None:
        self.config = config
        self.provider = provider
        self.prompt = prompt
        self.provider_origin = origin_of(provider.issuer)
        self._lock = threading.Lock()
        self._job: Job | None = None
        self._recent: list[Job] = []
        self._busy = False
        self._threads: list[threading.Thread] = []
        self._changes = threading.Condition()

    def changed(self, job: Job) -> None:
        """``job``'s view changed: wake its event streams and long polls."""
        with self._changes:
            job.revision += 1
            self._changes.notify_all()

    def wait_change(self, job: Job, after: int, timeout: float) -> bool:
        """Wait until ``job``'s revision is past ``after``; False after ``timeout`` seconds."""
        with self._changes:
            return self._changes.wait_for(lambda: job.revision > after, timeout)

    def view(self, job: Job) -> dict[str, object]:
        """``job``'s view, consistent (its outcome is published under the agent's lock)."""
        with self._lock:
            return job.view()

    def status(self) -> dict[str, object]:
        """``GET /v1/status``."""
        with self._lock:
            state = self._reader_state()
        return {"agent": "mynacard-id card agent", "protocol": PROTOCOL_VERSION, "provider": self.provider.issuer,
                "kiosk": self.config.kiosk, "pin_entry": self.config.pin_entry, "state": state}

    def _reader_state(self) -> str:
        return "idle" if not self._busy else ("remove_card" if self._job and self._job.remove_card else "busy")

    def pad_view(self) -> dict[str, object]:
        """What the PIN pad page shows besides its prompt: the reader's state (as in :meth:`status`) and, while it
        is busy, the current login's step and, once it failed, why (kiosk mode: until the card is out)."""
        with self._lock:
            job, state = self._job, self._reader_state()
            running = job if job is not None and state != "idle" else None
            return {"kiosk": self.config.kiosk, "reader": state, "step": running.step.value if running else None,
                    "error": running.error if running else None}

    def cancel(self, job_id: str) -> bool:
        """Cancel login ``job_id`` if no PIN has been submitted for it yet (its page was closed): an open PIN prompt
        closes and the login fails as cancelled; a login still fetching or waiting for the card stops before it
        asks. False when it is not the current login, or is past the PIN."""
        with self._lock:
            job = self._job
            if job is None or job.id != job_id or not self._busy or job.remove_card or job.step not in _BEFORE_PIN:
                return False
            job.cancelled = True
            prompting = job.step is Step.WAITING_FOR_PIN
        cancel = getattr(self.prompt, "cancel", None)
        if prompting and callable(cancel):
            cancel()
        log.info("login_cancelled", extra={"login": job.id[:6]})
        return True

    def _preempt(self, ticket: Ticket) -> None:
        """A new login (another page's ticket) pre-empts one whose PIN prompt is open (an abandoned page): cancel
        it and wait briefly for it to end. Nothing happens to a login past the PIN, or waiting for the card or its
        removal, or to the same page asking twice."""
        with self._lock:
            job = self._job
            if job is None or not self._busy or job.step is not Step.WAITING_FOR_PIN or job.ticket == ticket:
                return
        if self.cancel(job.id):
            deadline = time.monotonic() + _PREEMPT_WAIT
            while time.monotonic() < deadline and job.step in _BEFORE_PIN:
                time.sleep(0.02)
            log.info("login_preempted", extra={"login": job.id[:6]})

    def start(self, ticket: Ticket) -> Job:
        """Start a login in the background, unless one is running (or, in kiosk mode, the last card is still in
        the reader); a login waiting at an open PIN prompt is pre-empted (:meth:`_preempt`)."""
        self._preempt(ticket)
        with self._lock:
            if self._busy:
                if self._job is not None and self._job.remove_card:
                    raise Refused(HTTPStatus.CONFLICT, "remove_card", *_REMOVE_CARD)
                raise Refused(HTTPStatus.CONFLICT, "busy", "Another login is in progress on this reader.",
                              "このカードリーダーでは別のログインが進行中です。")
            if self._job is not None:  # its page may still ask how it ended (e.g. pre-empted)
                self._recent = [*self._recent[-(_RECENT - 1):], self._job]
            job = Job(secrets.token_urlsafe(16), ticket=ticket)
            self._job, self._busy = job, True
        thread = threading.Thread(target=self._run, args=(job, ticket), name=f"login-{job.id[:6]}", daemon=True)
        self._threads.append(thread)
        thread.start()
        return job

    def job(self, job_id: str) -> Job | None:
        """The login ``job_id``, if it is the current one or one of the few before it (whose pages may still ask
        how they ended)."""
        with self._lock:
            return next((j for j in (self._job, *self._recent) if j is not None and j.id == job_id), None)

    def _run(self, job: Job, ticket: Ticket) -> None:
        def step(value: Step) -> None:
            if job.cancelled and value in (Step.WAITING_FOR_PIN, Step.SIGNING):
                raise cancelled()  # cancelled before its PIN prompt opened
            if value is not Step.DONE:  # the outcome is published below, together with the agent's freedom
                job.step = value
                self.changed(job)
            if value is Step.WAITING_FOR_PIN:
                threading.Thread(target=self._cancel_on_removal, args=(job,), name=f"removal-{job.id[:6]}",
                                 daemon=True).start()

        outcome: Step = Step.FAILED
        error: dict[str, object] | None = None
        try:
            run_login(self.provider, ticket, self.prompt, self.config.card, on_step=step)
            outcome = Step.DONE
            log.info("login_done", extra={"login": job.id[:6]})
        except (CardError, LoginError) as exc:
            error = _public(exc.as_dict())
            log.info("login_failed", extra={"login": job.id[:6], "reason": str(exc.reason), "detail": exc.detail})
        except Exception as exc:
            error = {"reason": "agent_error", "message": "The card agent failed. Please try again.",
                     "message_ja": "カードエージェントでエラーが発生しました。もう一度お試しください。"}
            log.error("login_crashed", extra={"login": job.id[:6], "error": type(exc).__name__})
        finally:
            with self._lock:
                job.step, job.error, job.remove_card = outcome, error, self.config.kiosk
                self._busy = self.config.kiosk
            self.changed(job)
            if self.config.kiosk:
                self._forget_card(job)

    def _cancel_on_removal(self, job: Job) -> None:
        """Taking the card out while the PIN is asked for ends the login at once (the prompt closes), rather than
        leaving the next person a prompt for a card that is gone."""
        card = self.config.card
        while job.step is Step.WAITING_FOR_PIN and not job.cancelled:
            if wait_for_removal(card.reader, test_mode=card.test_mode, timeout=_REMOVAL_SETTLE + 0.25, interval=0.1,
                                settle=_REMOVAL_SETTLE) and job.step is Step.WAITING_FOR_PIN:
                if self.cancel(job.id):
                    job.card_removed = True
                    self.changed(job)
                    log.info("card_removed", extra={"login": job.id[:6]})
                return

    def _forget_card(self, job: Job) -> None:
        """Kiosk mode: nothing of this login survives it, and the next login needs the card out first (so a card
        left behind is never used for the next person without their own PIN entry in their own login)."""
        notice = getattr(self.prompt, "notice", None)
        if callable(notice):  # why the login failed (e.g. refused before the PIN) stays in view with the request
            why = job.error or {}
            notice(" ".join(filter(None, (str(why.get("message", "")), _REMOVE_CARD[0]))),
                   "".join(filter(None, (str(why.get("message_ja", "")), _REMOVE_CARD[1]))))
        card = self.config.card
        removed = False
        try:
            removed = wait_for_removal(card.reader, test_mode=card.test_mode)
        finally:
            if callable(notice):
                notice("Ready for the next person.", "次の方のログインを待っています。")
            with self._lock:
                job.remove_card, self._busy = False, False
                job.card_removed = job.card_removed or removed
            self.changed(job)

    def close(self) -> None:
        """Cancel an open PIN pad prompt and close the provider connection."""
        cancel = getattr(self.prompt, "cancel", None)
        if callable(cancel):
            cancel()
        self.provider.close()


def _long_poll(target: str) -> tuple[float, int]:
    """``wait`` (seconds, at most 30; 0: answer at once) and ``after`` (a revision) of a long poll's query."""
    query = parse_qs(urlsplit(target).query)
    try:
        wait = min(max(float(query.get("wait", ["0"])[0]), 0.0), _MAX_WAIT)
        after = int(query.get("after", ["-1"])[0])
    except ValueError:
        raise Refused(HTTPStatus.BAD_REQUEST, "bad_request", "Bad wait or after.", "リクエストが不正です。") from None
    return (wait if wait == wait else 0.0), after  # NaN: no wait


def _public(error: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in error.items() if k in ("reason", "message", "message_ja", "tries_left")}


class _Handler(BaseHTTPRequestHandler):
    server: AgentServer
    server_version = "mynacard-agent"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    # -- plumbing ---------------------------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        pass  # request lines carry login ids; _route logs method and route only

    def _send(self, status: HTTPStatus, body: bytes, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": content_type, "Content-Length": str(len(body)),
                            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                            "Referrer-Policy": "no-referrer", **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: HTTPStatus, document: object, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(document, ensure_ascii=False).encode(), "application/json; charset=utf-8",
                   headers or {})

    def _cors(self) -> dict[str, str]:
        return {"Access-Control-Allow-Origin": self.server.agent.provider_origin, "Vary": "Origin"}

    def _body(self) -> dict[str, Any]:
        if (self.headers.get("Content-Type") or "").split(";")[0].strip().lower() != "application/json":
            raise Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "bad_request", "JSON expected.", "JSONが必要です。")
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if not 0 < length <= _MAX_BODY:
            raise Refused(HTTPStatus.BAD_REQUEST, "bad_request", "Bad request body.", "リクエストが不正です。")
        try:
            document = json.loads(self.rfile.read(length))
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the interpreter's stack
            document = None
        if not isinstance(document, dict):
            raise Refused(HTTPStatus.BAD_REQUEST, "bad_request", "Bad request body.", "リクエストが不正です。")
        return document

    def _gate(self) -> str:
        """Host and Origin checks; returns which origin asked: ``provider``, ``agent`` or ``none``."""
        if (self.headers.get("Host") or "").lower() not in self.server.hosts:
            raise Refused(HTTPStatus.MISDIRECTED_REQUEST, "wrong_host", "Wrong host.", "ホストが違います。")
        origin = self.headers.get("Origin")
        if origin is None:
            return "none"
        if origin == self.server.agent.provider_origin:
            return "provider"
        if origin in self.server.own_origins:
            return "agent"
        raise Refused(HTTPStatus.FORBIDDEN, "wrong_origin", "This page may not use the card agent.",
                      "このページからはカードエージェントを利用できません。")

    def _route(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        headers: dict[str, str] = {}
        try:
            caller = self._gate()
            if path.startswith("/v1/"):
                if caller != "provider":
                    raise Refused(HTTPStatus.FORBIDDEN, "wrong_origin", "Only the provider's login page may use the "
                                  "card agent.", "カードエージェントを利用できるのはログインページだけです。")
                headers = self._cors()
                self._login_api(method, path, headers)
            elif path in ("/", "/code.js") or path.startswith("/code/"):
                if caller == "provider":
                    raise Refused(HTTPStatus.FORBIDDEN, "wrong_origin", "The code page is the agent's own page.",
                                  "コードの入力はカードエージェントの画面で行ってください。")
                self._code_page(method, path, caller)
            elif path == "/pinpad" or path.startswith("/pinpad"):
                if caller == "provider":
                    raise Refused(HTTPStatus.FORBIDDEN, "wrong_origin", "The PIN pad is the agent's own page.",
                                  "暗証番号の入力はカードエージェントの画面で行ってください。")
                self._pinpad(method, path, caller)
            else:
                raise Refused(HTTPStatus.NOT_FOUND, "not_found", "Not found.", "見つかりません。")
        except Refused as refused:
            log.info("refused", extra={"method": method, "status": int(refused.status),
                                       "reason": refused.body["reason"]})
            self._json(refused.status, refused.body, headers)

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_OPTIONS(self) -> None:
        self._route("OPTIONS")

    # -- the login API (the provider's page) ------------------------------------------------------------------

    def _login_api(self, method: str, path: str, headers: dict[str, str]) -> None:
        """The provider's origin only (checked by :meth:`_route`)."""
        agent = self.server.agent
        if method == "OPTIONS":
            preflight = {**headers, "Access-Control-Allow-Methods": "GET, POST",
                         "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "600"}
            if self.headers.get("Access-Control-Request-Private-Network") == "true":
                preflight["Access-Control-Allow-Private-Network"] = "true"  # Private Network Access (Chrome)
            self._send(HTTPStatus.NO_CONTENT, b"", "text/plain", preflight)
            return
        if method == "GET" and path == "/v1/status":
            self._json(HTTPStatus.OK, agent.status(), headers)
            return
        if method == "POST" and path == "/v1/login":
            body = self._body()
            token, code = body.get("token"), body.get("code")
            self._start(code if isinstance(code, str) and token is None else None,
                        token if isinstance(token, str) else "", headers)
            return
        cancel = _CANCEL_ROUTE.fullmatch(path)
        if method == "POST" and cancel:  # the login page was closed (fetch keepalive on pagehide)
            length = self.headers.get("Content-Length") or "0"
            self.rfile.read(min(int(length) if length.isdigit() else 0, _MAX_BODY))  # no body expected
            self._json(HTTPStatus.OK, {"cancelled": agent.cancel(cancel[1])}, headers)
            return
        match = _LOGIN_ROUTE.fullmatch(path) or _EVENTS_ROUTE.fullmatch(path)
        if method == "GET" and match:
            current = agent.job(match[1])
            if current is None:
                raise Refused(HTTPStatus.NOT_FOUND, "unknown_login", "No such login.", "該当するログインがありません。")
            if path.endswith("/events"):
                self._events(current, headers)
                return
            wait, after = _long_poll(self.path)
            if wait > 0 and current.revision <= after and not current.over():
                agent.wait_change(current, after, wait)
            self._json(HTTPStatus.OK, agent.view(current), headers)
            return
        raise Refused(HTTPStatus.NOT_FOUND, "not_found", "Not found.", "見つかりません。")

    def _events(self, job: Job, headers: dict[str, str]) -> None:
        """The login's views as server-sent events until it is over (or the page leaves, or the stream's lifetime
        ends: the browser then reconnects)."""
        agent = self.server.agent
        self.close_connection = True
        self.send_response(HTTPStatus.OK)
        for name, value in {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store",
                            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                            "Connection": "close", **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        end = time.monotonic() + _STREAM_LIFETIME
        sent: dict[str, object] | None = None
        try:
            while True:
                view = agent.view(job)
                revision = int(str(view["revision"]))
                if {**view, "revision": 0} != sent:  # each change once (a view may already hold the next one)
                    data = json.dumps(view, ensure_ascii=False)
                    self.wfile.write(f"id: {revision}\nretry: 500\ndata: {data}\n\n".encode())
                    sent = {**view, "revision": 0}
                self.wfile.flush()
                left = end - time.monotonic()
                if (view["state"] in _OVER and not view["remove_card"]) or left <= 0:
                    return
                if not agent.wait_change(job, revision, min(_HEARTBEAT, left)):
                    self.wfile.write(b": keep-alive\n\n")
        except (BrokenPipeError, ConnectionResetError):
            return  # the page left

    def _start(self, code: str | None, token: str, headers: dict[str, str]) -> None:
        """Start the login of ``code`` (another device's) or else of ``token`` (this machine's login page)."""
        agent = self.server.agent
        try:
            ticket = Ticket.code(code) if code is not None else Ticket.token(token)
        except ValueError:
            raise Refused(HTTPStatus.BAD_REQUEST, "bad_token", "Bad login token or code.",
                          "ログイントークンまたはコードが不正です。") from None
        job = agent.start(ticket)
        log.info("login_started", extra={"login": job.id[:6]})
        pinpad = f"{self.server.own_origins[0]}/pinpad" if agent.config.pin_entry == "pinpad" else None
        self._json(HTTPStatus.ACCEPTED, {**job.view(), "pin_entry": agent.config.pin_entry, "pinpad_url": pinpad},
                   headers)

    # -- the code page (the agent's own page: a login shown on another device) ---------------------------------

    def _code_page(self, method: str, path: str, caller: str) -> None:
        same_page = caller == "agent" or (caller == "none" and self.headers.get("Sec-Fetch-Site") == "same-origin")
        match = _CODE_LOGIN_ROUTE.fullmatch(path)
        if method == "GET" and path == "/":
            self._send(HTTPStatus.OK, self.server.code_page.encode(), "text/html; charset=utf-8",
                       self.server.page_headers)
        elif method == "GET" and path == "/code.js":
            self._send(HTTPStatus.OK, CODE_SCRIPT.encode(), "text/javascript; charset=utf-8", _PAGE_HEADERS)
        elif method == "POST" and path == "/code/login":
            if caller != "agent":  # only the agent's own page starts a login by code
                raise Refused(HTTPStatus.FORBIDDEN, "wrong_origin", "Not from the agent's page.",
                              "カードエージェントの画面からではありません。")
            code = self._body().get("code")
            self._start(code if isinstance(code, str) else "", "", {})
        elif method == "GET" and match and same_page:
            current = self.server.agent.job(match[1])
            if current is None:
                raise Refused(HTTPStatus.NOT_FOUND, "unknown_login", "No such login.", "該当するログインがありません。")
            self._json(HTTPStatus.OK, current.view())
        elif method == "GET" and match:
            raise Refused(HTTPStatus.FORBIDDEN, "wrong_origin", "Not from this page.", "この画面以外からです。")
        else:
            raise Refused(HTTPStatus.NOT_FOUND, "not_found", "Not found.", "見つかりません。")

    # -- the PIN pad (the agent's own page) -------------------------------------------------------------------

    def _pinpad(self, method: str, path: str, caller: str) -> None:
        pad = self.server.pinpad
        if pad is None:
            raise Refused(HTTPStatus.NOT_FOUND, "not_found", "The PIN is entered in the agent's terminal.",
                          "暗証番号はカードエージェントの端末で入力してください。")
        if method == "GET" and path == "/pinpad":
            lang = language(self.path.partition("?")[2], self.headers.get("Accept-Language"))
            self._send(HTTPStatus.OK, self.server.pinpad_pages[lang].encode(), "text/html; charset=utf-8",
                       {**self.server.page_headers, "Content-Language": lang, "Vary": "Accept-Language"})
        elif method == "GET" and path == "/pinpad.js":
            self._send(HTTPStatus.OK, SCRIPT.encode(), "text/javascript; charset=utf-8", _PAGE_HEADERS)
        elif method == "GET" and path == "/pinpad.css":
            self._send(HTTPStatus.OK, STYLE.encode(), "text/css; charset=utf-8", _PAGE_HEADERS)
        elif method == "GET" and path == "/pinpad/state":
            if caller != "agent" and not (caller == "none" and self.headers.get("Sec-Fetch-Site") == "same-origin"):
                raise Refused(HTTPStatus.FORBIDDEN, "wrong_origin", "Not from this page.", "この画面以外からです。")
            self._json(HTTPStatus.OK, {**pad.state(), **self.server.agent.pad_view()})
        elif method == "POST" and path == "/pinpad/answer":
            if caller != "agent":  # an answer must come from the PIN pad page itself
                raise Refused(HTTPStatus.FORBIDDEN, "wrong_origin", "Not from the PIN pad.",
                              "暗証番号入力画面からではありません。")
            self._answer(pad, self._body())
        else:
            raise Refused(HTTPStatus.NOT_FOUND, "not_found", "Not found.", "見つかりません。")

    def _answer(self, pad: PinPad, body: dict[str, Any]) -> None:
        prompt, pin, confirm, cancel = body.get("prompt"), body.get("pin"), body.get("confirm"), body.get("cancel")
        if not isinstance(prompt, str) or not isinstance(pin, str | None) or not isinstance(confirm, bool | None):
            raise Refused(HTTPStatus.BAD_REQUEST, "bad_request", "Bad answer.", "回答が不正です。")
        try:
            pad.answer(prompt, pin=pin, confirm=confirm, cancel=cancel is True)
        except StalePrompt:
            raise Refused(HTTPStatus.CONFLICT, "stale_prompt", "This prompt is no longer open.",
                          "この入力はすでに終了しています。") from None
        except PinFormatError as exc:
            raise Refused(HTTPStatus.BAD_REQUEST, exc.reason.value, exc.message, exc.message_ja) from None
        except ValueError:
            raise Refused(HTTPStatus.BAD_REQUEST, "bad_request", "Bad answer.", "回答が不正です。") from None
        self._json(HTTPStatus.OK, {"status": "accepted"})


#: The agent's scripts (its pages have :attr:`AgentServer.page_headers`).
_PAGE_HEADERS = {"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'", "X-Frame-Options": "DENY",
                 "X-Content-Type-Options": "nosniff"}


#: The code page's script (``templates/code.js``).
CODE_SCRIPT = render("code.js", "code")


class AgentServer(ThreadingHTTPServer):
    """The agent's HTTP server, on loopback only."""

    daemon_threads = True

    def __init__(self, agent: Agent, *, pinpad: PinPad | None = None) -> None:
        super().__init__(("127.0.0.1", agent.config.port), _Handler)
        self.agent = agent
        self.pinpad = pinpad
        port = self.server_address[1]
        agent.config.port = port
        self.hosts = frozenset({f"127.0.0.1:{port}", f"localhost:{port}"})
        self.own_origins = (f"http://127.0.0.1:{port}", f"http://localhost:{port}")
        provider = agent.provider_origin
        #: The code page names the provider; both pages use its stylesheet (the services' shared design).
        self.code_page = render("code.html", "code", provider=provider, stylesheet=f"{provider}/assets/design.css")
        self.pinpad_pages = {lang: page(provider, lang, kiosk=agent.config.kiosk) for lang in LANGUAGES}
        #: The agent's own pages: its scripts, the provider's stylesheet, fetches to the agent only.
        self.page_headers = {
            "Content-Security-Policy": f"default-src 'none'; script-src 'self'; style-src {provider} 'self'; "
                                       "connect-src 'self'; frame-ancestors 'none'; form-action 'none'; "
                                       "base-uri 'none'",
            "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}

    def serve(self, ready: Callable[[str], None] | None = None) -> None:
        """Serve until :meth:`shutdown`; ``ready`` receives the agent's URL once it listens."""
        if ready is not None:
            ready(self.own_origins[0])
        self.serve_forever()


__all__ = ["DEFAULT_PORT", "Agent", "AgentConfig", "AgentServer", "Job", "Refused"]
