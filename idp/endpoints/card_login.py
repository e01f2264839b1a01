"""Card login over HTTP: the contract between the login page, the card agent and the provider.

Three parties: the **browser** showing the provider's login page (same origin as the issuer), the **card agent**
on the machine with the reader (``python -m cardreader agent``, or ``python -m cardreader login --code`` on
another machine; :mod:`cardreader.login` is the client of the agent-facing half), and the provider. The PIN
never appears in any of these exchanges: the agent asks for it in its own terminal or PIN pad.

Browser-facing (the interaction's cookie ``mynacard_interaction`` binds the login to the browser that started it)
--------------------------------------------------------------------------------------------------------------

``GET /interaction/{uid}``
    The login page (:class:`idp.login.authenticator.CardAuthenticator`). It carries the per-interaction
    **token** (32 random octets, base64url) for the agent on this machine and the cross-device **code**
    (``XXXX-XXXX``) with its QR code (``{issuer}/card-login/device#CODE``) and the ``cardreader login``
    command. Reloading the page replaces token and code.
``GET /interaction/{uid}/card/status``
    Progress: ``{"state": "pending"|"verified"|"failed", "error": null|{"error",
    "message", "message_ja"}, "token": null|"card"|"smartphone"}`` (404 without the interaction's cookie, or once
    the login is gone); ``token`` names what the agent read (the page says "スマートフォン" or "カード"). The page
    follows it pushed, ``GET /interaction/{uid}/card/events`` (:mod:`idp.endpoints.card_login_events`), or where
    event streams fail long polls it: ``?wait=25&state=S`` answers once the state is no longer ``S``.
``POST /interaction/{uid}/card/finish``
    Collects the verified login (once), hands it to :func:`idp.oauth.authenticator.complete_login` and answers
    ``303`` to the consent page or the step that answers the relying party. Before verification it sends the
    browser back to the login page; a POST from another origin gets the "expired" page.
``GET /card-login/device``
    The QR code's target on the machine with the reader: hands the code (from the URL fragment, which never
    reaches a server) to the local agent.
``GET /card-login/login.js``
    The pages' script (talks to the agent at ``card_login.agent_url``; follows the agent's and the provider's
    event streams, or long polls them).

Agent-facing (JSON both ways; not for browsers: no CORS)
--------------------------------------------------------

``POST /card-login/challenge`` ``{"token": T}`` or ``{"code": C}``
    A fresh one-time challenge (32 random octets, single use, ``card_login.challenge_ttl``):
    ``{"issuer", "interaction", "challenge", "issued_at", "key": "auth"|"sign", "client_name", "expires_at"}``
    (times in seconds since the epoch; ``interaction`` is a hash of the uid, which stays with the browser).
    The agent builds :class:`keys.cardlogin.LoginMessage` from these fields and *its own* configured issuer,
    and has the card sign it with the named key.
``POST /card-login/precheck`` ``{"token"|"code", "challenge", "key", "certificate"}`` (``key`` optional: the login's;
    in a ``"card"`` link login either key; ``certificate`` base64url, optional)
    Asked by the agent after it read the card (free: the certificate, the tries left) and before it asks for the
    PIN, so that a person is told *before typing* that this card or this provider cannot log in: the path and
    revocation checks the response will run (:meth:`idp.login.verifier.CardVerifier.check_certificate`, the same
    verifier and shared OCSP/operator answers), answered ``200 {"status": "ok"}`` or a refusal with a typed reason
    (``certificate_expired``, ``certificate_not_yet_valid``, ``certificate_revoked``, ``certificate_untrusted``,
    ``certificate_wrong_kind``, ``certificate_not_accepted``, ``revocation_unavailable``,
    ``card_login_unavailable``), which also fails the login (the page shows it; a malformed certificate is a
    ``bad_request`` only). Without a certificate (a token
    that reads it only after the PIN, like every signing certificate) it answers whether card login can run at
    all. It consumes nothing and answers only for a live ticket with an unused challenge (``challenge_invalid``
    otherwise); it is advice to the person, never a substitute: the response checks everything again. The
    certificate is not kept; the log names the key and the reason only.
``POST /card-login/response`` ``{"token"|"code", "challenge", "certificate", "signature"}`` (base64url; optional
    ``token_type``, the agent's reading of EF 0006, kept for display only: :mod:`idp.login.token_kind`; in a link
    login — the challenge says ``"link": "card"|"renewal"``, opened by the login page's ``?link=1`` or
    ``?link=renewal`` — ``"link": {"certificate", "signature"}``, the other key's or the other card's signature over
    the same challenge: :mod:`idp.login.link`; and
    ``"kiosk": true`` from an agent run as a kiosk's: the login opens no browser session, :mod:`idp.oauth.kiosk`)
    The challenge is consumed (a replay fails), then :func:`keys.cardlogin.verify_card_login` runs with the
    pinned roots and the configured revocation sources — CRL directory, OCSP, or a platform operator with its
    answers cached in the database (:mod:`idp.login.verifier`, :mod:`idp.login.platform`):
    ``200 {"status": "verified"}``.

Errors are ``{"error", "message", "message_ja"}`` (messages for the person at the reader): 400 ``bad_request``,
``challenge_invalid`` (unknown, expired or already used), ``bad_signature``, ``login_expired``; 403
``certificate_revoked``, ``certificate_expired``, ``certificate_not_accepted`` (and, from the precheck only,
``certificate_not_yet_valid``, ``certificate_untrusted``, ``certificate_wrong_kind``); 404 ``unknown_login``; 409
``already_verified``, ``link_refused`` (with the reason: ``key_already_linked``, ``link_same_key``,
``link_generation_mismatch``, ``link_not_checked``); 503 ``renewal_link_unavailable`` (no usable certificate-link
answer from the platform operator, :mod:`idp.login.renewal`), ``revocation_unavailable`` (fail closed: no fresh
revocation status) and ``card_login_unavailable`` (not configured).

What is kept: the login's state and, once verified, the login result (account id, acr, amr, claims from the
signing certificate, auth time, the certificate's SHA-256 and revocation status and, when the request asks for
credentials, the ``credential_source`` of :func:`idp.vci.grant.credential_source`; when it asks for
``verified_claims``, the signing certificate's issuer DN and serial number and the revocation answer's reference,
:mod:`idp.login.assurance`) until the browser collects it; never the certificate itself, the signature or the PIN.
Logs carry the event, the key and the reason only.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Annotated, Any, Final

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect

from idp.login.accounts import Accounts, LinkRefused
from idp.login.assurance import signature_evidence
from idp.login.audit import RevocationFields, revocation_fields
from idp.login.authenticator import ACRS, AMR, page_headers
from idp.login.claims import claims_from_facts
from idp.login.link import LinkEvidence, record_link, verify_other
from idp.login.page import DEVICE_PATH, SCRIPT, SCRIPT_PATH, device_page
from idp.login.progress import changed_view, page_login, status_view
from idp.login.renewal import RenewalLinkUnavailable, account_for
from idp.login.store import CardLogin, CardLogins, interaction_binding, shown_name
from idp.login.token_kind import token_kind
from idp.login.verifier import CardVerifier, NotConfigured, verifier_for
from idp.oauth.authenticator import LoginResult, complete_login
from idp.oauth.interaction import INTERACTION_COOKIE, interaction_path
from idp.oauth.verified_claims import VERIFIED_CLAIMS
from idp.runtime import Services, utcnow
from idp.sign.card import challenge_documents, complete_signing
from idp.sign.requests import SigningRequest, SigningRequests
from idp.storage.audit import digest_ref, record
from idp.vci.grant import credential_source
from idp.vci.service import issuer_of
from idp.web.pages import MESSAGES, expired_page, request_language, same_origin
from keys.cardlogin import CHALLENGE_OCTETS, CODE_ALPHABET, CODE_LENGTH, LoginMessage
from keys.cardlogin import CardLogin as VerifiedLogin
from keys.errors import (
    InvalidSignature,
    Reason,
    RevocationUnavailable,
    RevokedCertificate,
    UntrustedCertificate,
    VerificationError,
)
from keys.jose.b64 import b64url_decode_loose, b64url_encode
from keys.x509.profile import Purpose
from servicekit.http import openapi as doc
from servicekit.http.bodies import BodyError, read_json

CHALLENGE_PATH: Final = "/card-login/challenge"
PRECHECK_PATH: Final = "/card-login/precheck"
RESPONSE_PATH: Final = "/card-login/response"
_MAX_BODY: Final = 32 * 1024
_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{43}")
_B64URL: Final = re.compile(r"[A-Za-z0-9_-]+")
_NO_STORE: Final = {"Cache-Control": "no-store"}
_log = logging.getLogger("idp.card_login")

AnyRequest = Request[Any, Any, Any]


class Refusal(Exception):
    """An error answer of the card-login endpoints, in words from the catalog (``card_login.refusal.<error>``)."""

    def __init__(self, status: int, error: str, **params: object) -> None:
        super().__init__(error)
        self.status = status
        message_ja, message = MESSAGES.both(f"card_login.refusal.{error}", **params)
        self.body = {"error": error, "message": message, "message_ja": message_ja}

    def response(self) -> Response[dict[str, str]]:
        """The JSON error answer."""
        return Response(self.body, status_code=self.status, headers=_NO_STORE, media_type="application/json")


def _bad_request(what: str) -> Refusal:
    return Refusal(400, "bad_request", what=what)


_UNKNOWN = Refusal(404, "unknown_login")
_LINK_REASONS: Final = frozenset({Reason.LINK_SAME_KEY, Reason.LINK_GENERATION_MISMATCH, Reason.LINK_NOT_CHECKED})
_UNAVAILABLE = Refusal(503, "card_login_unavailable")


def refusal_for(exc: VerificationError) -> Refusal:
    """What the person is told when verification fails (fail closed, in words a person understands)."""
    if isinstance(exc, RevokedCertificate):
        return Refusal(403, "certificate_revoked")
    if isinstance(exc, RevocationUnavailable):
        return Refusal(503, "revocation_unavailable")
    if isinstance(exc, UntrustedCertificate) and exc.reason is Reason.EXPIRED:
        return Refusal(403, "certificate_expired")
    if isinstance(exc, UntrustedCertificate):
        return Refusal(403, "certificate_not_accepted")
    if exc.reason in _LINK_REASONS:
        return Refusal(409, "link_refused", reason=exc.reason.value)
    if isinstance(exc, InvalidSignature) and exc.reason is Reason.LOGIN_EXPIRED:
        return Refusal(400, "login_expired")
    if isinstance(exc, InvalidSignature):
        return Refusal(400, "bad_signature")
    return _bad_request("malformed card data")


#: The finer reasons :func:`precheck_refusal` gives, which a person can act on before typing a PIN.
_PRECHECK_REASONS: Final = {
    Reason.NOT_YET_VALID: "certificate_not_yet_valid",
    Reason.UNTRUSTED_ROOT: "certificate_untrusted",
    Reason.TEST_ROOT_REFUSED: "certificate_untrusted",
    Reason.NO_VALID_PATH: "certificate_untrusted",
    Reason.WRONG_POLICY: "certificate_wrong_kind",
    Reason.WRONG_KEY_USAGE: "certificate_wrong_kind",
    Reason.WRONG_EXTENDED_KEY_USAGE: "certificate_wrong_kind",
}


def precheck_refusal(exc: VerificationError) -> Refusal:
    """:func:`refusal_for`, with a typed reason where the path check says more than "not accepted"."""
    if isinstance(exc, UntrustedCertificate) and exc.reason in _PRECHECK_REASONS:
        return Refusal(403, _PRECHECK_REASONS[exc.reason])
    return refusal_for(exc)


async def _json_body(request: AnyRequest) -> dict[str, Any]:
    try:
        return await read_json(request, max_bytes=_MAX_BODY)
    except BodyError as exc:
        raise _bad_request(exc.description) from None


def _ticket(document: dict[str, Any]) -> tuple[str, str]:
    token, code = document.get("token"), document.get("code")
    if isinstance(token, str) and code is None and _TOKEN.fullmatch(token):
        return "token", token
    if isinstance(code, str) and token is None:
        normal = re.sub(r"[\s-]", "", code).upper()
        if len(normal) == CODE_LENGTH and all(c in CODE_ALPHABET for c in normal):
            return "code", normal
    raise _bad_request("token or code")


def _b64decode(value: object, what: str) -> bytes:
    if not isinstance(value, str) or not _B64URL.fullmatch(value):
        raise _bad_request(what)
    try:
        return b64url_decode_loose(value)
    except ValueError:
        raise _bad_request(what) from None


async def _login_for(document: dict[str, Any], services: Services, now: dt.datetime) -> CardLogin:
    kind, value = _ticket(document)
    login = await CardLogins.of(services).by_ticket(kind, value, now)
    if login is None:
        raise _UNKNOWN
    if login.state == "verified":
        raise Refusal(409, "already_verified")
    return login


async def _signing(login: CardLogin, services: Services, now: dt.datetime) -> SigningRequest | None:
    """The signing request of the login's interaction: it must be approved and signed with the signing key."""
    signing = await SigningRequests(services.objects).for_interaction(login.uid, now)
    if signing is not None and (signing.state != "approved" or login.key is not Purpose.SIGN):
        raise Refusal(409, "signing_not_approved")
    return signing


