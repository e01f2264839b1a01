"""Errors as clients see them: RFC 6749/6750 for OAuth endpoints, RFC 9457 problem details elsewhere.

An :class:`OAuthError` carries its error code, HTTP status, a client-facing description and a
log-only ``detail`` (node-oidc-provider's ``lib/helpers/errors.js``). Anything else that escapes a
handler becomes a bare 500 problem: stack traces go to the log, never to the client.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, ClassVar

from litestar import Request, Response
from litestar.exceptions import HTTPException

from idp.metrics import Metrics

_log = logging.getLogger("idp.errors")
#: RFC 6749 §5.2 / RFC 6750 §3: error_description is limited to %x20-21 / %x23-5B / %x5D-7E.
_UNSAFE_DESCRIPTION = re.compile(r'[^\x20-\x21\x23-\x5b\x5d-\x7e]')
PROBLEM_JSON = "application/problem+json"


class OAuthError(Exception):
    """An OAuth error response (RFC 6749 §5.2). ``detail`` is logged, never sent."""

    error: ClassVar[str] = "server_error"
    status_code: ClassVar[int] = 500

    def __init__(self, description: str, *, detail: str | None = None, www_authenticate: str | None = None) -> None:
        super().__init__(f"{self.error}: {description}")
        self.description = _UNSAFE_DESCRIPTION.sub("?", description)
        self.detail = detail
        self.www_authenticate = www_authenticate


class InvalidRequest(OAuthError):
    """RFC 6749 §5.2 ``invalid_request``: a missing, repeated, malformed or oversize parameter."""

    error = "invalid_request"
    status_code = 400


class InvalidClient(OAuthError):
    """RFC 6749 §5.2 ``invalid_client``: client authentication failed (401 with a challenge when the
    client used the Authorization header)."""

    error = "invalid_client"
    status_code = 401


class InvalidGrant(OAuthError):
    """RFC 6749 §5.2 ``invalid_grant``: the code or refresh token is invalid, expired, revoked or reused."""

    error = "invalid_grant"
    status_code = 400


class UnauthorizedClient(OAuthError):
    """RFC 6749 §5.2 ``unauthorized_client``: the client may not use this grant type."""

    error = "unauthorized_client"
    status_code = 400


class UnsupportedGrantType(OAuthError):
    """RFC 6749 §5.2 ``unsupported_grant_type``."""

    error = "unsupported_grant_type"
    status_code = 400


class InvalidScope(OAuthError):
    """RFC 6749 §5.2 ``invalid_scope``."""

    error = "invalid_scope"
    status_code = 400


class TemporarilyUnavailable(OAuthError):
    """RFC 6749 §4.1.2.1 ``temporarily_unavailable``."""

    error = "temporarily_unavailable"
    status_code = 503


class InvalidToken(OAuthError):
    """RFC 6750 §3.1 ``invalid_token``: answered with a Bearer challenge."""

    error = "invalid_token"
    status_code = 401


class InsufficientScope(OAuthError):
    """RFC 6750 §3.1 ``insufficient_scope``: answered with a Bearer challenge."""

    error = "insufficient_scope"
    status_code = 403


def _bearer_challenge(exc: OAuthError) -> str:
    return f'Bearer error="{exc.error}", error_description="{exc.description}"'


def oauth_error_response(exc: OAuthError) -> Response[dict[str, str]]:
    """The RFC 6749 §5.2 JSON body, ``Cache-Control: no-store``, and the RFC 6750 §3 challenge if any."""
    headers = {"Cache-Control": "no-store"}
    challenge = exc.www_authenticate
    if challenge is None and isinstance(exc, InvalidToken | InsufficientScope):
        challenge = _bearer_challenge(exc)
    if challenge is not None:
        headers["WWW-Authenticate"] = challenge
    return Response({"error": exc.error, "error_description": exc.description}, status_code=exc.status_code,
                    headers=headers, media_type="application/json")


def problem_response(status: int, detail: str | None = None,
                     headers: Mapping[str, str] | None = None) -> Response[dict[str, Any]]:
    """An RFC 9457 problem details response (``type`` about:blank, §4.2.1)."""
    body: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status}
    if detail:
        body["detail"] = detail
    return Response(body, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})},
                    media_type=PROBLEM_JSON)


ExceptionHandler = Callable[[Request[Any, Any, Any], Any], Response[Any]]


def exception_handlers(metrics: Metrics) -> dict[int | type[Exception], ExceptionHandler]:
    """Litestar exception handlers: OAuth errors, HTTP errors as problems, everything else as a bare 500."""

    def on_oauth_error(request: Request[Any, Any, Any], exc: OAuthError) -> Response[Any]:
        metrics.oauth_errors.labels(exc.error).inc()
        _log.info("oauth_error", extra={"error": exc.error, "route": request.scope.get("path_template"),
                                        "detail": exc.detail})
        return oauth_error_response(exc)

    def on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
        status = exc.status_code
        detail = exc.detail if status < 500 and exc.detail != HTTPStatus(status).phrase else None
        return problem_response(status, detail, exc.headers)

    def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        _log.error("unhandled_exception", exc_info=exc, extra={"route": request.scope.get("path_template")})
        return problem_response(500)

    return {OAuthError: on_oauth_error, HTTPException: on_http_error, Exception: on_unexpected}
