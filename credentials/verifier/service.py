"""The verifier service's logic, independent of HTTP: the reference design of OpenID4VP 1.0 §13.3.

1. **The relying party creates a request** (:meth:`VerifierService.create_request`): a DCQL query, the Response
   Mode, by value or by reference, and — for a same-device flow — the registered URL to come back to. The
   service makes the ``nonce``, the ``state`` (= ``request_id``), the per-request response key, the
   ``transaction_id`` (the relying party's secret handle) and the Wallet invocation URL.
2. **The Wallet fetches the Request Object** (:meth:`VerifierService.request_object`, GET or POST with
   ``wallet_nonce``) as often as it likes while the request is open (the OIDF verifier plan's
   "request_uri fetched twice" module).
3. **The Wallet posts the response** (:meth:`VerifierService.respond`): the transaction is claimed once (a second
   response is ``already_responded``: the nonce is single use), the response is decrypted and every presentation
   verified (:func:`credentials.oid4vp.verify_vp_token`) off the event loop. Same-device: the answer carries
   ``redirect_uri`` = the registered URL with a fresh ``response_code`` (§8.2, HAIP 1.0 §5). A refused
   presentation is answered 400 with its reason and recorded for the relying party.
4. **The relying party fetches the result** (:meth:`VerifierService.result`) with its ``transaction_id`` and, for
   a verified same-device result, the ``response_code`` (session fixation, §14.2); the result is deleted as it
   is handed out. Rejections carry no personal data and need no ``response_code``.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import anyio.to_thread

from credentials.dcql import SD_JWT_VC_FORMAT, DcqlQuery
from credentials.errors import CredentialError
from credentials.oid4vp.client_id import VerifierIdentity
from credentials.oid4vp.encryption import ResponseKey
from credentials.oid4vp.errors import PresentationError, VerifierReason
from credentials.oid4vp.presentation import verify_vp_token
from credentials.oid4vp.request import AuthorizationRequest, ResponseMode, client_metadata, random_value, wallet_url
from credentials.oid4vp.response import check_state, parse_response
from credentials.status.check import StatusChecker
from credentials.verifier.settings import Settings
from credentials.verifier.store import Transaction, TransactionStore, secret_hash
from credentials.verify import VerifierPolicy

_log = logging.getLogger("credentials.verifier")


def utcnow() -> dt.datetime:
    """The current time (UTC, whole seconds)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer of the service: HTTP status and JSON body."""

    status: int
    body: Mapping[str, Any]


@dataclass
class VerifierService:
    """One worker's view of the service: settings, the shared store, this Verifier's identity and policy, and
    the worker's status-list cache."""

    settings: Settings
    store: TransactionStore
    identity: VerifierIdentity
    policy: VerifierPolicy
    status: StatusChecker
    clock: Callable[[], dt.datetime] = utcnow

    def _url(self, *segments: str) -> str:
        return "/".join([self.settings.base_url.rstrip("/"), *segments])

    async def create_request(self, body: Mapping[str, Any]) -> Reply:
        """Step 1 (module docstring). ``body``: ``dcql_query`` (required), ``response_mode``, ``request_method``
        (``request_uri`` or ``value``), ``redirect_uri`` (same-device only)."""
        query = body.get("dcql_query")
        try:
            parsed = DcqlQuery.parse(query)
        except CredentialError as exc:
            raise PresentationError.of(exc) from None
        if any(q.format != SD_JWT_VC_FORMAT for q in parsed.credentials):
            raise _invalid(f"only {SD_JWT_VC_FORMAT} credentials can be requested")
        mode = _choice(body, "response_mode", self.settings.presentation.response_mode, ResponseMode)
        default_method = "request_uri" if self.identity.signed else "value"
        method = _choice(body, "request_method", default_method, ("request_uri", "value"))
        if method == "request_uri" and not self.identity.signed:
            raise _invalid("the redirect_uri Client Identifier Prefix sends unsigned requests by value only")
        return_uri = body.get("redirect_uri")
        if return_uri is not None and return_uri not in self.settings.rp.redirect_uris:
            raise _invalid("redirect_uri is not registered (rp.redirect_uris)")
        now = self.clock()
        request_id, transaction_id = random_value(), random_value()
        key = ResponseKey.generate() if mode is ResponseMode.DIRECT_POST_JWT else None
        request = self._request(request_id, random_value(), mode, query, key)  # type: ignore[arg-type]
        expires_at = int(now.timestamp() + self.settings.presentation.request_ttl)
        await self.store.insert(
            request_id=request_id, transaction_id=transaction_id, nonce=request.nonce, client_id=request.client_id,
            response_mode=mode, dcql_query=request.dcql_query, return_uri=return_uri,
            response_kid=key.kid if key else None, response_key=key.private_bytes() if key else None,
            now=int(now.timestamp()), expires_at=expires_at,
        )
        if method == "request_uri":
            parameters = request.by_reference(self._url("wallet", "requests", request_id))
        elif self.identity.signed:
            parameters = request.signed_by_value(request.request_object(
                self.identity, iat=now, lifetime=dt.timedelta(seconds=self.settings.presentation.request_ttl)))
        else:
            parameters = request.by_value()
        _log.info("request created", extra={"response_mode": mode.value, "request_method": method,
                                            "same_device": return_uri is not None})
        return Reply(201, {
            "transaction_id": transaction_id, "request_id": request_id, "client_id": request.client_id,
            "response_mode": mode.value, "expires_at": expires_at, "same_device": return_uri is not None,
            "authorization_request": parameters,
            "wallet_url": wallet_url(self.settings.client.wallet_url, parameters),
        })

    def _request(self, request_id: str, nonce: str, mode: ResponseMode, query: Mapping[str, Any],
                 key: ResponseKey | None) -> AuthorizationRequest:
        response_uri = self._url("wallet", "responses", request_id)
        return AuthorizationRequest(
            client_id=self.identity.client_id(response_uri), response_uri=response_uri, response_mode=mode,
            nonce=nonce, state=request_id, dcql_query=query,
            client_metadata=client_metadata(key, algorithms=self.policy.kb_algorithms),
        )

    def _rebuild(self, transaction: Transaction) -> tuple[AuthorizationRequest, ResponseKey | None]:
        key = None
        if transaction.response_key is not None and transaction.response_kid is not None:
            key = ResponseKey.from_private_bytes(transaction.response_kid, transaction.response_key)
        request = self._request(transaction.request_id, transaction.nonce, transaction.response_mode,
                                transaction.dcql_query, key)
        return request, key

    async def request_object(self, request_id: str, *, wallet_nonce: str | None = None) -> str:
        """Step 2: the signed Request Object of an open request (``unknown_transaction`` otherwise)."""
        now = self.clock()
        transaction = await self.store.pending(request_id, int(now.timestamp()))
        if transaction is None or not self.identity.signed:
            raise PresentationError(VerifierReason.UNKNOWN_TRANSACTION, "no open request with this id")
        request, _ = self._rebuild(transaction)
        lifetime = dt.timedelta(seconds=transaction.expires_at - int(now.timestamp()))
        return request.request_object(self.identity, iat=now, lifetime=lifetime, wallet_nonce=wallet_nonce)

    async def respond(self, request_id: str, form: Mapping[str, str]) -> Reply:
        """Step 3: the Wallet's Authorization Response (or error response) at the ``response_uri``."""
        now = self.clock()
        claimed = await self.store.claim(request_id, int(now.timestamp()))
        if isinstance(claimed, str):
            _log.info("response refused", extra={"reason": claimed})
            raise PresentationError(VerifierReason(claimed), "this request cannot be answered (any more)")
        keep = int(self.settings.presentation.result_ttl)
        try:
            result = await anyio.to_thread.run_sync(self._verify, claimed, form, now)
        except PresentationError as exc:
            wallet_error = exc.reason is VerifierReason.WALLET_ERROR
            code = random_value() if claimed.return_uri is not None and wallet_error else None
            await self.store.finish(request_id, now=int(now.timestamp()), keep_for=keep, reason=exc.reason.value,
                                    detail=exc.detail, response_code=code)
            _log.info("presentation rejected", extra={"reason": exc.reason.value})
            if wallet_error:  # §8.2: an error response was processed (200); same-device: back to the RP
                return Reply(200, {"redirect_uri": _with_code(claimed.return_uri, code)} if code is not None else {})
            raise
        except Exception:
            await self.store.finish(request_id, now=int(now.timestamp()), keep_for=keep,
                                    reason=VerifierReason.INTERNAL_ERROR.value, detail="the response could not be "
                                    "processed")
            raise
        code = random_value() if claimed.return_uri is not None else None
        await self.store.finish(request_id, now=int(now.timestamp()), keep_for=keep, result=result,
                                response_code=code)
        _log.info("presentation verified", extra={"credentials": sum(len(v) for v in result["credentials"].values())})
        return Reply(200, {"redirect_uri": _with_code(claimed.return_uri, code)} if code is not None else {})

    def _verify(self, transaction: Transaction, form: Mapping[str, str], now: dt.datetime) -> dict[str, Any]:
        request, key = self._rebuild(transaction)
        response = parse_response(form, mode=transaction.response_mode, key=key)
        check_state(response.state, transaction.request_id)
        verified = verify_vp_token(response.vp_token, query=DcqlQuery.parse(transaction.dcql_query),
                                   policy=self.policy, client_id=request.client_id, nonce=transaction.nonce, at=now,
                                   status=self.status)
        return {"credentials": {query_id: [p.as_dict() for p in presented] for query_id, presented in verified.items()}}

    async def result(self, transaction_id: str, response_code: str | None) -> Reply:
        """Step 4: the outcome for the relying party (``pending`` while the Wallet has not answered)."""
        now = int(self.clock().timestamp())
        outcome = await self.store.outcome(transaction_id, now)
        if outcome is None:
            raise PresentationError(VerifierReason.UNKNOWN_TRANSACTION, "no transaction with this id")
        if outcome.status in ("pending", "processing"):
            return Reply(202, {"status": "pending"})
        if outcome.status == "verified" and outcome.same_device:
            expected = outcome.response_code_hash or ""
            if response_code is None or not hmac.compare_digest(secret_hash(response_code), expected):
                raise PresentationError(VerifierReason.RESPONSE_CODE_MISMATCH,
                                        "a same-device result needs the response_code of its redirect")
        taken = await self.store.take_result(transaction_id, now)
        if taken is None:
            raise PresentationError(VerifierReason.UNKNOWN_TRANSACTION, "no transaction with this id")
        if outcome.status == "expired":
            raise PresentationError(VerifierReason.TRANSACTION_EXPIRED, "the request expired unanswered")
        if taken.status == "verified" and taken.result is not None:
            return Reply(200, {"status": "verified", **taken.result})
        return Reply(200, {"status": "rejected", "reason": taken.reason, "detail": taken.detail})


def _invalid(detail: str) -> PresentationError:
    return PresentationError(VerifierReason.INVALID_REQUEST, detail)


def _choice(body: Mapping[str, Any], name: str, default: str, allowed: Any) -> Any:
    value = body.get(name, default)
    values = [a.value if hasattr(a, "value") else a for a in allowed]
    if value not in values:
        raise _invalid(f"{name} is one of {', '.join(values)}")
    return allowed(value) if isinstance(allowed, type) else value


def _with_code(uri: str | None, code: str) -> str:
    """The same-device return URL with ``response_code`` added to its query (§13.3 step 6)."""
    parts = urlsplit(uri or "")
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=query + urlencode({"response_code": code})))