@post(CHALLENGE_PATH, status_code=200, summary="Card login: a one-time challenge", tags=["Card login"])
async def challenge(request: AnyRequest, services: NamedDependency[Services]) -> Response[Any]:
    """A fresh challenge for the login the token or code names."""
    now = utcnow()
    try:
        login = await _login_for(await _json_body(request), services, now)
        signing = await _signing(login, services, now)
        ttl = dt.timedelta(seconds=services.settings.card_login.challenge_ttl)
        value, issued_at = await CardLogins.of(services).challenge(login, ttl=ttl, now=now)
    except Refusal as refusal:
        return refusal.response()
    documents = {} if signing is None else {"documents": challenge_documents(signing)}
    return Response({
        "issuer": services.settings.issuer,
        "interaction": interaction_binding(login.uid),
        "challenge": b64url_encode(value),
        "issued_at": int(issued_at.timestamp()),
        "key": login.key.value,
        "client_name": shown_name(login.payload),
        "expires_at": int(min(issued_at + ttl, login.expires_at).timestamp()),
        **documents,
        **({"link": _link_kind(login)} if login.payload.get("link") else {}),
    }, headers=_NO_STORE, media_type="application/json")


def _verifier(services: Services) -> CardVerifier:
    """The card-login verifier, or the refusal of a provider that cannot verify cards (logged)."""
    try:
        return verifier_for(services.settings)
    except NotConfigured as exc:
        _log.error("card_login_not_configured", extra={"problem": str(exc)})
        raise _UNAVAILABLE from None


