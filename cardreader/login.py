"""The card side of a login at the provider: fetch the challenge, ask for the PIN, sign, send.

Shared by the loopback agent (:mod:`cardreader.agent`, same device: the provider's login page hands it a
*token*) and by ``python -m cardreader login --code CODE --provider URL`` (cross-device: the person types the
short *code* the login page shows on another machine). Either way the card talks to the provider directly;
the browser never sees the certificate or the signature, and the PIN goes nowhere but the card.

The HTTP contract with the provider is defined in :mod:`idp.endpoints.card_login`; this module is its client:

* ``POST {issuer}/card-login/challenge`` ``{"token": T}`` or ``{"code": C}`` → the fields of the login
  message (:class:`keys.cardlogin.LoginMessage`), the relying party's name and the challenge's expiry;
* ``POST {issuer}/card-login/precheck`` with the same ticket, the challenge, the key and the certificate read
  free from the card → ``{"status": "ok"}`` or a refusal with a typed reason (expired, revoked, untrusted, ...):
  asked before any PIN is, so a card or a provider that cannot log in is reported before anyone types
  (:meth:`Provider.precheck`); a refusal ends the login with no VERIFY sent. The provider checks everything again
  at the response;
* ``POST {issuer}/card-login/response`` with the same ticket, the challenge, the certificate and the
  signature (base64url) → ``{"status": "verified"}`` or an error ``{"error", "message", "message_ja"}``.

The message is built here, from the fields and from the issuer this side was configured with (never from
one the provider names), so the card signs only a domain-separated login message for that issuer, never a
digest handed to it (:mod:`keys.cardlogin`).

PIN rules (jpki-card-and-certs.md §5 step 3), on top of those of :mod:`cardreader.session`: the tries left
are read before anyone is asked for a PIN; a blocked PIN is not asked for; with one try left the person must
confirm explicitly first; a PIN the card refused is never sent again (the person starts a new login).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import httpx

from cardreader import pcsc, session
from cardreader.apdu import Transport
from cardreader.documents import SignDocument, digest_infos, document_signatures, parse_documents, signing_time
from cardreader.errors import (
    CardError,
    CertificateAbsent,
    LastTryNeedsConfirmation,
    PinBlocked,
    SecurityStatusNotSatisfied,
)
from cardreader.evidence import CardEvidence
from cardreader.jpki import Key, TokenType
from cardreader.pin import Pin
from keys.cardlogin import (
    CHALLENGE_OCTETS,
    CODE_ALPHABET,
    CODE_LENGTH,
    LoginMessage,
    encode_login_message,
    login_digest_info,
)
from keys.errors import VerificationError
from keys.jose.b64 import b64url_decode_loose, b64url_encode
from keys.x509.profile import Purpose

CHALLENGE_PATH = "/card-login/challenge"
PRECHECK_PATH = "/card-login/precheck"
RESPONSE_PATH = "/card-login/response"
#: Re-fetch the challenge before signing when less than this remains of it (the person took long with the PIN).
REFRESH_MARGIN = dt.timedelta(seconds=20)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_MAX_ANSWER = 16 * 1024


class LoginError(Exception):
    """A login that failed outside the card: the provider refused it, or could not be reached.

    Same shape as :class:`~cardreader.errors.CardError`: ``reason`` for programs, ``message`` and
    ``message_ja`` for the person, ``detail`` for logs (never a secret).
    """

    def __init__(self, reason: str, message: str, message_ja: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {message}" + (f" ({detail})" if detail else ""))
        self.reason = reason
        self.message = message
        self.message_ja = message_ja
        self.detail = detail

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        out: dict[str, object] = {"reason": self.reason, "message": self.message, "message_ja": self.message_ja}
        if self.detail:
            out["detail"] = self.detail
        return out


def _unavailable(detail: str) -> LoginError:
    return LoginError("provider_unavailable", "The login service could not be reached. Please try again.",
                      "ログインサービスに接続できませんでした。もう一度お試しください。", detail)


def _bad_answer(detail: str) -> LoginError:
    return LoginError("provider_answer", "The login service gave an unexpected answer.",
                      "ログインサービスから想定外の応答がありました。", detail)


def cancelled() -> LoginError:
    """The person cancelled (or did not answer) the PIN prompt."""
    return LoginError("cancelled", "The login was cancelled.", "ログインを中止しました。")


@dataclass(frozen=True, slots=True)
class Ticket:
    """What names the login at the provider: the page's token (same device) or the shown code (cross-device)."""

    kind: Literal["token", "code"]
    value: str = field(repr=False)

    @classmethod
    def token(cls, value: str) -> Ticket:
        """The 32-octet base64url token the provider's login page hands the agent."""
        if not _TOKEN.fullmatch(value):
            raise ValueError("a login token is 43 base64url characters")
        return cls("token", value)

    @classmethod
    def code(cls, value: str) -> Ticket:
        """The short code, as a person types it (case, spaces and hyphens do not matter)."""
        normal = re.sub(r"[\s-]", "", value).upper()
        if len(normal) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in normal):
            raise ValueError(f"a login code is {CODE_LENGTH} letters and digits, like ABCD-EFGH")
        return cls("code", normal)

    def member(self) -> dict[str, str]:
        """The ticket as a JSON member of a request to the provider."""
        return {self.kind: self.value}


