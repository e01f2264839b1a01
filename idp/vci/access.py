"""The access token at the credential issuer's protected endpoints (Credential, Deferred Credential, Notification;
OpenID4VCI 1.0 §8, §9, §11): RFC 6750 / RFC 9449 §7, the ``Authorization`` header only (the bodies are JSON).

A DPoP-bound token needs the ``DPoP`` scheme and a proof of its key for this endpoint's URL with ``ath``; an
unbound one the ``Bearer`` scheme, and only when ``credentials.require_dpop`` is off. The token's grant must name
an issuance (``credential_issuance``), else ``insufficient_scope``. Failures are RFC 6750 §3 errors with a
challenge of the scheme used; a stale DPoP nonce is ``use_dpop_nonce`` with a fresh ``DPoP-Nonce``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from litestar import Request, Response

from credentials.oid4vci.errors import IssuanceError, IssuanceErrorCode, IssuanceReason
from idp.endpoints.token import NO_STORE, dpop_proof, error_response
from idp.errors import InsufficientScope, InvalidRequest, InvalidToken, OAuthError
from idp.metrics import Metrics
from idp.oauth import dpop
from idp.oauth.tokens import AccessToken, verify_access_token
from idp.runtime import Services, utcnow
from idp.vci.grant import BY_IDENTIFIER_MEMBER, ISSUANCE_MEMBER
from idp.vci.preauth import ISSUER_CLIENT_ID
from servicekit.http import bodies
from servicekit.http.errors import challenge

if TYPE_CHECKING:
    from idp.vci.issue import Answer

_TOKEN: Final = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_log = logging.getLogger("idp.vci")

AnyRequest = Request[Any, Any, Any]


@dataclass(frozen=True, slots=True)
class IssuerAccess:
    """A verified access token for the issuer: its issuance, and whether identifiers were handed out."""

    token: AccessToken
    issuance_id: str
    by_identifier: bool

    @property
    def client_id(self) -> str | None:
        """The client a proof's ``iss`` must name (``None`` for anonymous pre-authorized access, §F.1)."""
        return None if self.token.client_id == ISSUER_CLIENT_ID else self.token.client_id


class Refused(Exception):
    """An error answer already built (status, challenge, DPoP nonce)."""

    def __init__(self, response: Response[Any]) -> None:
        super().__init__("refused")
        self.response = response


def _challenge(scheme: str, services: Services, exc: OAuthError) -> str:
    return challenge(scheme, realm=services.settings.issuer, algs=dpop.DPOP_ALGORITHMS if scheme == "DPoP" else (),
                     error=exc.error, error_description=exc.description)


async def issuer_access(request: AnyRequest, services: Services, metrics: Metrics, path: str) -> IssuerAccess:
    """The request's access token for the endpoint at ``path``, or :class:`Refused`."""
    scheme = "DPoP"
    try:
        headers = request.headers.getall("authorization", [])
        if len(headers) != 1:
            raise InvalidToken("one Authorization header with the access token is required")
        given, _, token = headers[0].partition(" ")
        scheme = {"bearer": "Bearer", "dpop": "DPoP"}.get(given.lower(), "DPoP")
        if not _TOKEN.fullmatch(token.strip()):
            raise InvalidToken("the Authorization header does not hold a token")
        token = token.strip()
        access = await verify_access_token(services, token, utcnow())
        if access.jkt is not None:
            if scheme != "DPoP":
                raise InvalidToken("a DPoP-bound access token needs the DPoP scheme (RFC 9449 §7.2)")
            proof = await dpop_proof(request, services, path=path, access_token=token)
            if proof is None or proof.jkt != access.jkt:
                raise InvalidToken("the DPoP proof is missing or made with another key (RFC 9449 §7.1)")
        elif scheme == "DPoP" or services.settings.credentials.require_dpop:
            raise InvalidToken("this issuer needs a DPoP-bound access token (HAIP 1.0)")
        grant = access.grant or {}
        issuance = grant.get(ISSUANCE_MEMBER)
        if not isinstance(issuance, str):
            raise InsufficientScope("the access token does not authorize credential issuance")
        return IssuerAccess(access, issuance, bool(grant.get(BY_IDENTIFIER_MEMBER)))
    except dpop.UseDpopNonce as exc:
        raise Refused(error_response(exc, metrics, status=401, headers={
            "WWW-Authenticate": _challenge("DPoP", services, exc), "DPoP-Nonce": exc.nonce})) from None
    except (InvalidRequest, InvalidToken, InsufficientScope, dpop.InvalidDpopProof) as exc:
        status = 403 if isinstance(exc, InsufficientScope) else 401
        raise Refused(error_response(exc, metrics, status=status,
                                     headers={"WWW-Authenticate": _challenge(scheme, services, exc)})) from None




#: Largest JSON body of the protected endpoints.
MAX_JSON_BODY: Final = 256 * 1024
Handler = Callable[[IssuerAccess, Mapping[str, Any]], Awaitable["Answer | None"]]


async def _document(request: AnyRequest, error: IssuanceErrorCode) -> Mapping[str, Any]:
    """The body's JSON object (``application/json``), or ``error``; an encrypted request (``application/jwt``,
    §8.2) is refused as unsupported."""
    if bodies.media_type(request) == "application/jwt":
        raise IssuanceError(IssuanceErrorCode.INVALID_ENCRYPTION_PARAMETERS, IssuanceReason.ENCRYPTION_UNSUPPORTED,
                            "encrypted requests are not supported by this issuer")
    try:
        return await bodies.read_json(request, max_bytes=MAX_JSON_BODY)
    except bodies.BodyError as exc:
        raise IssuanceError(error, IssuanceReason.MALFORMED_REQUEST, exc.description) from None


async def serve(request: AnyRequest, services: Services, metrics: Metrics, *, path: str,
                error: IssuanceErrorCode, handler: Handler) -> Response[Any]:
    """Run ``handler`` for a protected JSON endpoint: the access token first, then the body; OID4VCI errors as
    400 JSON (§8.3.1.2), authorization errors as RFC 6750 challenges; a fresh ``DPoP-Nonce`` on every answer."""
    try:
        access = await issuer_access(request, services, metrics, path)
    except Refused as refused:
        return refused.response
    try:
        document = await _document(request, error)
        answer = await handler(access, document)
    except IssuanceError as exc:
        metrics.oauth_errors.labels(exc.error.value).inc()
        _log.info("issuance_error", extra={"error": exc.error.value, "reason": exc.reason.value})
        response: Response[Any] = Response(exc.to_json(), status_code=400, headers=dict(NO_STORE),
                                           media_type="application/json")
    except InsufficientScope as exc:
        return error_response(exc, metrics, status=403,
                              headers={"WWW-Authenticate": _challenge("DPoP", services, exc)})
    else:
        if answer is None:
            response = Response(b"", status_code=204, headers=dict(NO_STORE), media_type="application/json")
        else:
            response = Response(dict(answer.body), status_code=answer.status, headers=dict(NO_STORE),
                                media_type="application/json")
    if access.token.jkt is not None:
        response.headers["DPoP-Nonce"] = await dpop.current_nonce(services, utcnow())
    return response


__all__ = ["MAX_JSON_BODY", "IssuerAccess", "Refused", "issuer_access", "serve"]