async def _record_refusal(services: Services, verifier: CardVerifier, login: CardLogin, key: Purpose,
                          certificate: bytes, exc: VerificationError, now: dt.datetime, **via: str) -> None:
    """The audit entry of a refused card: the reason, the certificate's digest and the revocation answer's source
    (never the certificate); ``via="precheck"`` when it was refused before the PIN."""
    await record(services, "card_login", now, outcome="refused", reason=exc.reason.value, key=key.value,
                 certificate_ref=digest_ref(certificate), client_id=login.payload.get("client_id"),
                 **revocation_fields(services.settings, verifier, certificate, getattr(exc, "status", None), now),
                 **via)


def _precheck_key(login: CardLogin, value: object) -> Purpose:
    """The key whose certificate a precheck is about: the login's, or either key in a ``"card"`` link login."""
    if value is None:
        return login.key
    allowed = (Purpose.AUTH, Purpose.SIGN) if login.payload.get("link") and _link_kind(login) == "card" else (
        login.key,)
    key = next((k for k in allowed if k.value == value), None)
    if key is None:
        raise _bad_request("key")
    return key


@post(PRECHECK_PATH, status_code=200, summary="Card login: the certificate checked before the PIN",
      tags=["Card login"])
async def precheck(request: AnyRequest, services: NamedDependency[Services]) -> Response[Any]:
    """Tell the agent, before it asks for the PIN, whether the card's certificate (or, without one, the provider)
    can pass the response's path and revocation checks now; a refusal fails the login."""
    now = utcnow()
    logins = CardLogins.of(services)
    try:
        document = await _json_body(request)
        login = await _login_for(document, services, now)
        key = _precheck_key(login, document.get("key"))
        challenge_value = document.get("challenge")
        if len(_b64decode(challenge_value, "challenge")) != CHALLENGE_OCTETS:
            raise _bad_request("challenge")
        member = document.get("certificate")
        certificate = None if member is None else _b64decode(member, "certificate")
        await _signing(login, services, now)
        if not await logins.challenge_is_live(login, str(challenge_value), now):
            raise Refusal(400, "challenge_invalid")
        try:
            verifier = _verifier(services)
            if certificate is not None:
                await verifier.check_certificate(services.objects, certificate, key, now)
        except (Refusal, VerificationError) as exc:
            refusal = precheck_refusal(exc) if isinstance(exc, VerificationError) else exc
            _log.info("card_login_precheck_refused", extra={"key": key.value, "reason": refusal.body["error"]})
            if refusal.status != 400:  # the card or the provider cannot log in (not merely a malformed request)
                if isinstance(exc, VerificationError) and certificate is not None:
                    await _record_refusal(services, verifier, login, key, certificate, exc, now, via="precheck")
                await logins.settle(login, "failed", error=refusal.body)
            raise refusal from None
    except Refusal as refusal:
        return refusal.response()
    _log.info("card_login_precheck_passed", extra={"key": key.value, "certificate": certificate is not None})
    return Response({"status": "ok"}, headers=_NO_STORE, media_type="application/json")