@dataclass(frozen=True, slots=True)
class LoginRequest:
    """A challenge from the provider: the message to sign and what to tell the person."""

    message: LoginMessage
    client_name: str
    expires_at: dt.datetime
    #: Documents to sign with the signing key in the same card session (:mod:`cardreader.documents`).
    documents: tuple[SignDocument, ...] = ()
    #: A link login (:func:`run_login`): ``"card"``, both keys of the card sign the message over the same
    #: challenge; ``"renewal"``, the old card and then the renewed one sign it with the login's key.
    link: Literal["card", "renewal"] | None = None

    @property
    def key(self) -> Key:
        """The card key the provider asks for."""
        return Key(self.message.key.value)


def check_provider_url(issuer: str, *, test_mode: bool | None = None) -> str:
    """``issuer`` if it is an https origin, or http on a loopback host (or anywhere in test mode)."""
    parts = urlsplit(issuer)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise ValueError("the provider is an issuer URL: scheme, host and port only")
    loopback = parts.hostname in ("127.0.0.1", "::1", "localhost")
    if parts.scheme == "http" and not (loopback or pcsc.in_test_mode(test_mode)):
        raise ValueError("the provider must use https (http only for loopback hosts or in test mode)")
    return issuer.rstrip("/")


def origin_of(issuer: str) -> str:
    """The web origin (RFC 6454) of an issuer URL: what a browser sends as ``Origin``."""
    parts = urlsplit(issuer)
    default = {"https": 443, "http": 80}[parts.scheme]
    host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname
    port = "" if parts.port in (None, default) else f":{parts.port}"
    return f"{parts.scheme}://{host}{port}"


