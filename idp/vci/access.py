"""The access token at the credential issuer's protected endpoints (Credential, Deferred Credential, Notification;
OpenID4VCI 1.0 §8, §9, §11): the provider's one access guard (:mod:`idp.oauth.access`: RFC 6750 / RFC 9449 §7,
the ``Authorization`` header only, since the bodies are JSON), with ``credentials.require_dpop`` refusing bearer
tokens. The token's grant must name an issuance (``credential_issuance``), else ``insufficient_scope``; then
:func:`serve` reads the JSON body and runs the endpoint's handler, with a fresh ``DPoP-Nonce`` on every answer to
a DPoP-bound token.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from litestar import Response

from credentials.oid4vci.errors import IssuanceError, IssuanceErrorCode, IssuanceReason
from idp.errors import InsufficientScope
from idp.metrics import Metrics
from idp.oauth import dpop
from idp.oauth.access import GUARD_PARAMETERS, GUARD_RESPONSES, AccessPolicy, Refused, challenge, guard
from idp.oauth.tokens import AccessToken
from idp.runtime import Services, utcnow
from idp.vci.grant import BY_IDENTIFIER_MEMBER, ISSUANCE_MEMBER
from idp.vci.preauth import ISSUER_CLIENT_ID
from idp.web.forms import AnyRequest
from idp.web.responses import NO_STORE, error_response
from servicekit.http import bodies
from servicekit.http import openapi as doc

_log = logging.getLogger("idp.vci")


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer: 200 with credentials or 202 with a transaction."""

    status: int
    body: Mapping[str, Any]


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


def _issuance(access: AccessToken) -> None:
    if not isinstance((access.grant or {}).get(ISSUANCE_MEMBER), str):
        raise InsufficientScope("the access token does not authorize credential issuance")


async def issuer_access(request: AnyRequest, services: Services, metrics: Metrics, path: str) -> IssuerAccess:
    """The request's access token for the endpoint at ``path``, or :class:`idp.oauth.access.Refused`."""
    policy = AccessPolicy(path, require_dpop=services.settings.credentials.require_dpop, check=_issuance)
    access = await guard(request, services, metrics, policy)
    grant = access.grant or {}
    return IssuerAccess(access, str(grant[ISSUANCE_MEMBER]), bool(grant.get(BY_IDENTIFIER_MEMBER)))


#: Largest JSON body of the protected endpoints.
MAX_JSON_BODY: Final = 256 * 1024
Handler = Callable[[IssuerAccess, Mapping[str, Any]], Awaitable[Answer | None]]


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


#: OpenAPI: the request headers and the error answers of every endpoint :func:`serve` runs.
PARAMETERS: Final = GUARD_PARAMETERS
ERROR_RESPONSES: Final = doc.responses(
    GUARD_RESPONSES, doc.oauth_error(400, description="an OpenID4VCI error (§8.3.1.2)", headers=doc.DPOP_NONCE),
    doc.too_large())


def credential_responses(issued: str, deferred: str) -> dict[str, Any]:
    """OpenAPI: the answers of the Credential and Deferred Credential endpoints (200 ``issued``, 202 ``deferred``)."""
    return doc.responses(
        doc.json_answer(200, issued, doc.obj({"credentials": {"type": "array", "items": doc.OBJECT},
                                              "notification_id": doc.STRING}, ("credentials",))),
        doc.json_answer(202, deferred, doc.obj({"transaction_id": doc.STRING, "interval": doc.INTEGER},
                                               ("transaction_id", "interval"))),
        ERROR_RESPONSES)


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
                              headers={"WWW-Authenticate": challenge("DPoP", services.settings, exc)})
    else:
        if answer is None:
            response = Response(b"", status_code=204, headers=dict(NO_STORE), media_type="application/json")
        else:
            response = Response(dict(answer.body), status_code=answer.status, headers=dict(NO_STORE),
                                media_type="application/json")
    if access.token.jkt is not None:
        response.headers["DPoP-Nonce"] = await dpop.current_nonce(services, utcnow())
    return response


__all__ = ["MAX_JSON_BODY", "Answer", "IssuerAccess", "issuer_access", "serve"]