@post(RESPONSE_PATH, status_code=200, summary="Card login: the card's signed answer", tags=["Card login"])
async def response(request: AnyRequest, services: NamedDependency[Services]) -> Response[Any]:
    """Verify the card's answer to a challenge and record the login for the browser."""
    now = utcnow()
    logins = CardLogins.of(services)
    try:
        document = await _json_body(request)
        login = await _login_for(document, services, now)
        challenge_value = document.get("challenge")
        nonce = _b64decode(challenge_value, "challenge")
        certificate = _b64decode(document.get("certificate"), "certificate")
        signature = _b64decode(document.get("signature"), "signature")
        if len(nonce) != CHALLENGE_OCTETS:
            raise _bad_request("challenge")
        signing = await _signing(login, services, now)
        if signing is None and "document_signatures" in document:
            raise _bad_request("document_signatures without documents")
        link = _link_evidence(login, document)
        issued_at = await logins.take_challenge(login, str(challenge_value), now)
        if issued_at is None:
            raise Refusal(400, "challenge_invalid")
        verifier = _verifier(services)
        expected = LoginMessage(services.settings.issuer, interaction_binding(login.uid), nonce, issued_at,
                                login.key)
        max_age = dt.timedelta(seconds=services.settings.card_login.challenge_ttl)
        try:
            verified = await verifier.verify_login(services.objects, certificate, signature, expected, now, max_age)
            if signing is not None:
                fields = revocation_fields(services.settings, verifier, certificate, verified.revocation, now)
                await _sign(services, signing, login, certificate, document, issued_at, fields, now)
            account_id = await _account(services, verifier, verified, certificate, link, expected, issued_at, login,
                                        now, max_age)
        except VerificationError as exc:
            refusal = refusal_for(exc)
            _log.info("card_login_refused", extra={"key": login.key.value, "reason": exc.reason.value})
            await _record_refusal(services, verifier, login, login.key, certificate, exc, now)
            await logins.settle(login, "failed", error=refusal.body)
            raise refusal from None
    except Refusal as refusal:
        return refusal.response()
    claims = claims_from_facts(verified.facts, now) if verified.facts is not None else {}
    revocation = revocation_fields(services.settings, verifier, certificate, verified.revocation, now)
    if login.payload.get("assurance") and verified.key is Purpose.SIGN:  # idp.oauth.verified_claims
        claims[VERIFIED_CLAIMS] = signature_evidence(certificate, revocation, signed_at=issued_at, verified_at=now)
    elif login.payload.get("assurance"):  # the account's identity verification by its linked signing certificate
        linked = await Accounts(services.objects).account_assurance(account_id, now)
        if linked is not None:
            claims[VERIFIED_CLAIMS] = linked
    source = None
    vci = issuer_of(services)
    if login.payload.get("credentials") and verified.facts is not None and vci is not None:
        source = credential_source(verified.facts, certificate, vci.reference_key)
    await logins.settle(login, "verified", result={
        "account_id": account_id,
        "acr": ACRS[verified.key],
        "amr": list(AMR),
        "claims": claims,
        "auth_time": int(now.timestamp()),
        "certificate_sha256": verified.certificate_sha256,
        "revocation": {"status": verified.revocation.status.value, "source": verified.revocation.source},
        "credential_source": source,
        "token": token_kind(document.get("token_type")),
        "signing_request": None if signing is None else signing.id,
        "kiosk": document.get("kiosk") is True,  # the agent runs as a kiosk's (idp.oauth.kiosk)
    })
    _log.info("card_login_verified", extra={"key": verified.key.value, "anchor": verified.anchor,
                                            "revocation": verified.revocation.source})
    await record(services, "card_login", now, outcome="success", key=verified.key.value, account=verified.account_id,
                 certificate_ref=verified.certificate_sha256, client_id=login.payload.get("client_id"),
                 **revocation)
    return Response({"status": "verified"}, headers=_NO_STORE, media_type="application/json")