class Provider:
    """The provider's card-login endpoints, for one configured issuer."""

    def __init__(self, issuer: str, *, test_mode: bool | None = None, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None, kiosk: bool = False) -> None:
        self.issuer = check_provider_url(issuer, test_mode=test_mode)
        #: The agent runs at a kiosk: each login says so, and the provider opens no browser session for it.
        self.kiosk = kiosk
        self._http = httpx.Client(base_url=self.issuer, timeout=timeout, follow_redirects=False, transport=transport,
                                  headers={"Accept": "application/json"})

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def _post(self, path: str, body: Mapping[str, object]) -> dict[str, Any]:
        document = self._exchange(path, body)
        if document is None:
            raise _bad_answer(f"{path}: HTTP 404")
        return document

    def _exchange(self, path: str, body: Mapping[str, object]) -> dict[str, Any] | None:
        """The JSON answer, a refusal raised as :class:`LoginError`, or ``None`` from a provider that does not serve
        ``path`` (a 404 that is not a refusal: it predates the route)."""
        try:
            answer = self._http.post(path, json=dict(body))
        except httpx.HTTPError as exc:
            raise _unavailable(f"{path}: {type(exc).__name__}") from None
        if len(answer.content) > _MAX_ANSWER:
            raise _bad_answer(f"{path}: answer of {len(answer.content)} bytes")
        try:
            document = answer.json()
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the interpreter's stack
            document = None
        refusal = isinstance(document, dict) and all(isinstance(document.get(k), str)
                                                     for k in ("error", "message", "message_ja"))
        if answer.status_code == 404 and not refusal:
            return None
        if not isinstance(document, dict):
            raise _bad_answer(f"{path}: HTTP {answer.status_code}, not a JSON object")
        if answer.status_code != 200:
            if not refusal:
                raise _bad_answer(f"{path}: HTTP {answer.status_code}")
            raise LoginError(document["error"], document["message"], document["message_ja"],
                             f"{path}: HTTP {answer.status_code}")
        return document

    def challenge(self, ticket: Ticket) -> LoginRequest:
        """A fresh challenge for ``ticket``; the issuer in it must be the one configured here."""
        document = self._post(CHALLENGE_PATH, ticket.member())
        try:
            if document["issuer"] != self.issuer:
                raise _bad_answer("the challenge names another issuer")
            challenge = _b64decode(document["challenge"])
            if len(challenge) != CHALLENGE_OCTETS:
                raise ValueError("challenge length")
            message = LoginMessage(
                issuer=self.issuer,
                interaction=_string(document["interaction"]),
                challenge=challenge,
                issued_at=_time(document["issued_at"]),
                key=Purpose(Key(document["key"]).value),
            )
            documents = parse_documents(document.get("documents"))
            if documents and message.key is not Purpose.SIGN:
                raise ValueError("documents are signed with the signing key only")
            link = document.get("link")
            if link not in (None, "card", "renewal") or (link and documents):
                raise ValueError("link")
            return LoginRequest(message, _string(document["client_name"])[:200], _time(document["expires_at"]),
                                documents, link)
        except (KeyError, TypeError, ValueError, VerificationError) as exc:
            if isinstance(exc, LoginError):
                raise
            raise _bad_answer(f"challenge: {type(exc).__name__}") from None

    def precheck(self, ticket: Ticket, request: LoginRequest, key: Key, certificate: bytes | None) -> None:
        """Before any PIN is asked for: would the card's ``key`` certificate (read free; ``None`` when the token
        reads it only after the PIN, as every signing certificate) pass the login's path and revocation checks, and
        can the provider verify cards at all? Raises :class:`LoginError` with the provider's typed reason if not.
        Advice to the person only: the provider checks the signed login again. A provider without the route
        (older than it) is not asked."""
        document = self._exchange(PRECHECK_PATH, {
            **ticket.member(),
            "challenge": b64url_encode(request.message.challenge),
            "key": key.value,
            **({} if certificate is None else {"certificate": b64url_encode(certificate)}),
        })
        if document is not None and document.get("status") != "ok":
            raise _bad_answer("precheck: status is not ok")

    def respond(self, ticket: Ticket, request: LoginRequest, evidence: CardEvidence,
                signatures: list[dict[str, Any]] | None = None, link: CardEvidence | None = None) -> None:
        """Send the signed login (and, for a signing login, the ``document_signatures``; for a link login, the
        other key's evidence); return once the provider has verified it (raise :class:`LoginError` if not)."""
        extra: dict[str, Any] = {} if signatures is None else {"document_signatures": signatures}
        if link is not None:
            extra["link"] = {"certificate": b64url_encode(link.certificate),
                             "signature": b64url_encode(link.signature)}
        document = self._post(RESPONSE_PATH, {
            **ticket.member(),
            "challenge": b64url_encode(request.message.challenge),
            "certificate": b64url_encode(evidence.certificate),
            "signature": b64url_encode(evidence.signature),
            "token_type": evidence.token.value,
            **extra,
            **({"kiosk": True} if self.kiosk else {}),
        })
        if document.get("status") != "verified":
            raise _bad_answer("response: status is not verified")