def _link_kind(login: CardLogin) -> str:
    """``card`` or ``renewal`` (a login opened before the kinds had names links the card)."""
    return "renewal" if login.payload.get("link") == "renewal" else "card"


def _link_evidence(login: CardLogin, document: dict[str, Any]) -> LinkEvidence | None:
    """The other key's evidence of a link login (required there, refused elsewhere)."""
    member = document.get("link")
    if not login.payload.get("link"):
        if member is not None:
            raise _bad_request("link outside a link login")
        return None
    if not isinstance(member, dict):
        raise _bad_request("link")
    return LinkEvidence(_b64decode(member.get("certificate"), "link certificate"),
                        _b64decode(member.get("signature"), "link signature"))


async def _account(services: Services, verifier: CardVerifier, verified: VerifiedLogin, certificate: bytes,
                   link: LinkEvidence | None, expected: LoginMessage, issued_at: dt.datetime, login: CardLogin,
                   now: dt.datetime, max_age: dt.timedelta) -> str:
    """The account the login reaches (:mod:`idp.login.accounts`); a link login first verifies the other key over
    the same challenge and records the link (:mod:`idp.login.link`), or is refused with nothing recorded."""
    if link is None:
        try:
            return await account_for(services, verifier, verified, certificate, now)
        except (RenewalLinkUnavailable, LinkRefused) as exc:
            _log.info("renewal_link_unavailable", extra={"reason": exc.reason})
            refusal = Refusal(503, "renewal_link_unavailable")
            await record(services, "card_link", now, outcome="refused", reason=exc.reason, via="operator",
                         client_id=login.payload.get("client_id"))
            await CardLogins.of(services).settle(login, "failed", error=refusal.body)
            raise refusal from None
    renewal = _link_kind(login) == "renewal"
    other = await verify_other(services, verifier, link, expected, now, max_age, same_key=renewal)
    try:
        account = await record_link(services, verifier, verified, certificate, other, link.certificate, issued_at,
                                    now, renewal=renewal)
    except LinkRefused as exc:
        refusal = Refusal(409, "link_refused", reason=exc.reason)
        await record(services, "card_link", now, outcome="refused", reason=exc.reason,
                     via="consent" if renewal else "card",
                     client_id=login.payload.get("client_id"))
        await CardLogins.of(services).settle(login, "failed", error=refusal.body)
        raise refusal from None
    await record(services, "card_link", now, outcome="success", account=account,
                 via="consent" if renewal else "card",
                 client_id=login.payload.get("client_id"))
    return account


async def _sign(services: Services, signing: SigningRequest, login: CardLogin, certificate: bytes,
                document: dict[str, Any], issued_at: dt.datetime, fields: RevocationFields, now: dt.datetime) -> None:
    """Verify and record the document signatures of a signing login (:func:`idp.sign.card.complete_signing`);
    a malformed or wrong signature fails the whole login: nothing is recorded or released."""
    refs = {"request_ref": digest_ref(signing.id), "certificate_ref": digest_ref(certificate)}
    try:
        await complete_signing(services, signing, certificate, document.get("document_signatures"),
                               issued_at=issued_at, revocation=fields, now=now)
    except (VerificationError, ValueError) as exc:
        reason = exc.reason.value if isinstance(exc, VerificationError) else "malformed"
        _log.info("document_signing_refused", extra={"reason": reason})
        await record(services, "document_signing", now, outcome="refused", reason=reason, client_id=signing.client_id,
                     count=len(signing.documents), **refs, **fields)
        refusal = Refusal(400, "bad_document_signature")
        await CardLogins.of(services).settle(login, "failed", error=refusal.body)
        raise refusal from None
    await record(services, "document_signing", now, outcome="success", client_id=signing.client_id,
                 count=len(signing.documents), **refs, **fields)


async def _browser_login(uid: str, request: AnyRequest, services: Services) -> CardLogin:
    """The card login of interaction ``uid``, for the browser that started the interaction only."""
    login = await page_login(services, uid, request.cookies)
    if login is None:
        raise _UNKNOWN
    return login