def _b64decode(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError("not base64url")
    return b64url_decode_loose(value)


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _time(value: object) -> dt.datetime:
    if type(value) is not int:
        raise TypeError("expected seconds since the epoch")
    return dt.datetime.fromtimestamp(value, dt.UTC)


# --- the flow ------------------------------------------------------------------------------------------------


class Step(StrEnum):
    """Where a login is (the agent reports it to the login page)."""

    FETCHING = "fetching"
    WAITING_FOR_CARD = "waiting_for_card"
    WAITING_FOR_PIN = "waiting_for_pin"
    SIGNING = "signing"
    SENDING = "sending"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PinRequest:
    """What a PIN prompt shows: for whom, with which key, and how many tries are left."""

    key: Key
    tries_left: int
    issuer: str
    client_name: str
    #: The card or a smartphone token (EF 0006), named in the prompt.
    token: TokenType = TokenType.CARD
    #: The documents the card will sign after this PIN entry (shown with the prompt).
    documents: tuple[SignDocument, ...] = ()
    #: One of the two PINs of a link login: ``"card"`` (both keys of one card sign one challenge), ``"old"`` or
    #: ``"new"`` (the old card, then the renewed one).
    link: Literal["card", "old", "new"] | None = None

    @property
    def last_try(self) -> bool:
        """True when a wrong PIN now blocks the key."""
        return self.tries_left == 1

    def describe(self) -> tuple[str, str]:
        """The prompt's headline in English and Japanese."""
        device_en, device_ja = self.token.device()
        if self.documents:
            count = len(self.documents)
            en = (f"Sign {count} document{'s' if count > 1 else ''} for {self.client_name} with your {device_en}'s "
                  "signing certificate (signing password, 6-16 letters and digits); the card signs only the "
                  "documents listed here")
            ja = (f"{self.client_name} のために、{device_ja}の署名用電子証明書で次の{count}件の文書に署名します"
                  "（署名用パスワード・英数字6〜16文字）。カードはここに表示された文書にだけ署名します")
            return en, ja
        if self.link in ("old", "new"):
            which_en, which_ja = ("your current card", "今お使いのカード") if self.link == "old" else (
                "your NEW card: place it on the reader now", "新しいカード（いまカードリーダーに置いてください）")
            en = (f"Continue your account at {self.client_name} with a renewed card: {which_en} "
                  "(user authentication PIN, 4 digits) signs the same login; no certificate or personal data is kept")
            ja = (f"{self.client_name} のアカウントを新しいカードに引き継ぎます：{which_ja}で同じログインに署名します"
                  "（利用者証明用暗証番号・数字4桁）。証明書や個人情報は保存されません")
            return en, ja
        if self.link:
            which_en, which_ja = (
                ("user authentication PIN, 4 digits", "利用者証明用暗証番号・数字4桁") if self.key is Key.AUTH
                else ("signing password, 6-16 letters and digits", "署名用パスワード・英数字6〜16文字"))
            en = (f"Link your {device_en}'s two certificates for {self.client_name}: both sign one login, so either "
                  f"logs in to the same account ({which_en}); no certificate or personal data is kept")
            ja = (f"{self.client_name} で{device_ja}の2つの電子証明書を結び付けます。どちらでも同じアカウントにログイン"
                  f"できるようになります（{which_ja}）。証明書や個人情報は保存されません")
            return en, ja
        if self.key is Key.AUTH:
            en = f"Log in to {self.client_name} with your {device_en} (user authentication PIN, 4 digits)"
            ja = f"{self.client_name} に{device_ja}でログインします（利用者証明用暗証番号・数字4桁）"
        else:
            en = (f"Log in to {self.client_name} with your {device_en}'s signing certificate "
                  "(signing password, 6-16 letters and digits); your name, address, birth date and gender "
                  "are read from it")
            ja = (f"{self.client_name} に{device_ja}の署名用電子証明書でログインします（署名用パスワード・"
                  "英数字6〜16文字）。氏名・住所・生年月日・性別を読み取ります")
        return en, ja


class PinPrompt(Protocol):
    """Where the person enters the PIN: the agent's terminal or its PIN pad page, never the provider's page."""

    def confirm_last_try(self, request: PinRequest) -> bool:
        """Ask the person to confirm a PIN entry that, if wrong, blocks the key."""
        ...

    def ask_pin(self, request: PinRequest) -> Pin:
        """The PIN, in the card's format (re-asking on a format error is the prompt's business); raise
        :class:`LoginError` (see :func:`cancelled`) when the person gives up."""
        ...


@dataclass(frozen=True, slots=True)
class CardOptions:
    """Which reader, and how long to wait for a card to be placed on it."""

    reader: str | None = None
    test_mode: bool | None = None
    card_timeout: float = 60.0
    wait: float = 2.0


def run_login(
    provider: Provider,
    ticket: Ticket,
    prompt: PinPrompt,
    card: CardOptions = CardOptions(),
    *,
    on_step: Callable[[Step], None] = lambda step: None,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> None:
    """Complete the login ``ticket`` names: returns once the provider has verified it.

    Before any PIN (and before the last-try confirmation) the card's certificate, read free, is checked by the
    provider (:meth:`Provider.precheck`): a card or a provider that cannot log in is reported (on the prompt's
    ``notice`` too, when it has one) and the login stops with no VERIFY sent.

    Raises :class:`~cardreader.errors.CardError` (card, reader or PIN) or :class:`LoginError` (provider or
    person). No PIN and no certificate content is logged or kept: the PIN is wiped once sent, and the
    evidence is dropped when the provider has answered.
    """
    on_step(Step.FETCHING)
    request = provider.challenge(ticket)
    on_step(Step.WAITING_FOR_CARD)
    pcsc.wait_for_card(card.reader, timeout=card.card_timeout, test_mode=card.test_mode)
    keys = (Key.AUTH, Key.SIGN) if request.link == "card" else (request.key,)
    with pcsc.open_card(card.reader, test_mode=card.test_mode, wait=card.wait) as transport:
        info, certificates = _read_card(transport, keys)
    check = _Precheck(provider, ticket, request, prompt)
    if request.link == "card":
        _link_login(provider, ticket, prompt, card, request, info, check(certificates), on_step, clock)
        return
    if request.link == "renewal":
        _renewal_login(provider, ticket, prompt, card, request, info, check, certificates, on_step)
        return
    pin_request, confirmed = _pin_request(request, request.key, info, provider.issuer, prompt, check(certificates),
                                          link=None)
    on_step(Step.WAITING_FOR_PIN)
    pin = prompt.ask_pin(pin_request)
    try:
        if clock() > request.expires_at - REFRESH_MARGIN:
            fresh = provider.challenge(ticket)
            if fresh.key is not request.key or fresh.documents != request.documents:
                raise _bad_answer("the provider changed the key or the documents of the login")
            request = fresh
        on_step(Step.SIGNING)
        with pcsc.open_card(card.reader, test_mode=card.test_mode, wait=card.wait) as transport:
            if request.documents:
                evidence, signatures = _sign_documents(transport, request, pin, confirmed, clock())
            else:
                evidence = session.sign(transport, request.key, encode_login_message(request.message), pin,
                                        confirm_last_try=confirmed)
                signatures = None
    finally:
        pin.wipe()
    on_step(Step.SENDING)
    provider.respond(ticket, request, evidence, signatures)
    on_step(Step.DONE)


def _read_card(transport: Transport, keys: tuple[Key, ...]) -> tuple[session.CardInfo, dict[Key, bytes]]:
    """The card's token, certificates present and tries left, and the certificates of ``keys`` the token lets
    anyone read (listed in EF 0008, no PIN needed: the authentication certificate of a card); all free."""
    info = session.read_info(transport)
    listed = {Key.AUTH: info.certificates.auth, Key.SIGN: info.certificates.sign}
    certificates: dict[Key, bytes] = {}
    for key in keys:
        if listed[key] and info.token.type.certificate_pin(key.certificate) is None:
            # a token whose rules are assumed may protect it after all: then the response's check is the only one
            with contextlib.suppress(SecurityStatusNotSatisfied):
                certificates[key] = session.read_certificate(transport, key.certificate)
    return info, certificates


@dataclass(frozen=True, slots=True)
class _Precheck:
    """The provider's check of a card's certificates before its PIN (:meth:`Provider.precheck`); a refusal is also
    shown on the prompt (its ``notice``, when it has one: the PIN pad, the terminal) and raised."""

    provider: Provider
    ticket: Ticket
    request: LoginRequest
    prompt: PinPrompt

    def __call__(self, certificates: Mapping[Key, bytes]) -> Callable[[Key], None]:
        """The check of one key of the card whose free certificates are ``certificates``."""
        def check(key: Key) -> None:
            try:
                self.provider.precheck(self.ticket, self.request, key, certificates.get(key))
            except LoginError as exc:
                notice = getattr(self.prompt, "notice", None)
                if callable(notice):
                    notice(exc.message, exc.message_ja)
                raise
        return check


def _pin_request(request: LoginRequest, key: Key, info: session.CardInfo, issuer: str, prompt: PinPrompt,
                 precheck: Callable[[Key], None], link: Literal["card", "old", "new"] | None = "card",
                 ) -> tuple[PinRequest, bool]:
    """The prompt of ``key``'s PIN, after the PIN rules and the provider's precheck: certificate listed, PIN not
    blocked, the certificate accepted by the provider, then the last try only with the person's confirmation
    (asked before any PIN is entered)."""
    status = info.auth_pin if key is Key.AUTH else info.sign_pin
    if status is None or not (info.certificates.auth if key is Key.AUTH else info.certificates.sign):
        raise CertificateAbsent(f"EF 0008 lists no {key.value} certificate")
    if status.blocked:
        raise PinBlocked("no try left; no PIN was asked for")
    precheck(key)
    tries = status.tries_left if status.tries_left is not None else key.max_tries
    pin_request = PinRequest(key, tries, issuer, request.client_name, info.token.type,
                             request.documents if link is None else (), link=link)
    confirmed = pin_request.last_try and prompt.confirm_last_try(pin_request)
    if pin_request.last_try and not confirmed:
        raise LastTryNeedsConfirmation()
    return pin_request, confirmed


def _link_login(provider: Provider, ticket: Ticket, prompt: PinPrompt, card: CardOptions, request: LoginRequest,
                info: session.CardInfo, precheck: Callable[[Key], None], on_step: Callable[[Step], None],
                clock: Callable[[], dt.datetime]) -> None:
    """A "link my card" login: both PINs are asked (the rules of each PIN kept, both certificates prechecked first),
    then in ONE card session the authentication key and the signing key sign the login message over the SAME
    challenge (only the ``key`` field differs); the evidence of the login's key is the login, the other key's goes
    as ``link``. A refused PIN stops everything: the second PIN is then wiped unsent."""
    requests = [_pin_request(request, key, info, provider.issuer, prompt, precheck) for key in (Key.AUTH, Key.SIGN)]
    on_step(Step.WAITING_FOR_PIN)
    pins: list[Pin] = []
    try:
        for pin_request, _ in requests:
            pins.append(prompt.ask_pin(pin_request))
        if clock() > request.expires_at - REFRESH_MARGIN:
            fresh = provider.challenge(ticket)
            if fresh.key is not request.key or fresh.link != "card":
                raise _bad_answer("the provider changed the key of the login")
            request = fresh
        on_step(Step.SIGNING)
        evidence: dict[Key, CardEvidence] = {}
        with pcsc.open_card(card.reader, test_mode=card.test_mode, wait=card.wait) as transport:
            for (pin_request, confirmed), pin in zip(requests, pins, strict=True):
                message = dataclasses.replace(request.message, key=Purpose(pin_request.key.value))
                evidence[pin_request.key] = session.sign(transport, pin_request.key, encode_login_message(message),
                                                         pin, confirm_last_try=confirmed)
    finally:
        for pin in pins:
            pin.wipe()
    other = Key.SIGN if request.key is Key.AUTH else Key.AUTH
    on_step(Step.SENDING)
    provider.respond(ticket, request, evidence[request.key], link=evidence[other])
    on_step(Step.DONE)


def _renewal_login(provider: Provider, ticket: Ticket, prompt: PinPrompt, card: CardOptions, request: LoginRequest,
                   info: session.CardInfo, precheck: _Precheck, certificates: Mapping[Key, bytes],
                   on_step: Callable[[Step], None]) -> None:
    """The consent path of a renewal without a platform operator: the card in the reader (the old one, still
    valid) signs the login with the login's key; then the person places the renewed card, enters its PIN, and it
    signs the SAME message. Each card's certificate is prechecked before its PIN, each card's PIN rules are kept;
    the second PIN is asked only after the first card signed, and the renewed card is told apart by its
    certificate (read free where the token allows; a token whose certificate needs the PIN is awaited by removal
    and insertion)."""
    key = request.key
    message = encode_login_message(request.message)

    def sign_card(card_info: session.CardInfo, free: Mapping[Key, bytes], which: Literal["old", "new"],
                  refuse: bytes | None) -> CardEvidence:
        """One card's precheck and PIN (its rules), then its signature; ``free``: its certificates read free;
        ``refuse``: a certificate that must not sign again."""
        pin_request, confirmed = _pin_request(request, key, card_info, provider.issuer, prompt, precheck(free), which)
        on_step(Step.WAITING_FOR_PIN)
        pin = prompt.ask_pin(pin_request)
        on_step(Step.SIGNING)
        try:
            with pcsc.open_card(card.reader, test_mode=card.test_mode, wait=card.wait) as transport:
                if refuse is not None and session.read_certificate(transport, key.certificate) == refuse:
                    raise CertificateAbsent("the renewed card was taken away and the old one placed again")
                return session.sign(transport, key, message, pin, confirm_last_try=confirmed)
        finally:
            pin.wipe()

    old = sign_card(info, certificates, "old", None)
    on_step(Step.WAITING_FOR_CARD)
    free = _wait_for_other_card(card, key, old.certificate)
    with pcsc.open_card(card.reader, test_mode=card.test_mode, wait=card.wait) as transport:
        renewed_info, renewed_certificates = _read_card(transport, (key,))
    new = sign_card(renewed_info, renewed_certificates, "new", old.certificate if free else None)
    on_step(Step.SENDING)
    provider.respond(ticket, request, new, link=old)
    on_step(Step.DONE)


def _wait_for_other_card(card: CardOptions, key: Key, certificate: bytes) -> bool:
    """Wait (up to ``card.card_timeout``) for a card whose ``key`` certificate is not ``certificate``; returns
    whether that certificate is free to read (False: a removal and a new insertion were awaited instead)."""
    deadline = time.monotonic() + card.card_timeout
    with pcsc.open_card(card.reader, test_mode=card.test_mode, wait=card.wait) as transport:
        free = session.pin_needed_to_read(transport, key.certificate) is None
    if not free:
        wait_for_removal(card.reader, test_mode=card.test_mode, timeout=card.card_timeout)
        pcsc.wait_for_card(card.reader, timeout=max(0.0, deadline - time.monotonic()), test_mode=card.test_mode)
        return False
    while time.monotonic() < deadline:
        try:
            with pcsc.open_card(card.reader, test_mode=card.test_mode, wait=card.wait) as transport:
                if session.read_certificate(transport, key.certificate) != certificate:
                    return True
        except CardError:
            pass  # no card in the reader, or one being placed
        time.sleep(0.2)
    raise CertificateAbsent("no renewed card was placed on the reader")


def _sign_documents(transport: Transport, request: LoginRequest, pin: Pin, confirmed: bool,
                    now: dt.datetime) -> tuple[CardEvidence, list[dict[str, Any]]]:
    """The login and every shown document, after one signing-password entry (:mod:`cardreader.documents`)."""
    at = signing_time(now)
    login = login_digest_info(request.message)
    certificate, signatures, token = session.sign_many(
        transport, pin, lambda cert: digest_infos(login, request.documents, cert, at), confirm_last_try=confirmed)
    digest = hashlib.sha256(encode_login_message(request.message)).digest()
    evidence = CardEvidence(Key.SIGN, certificate, digest, signatures[0], token)
    return evidence, document_signatures(signatures[1:], at)


def wait_for_removal(reader: str | None = None, *, test_mode: bool | None = None, timeout: float | None = None,
                     interval: float = 0.2, settle: float = 0.0) -> bool:
    """Return ``True`` once ``reader`` reports no card, and still none ``settle`` seconds later (``False`` if
    ``timeout`` passes first).

    Only an empty reader is a removal (:func:`cardreader.pcsc.wait_for_empty`): a PC/SC failure (pcscd restarting,
    the reader not answering) or a card being reset or powered up says nothing about the card, so it is waited
    out, never taken for the card leaving. ``settle``: a contactless card that slips out of the field for a moment
    is not taken for a person leaving with it."""
    deadline = None if timeout is None else time.monotonic() + timeout
    empty_since: float | None = None
    while True:
        wait = interval if deadline is None else max(0.0, min(interval, deadline - time.monotonic()))
        try:
            empty = pcsc.wait_for_empty(reader, timeout=wait, test_mode=test_mode)  # wakes at the change
        except CardError:
            empty = False  # nothing is known about the card: not a removal
            time.sleep(wait)
        now = time.monotonic()
        empty_since = (empty_since or now) if empty else None
        if empty_since is not None and now - empty_since >= settle:
            return True
        if deadline is not None and now >= deadline:
            return False
        if empty_since is not None:
            time.sleep(min(interval, settle))


__all__ = [
    "CardOptions",
    "LoginError",
    "LoginRequest",
    "PinPrompt",
    "PinRequest",
    "Provider",
    "Step",
    "Ticket",
    "cancelled",
    "check_provider_url",
    "origin_of",
    "run_login",
    "wait_for_removal",
]