@get("/interaction/{uid:str}/card/status", summary="Card login: progress", tags=["Card login"])
async def status(uid: FromPath[str], request: AnyRequest, services: NamedDependency[Services],
                 wait: FromQuery[float] = 0.0,
                 known: Annotated[str, QueryParameter(name="state")] = "pending") -> Response[Any]:
    """The login's state; with ``?wait=N&state=S`` (a long poll, where a proxy forbids the event stream of
    :mod:`idp.endpoints.card_login_events`) once it is no longer ``S`` (the state the page has, default
    ``pending``), or after ``N`` seconds (at most 30)."""
    try:
        view = status_view(await _browser_login(uid, request, services))
    except Refusal as refusal:
        return refusal.response()
    if wait > 0 and view["state"] == known:
        view = await changed_view(services, uid, known, wait) or view  # gone meanwhile: the next request says so
    return Response(view, headers=_NO_STORE, media_type="application/json")


@post("/interaction/{uid:str}/card/finish", status_code=303, summary="Card login: finish", tags=["Card login"])
async def finish(uid: FromPath[str], request: AnyRequest, services: NamedDependency[Services]) -> Response[Any]:
    """Hand the verified login to the interaction; the browser goes on to consent or to the relying party."""
    now = utcnow()
    if not same_origin(request, services.settings):
        return expired_page(request_language(request))
    try:
        login = await _browser_login(uid, request, services)
    except Refusal:
        return expired_page(request_language(request))
    result = await CardLogins.of(services).collect(login, now) if login.state == "verified" else None
    if result is None:
        return Redirect(interaction_path(uid), status_code=303, headers=_NO_STORE)
    login_result = LoginResult(
        account_id=result["account_id"],
        acr=result["acr"],
        amr=tuple(result["amr"]),
        claims=result["claims"],
        auth_time=dt.datetime.fromtimestamp(result["auth_time"], dt.UTC),
        credential_source=result.get("credential_source"),
        signing_request=result.get("signing_request"),
        kiosk=bool(result.get("kiosk")),
    )
    target = await complete_login(services, uid, login_result, now)
    return Redirect(target, status_code=303, headers=_NO_STORE)


@get(DEVICE_PATH, summary="Card login: the page for a device with a reader", tags=["Card login"])
async def device(request: AnyRequest, services: NamedDependency[Services]) -> Response[str]:
    """The cross-device page (the QR code's target), in the browser's language."""
    return Response(device_page(issuer=services.settings.issuer, agent_url=services.settings.card_login.agent_url,
                                lang=request_language(request)),
                    media_type="text/html; charset=utf-8", headers=page_headers(services))


@get(SCRIPT_PATH, summary="Card login: the pages' script", tags=["Card login"], sync_to_thread=False)
def script() -> Response[str]:
    """The login pages' script."""
    return Response(SCRIPT, media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"})


_REFUSAL_SCHEMA: Final = doc.obj(doc.strings("error", "message", "message_ja"), ("error", "message", "message_ja"))
_TICKET: Final = {"token": {"type": "string", "description": "the browser's per-interaction token"},
                  "code": {"type": "string", "description": "the short code shown for cross-device logins"}}


def _refusals(*statuses: int) -> dict[str, Any]:
    return doc.responses(*(doc.json_answer(status, "a refusal in words (see the module's contract)", _REFUSAL_SCHEMA)
                           for status in statuses))


_COOKIE: Final = doc.parameter("cookie", INTERACTION_COOKIE, "binds the interaction to the browser that started it")
_WAIT: Final = doc.parameter("query", "wait", "a long poll: answer once the login's state is no longer the "
                              "state parameter's, or after this many seconds (at most 30)", schema={"type": "number"})
_STATE: Final = doc.parameter("query", "state", "the state the page has (default pending)")
OPENAPI: Final = {
    CHALLENGE_PATH: {"post": doc.operation(body=doc.json_body(doc.obj(_TICKET)), responses=doc.responses(
        doc.json_answer(200, "a one-time challenge", doc.obj({
            **doc.strings("issuer", "interaction", "challenge", "client_name"),
            "key": {"type": "string", "enum": ["auth", "sign"]},
            "link": {"type": "string", "enum": ["card", "renewal"]},
            "issued_at": {"type": "integer"}, "expires_at": {"type": "integer"}},
            ("issuer", "interaction", "challenge", "issued_at", "key", "client_name", "expires_at"))),
        _refusals(400, 404, 409), doc.too_large()))},
    PRECHECK_PATH: {"post": doc.operation(
        body=doc.json_body(doc.obj({**_TICKET, **doc.strings("challenge", "certificate"),
                                    "key": {"type": "string", "enum": ["auth", "sign"]}}, ("challenge",))),
        responses=doc.responses(doc.json_answer(200, "the certificate (or the provider) can pass the login's checks",
                                                doc.obj({"status": {"type": "string", "enum": ["ok"]}}, ("status",))),
                                _refusals(400, 403, 404, 409, 503), doc.too_large()))},
    RESPONSE_PATH: {"post": doc.operation(
        body=doc.json_body(doc.obj({**_TICKET, **doc.strings("challenge", "certificate", "signature", "token_type"),
                                    "link": doc.obj(doc.strings("certificate", "signature"),
                                                    ("certificate", "signature"))},
                                   ("challenge", "certificate", "signature"))),
        responses=doc.responses(doc.json_answer(200, "verified", doc.obj(doc.strings("status"), ("status",))),
                                _refusals(400, 403, 404, 409, 503), doc.too_large()))},
    "/interaction/{uid}/card/status": {"get": doc.operation(parameters=[_COOKIE, _WAIT, _STATE],
                                                            responses=doc.responses(
        doc.json_answer(200, "the login's state", doc.obj({
            "state": {"type": "string", "enum": ["pending", "verified", "failed"]},
            "error": {"oneOf": [{"type": "null"}, _REFUSAL_SCHEMA]},
            "token": {"enum": [None, "card", "smartphone"]}}, ("state", "error"))),
        _refusals(404), doc.problem(400, description="a wait parameter that is not a number")))},
    "/interaction/{uid}/card/finish": {"post": doc.operation(parameters=[_COOKIE], responses=doc.responses(
        doc.see_other("to the consent page or the answer to the client; before verification, back to the login page"),
        doc.html(400, description="another origin, or the interaction is unknown or expired")))},
    DEVICE_PATH: {"get": doc.operation(responses=doc.html(200, description="the cross-device page"))},
    SCRIPT_PATH: {"get": doc.operation(responses=doc.answer((200,), "the pages' script",
                                                            {"text/javascript": {"type": "string"}}))},
}

ROUTES: Final = (challenge, precheck, response, status, finish, device, script)

__all__ = ["CHALLENGE_PATH", "PRECHECK_PATH", "RESPONSE_PATH", "ROUTES", "Refusal", "precheck_refusal",
           "refusal_for"]
