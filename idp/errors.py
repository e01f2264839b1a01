"""The provider's errors: RFC 6749/6750 OAuth errors; the shapes and the mapping are :mod:`servicekit.http.errors`.

An :class:`OAuthError` carries its error code, HTTP status, a client-facing description and a
log-only ``detail`` (node-oidc-provider's ``lib/helpers/errors.js``). Anything else that escapes a
handler becomes a bare 500 problem: stack traces go to the log, never to the client.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from litestar import Request, Response

from idp.metrics import Metrics
from servicekit.http import errors as shapes
from servicekit.http.errors import PROBLEM_JSON, ExceptionHandler, problem_response

_log = logging.getLogger("idp.errors")


class OAuthError(Exception):
    """An OAuth error response (RFC 6749 §5.2). ``detail`` is logged, never sent."""

    error: ClassVar[str] = "server_error"
    status_code: ClassVar[int] = 500

    def __init__(self, description: str, *, detail: str | None = None, www_authenticate: str | None = None) -> None:
        super().__init__(f"{self.error}: {description}")
        self.description = shapes.safe_description(description)
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


def oauth_error_response(exc: OAuthError) -> Response[dict[str, str]]:
    """The RFC 6749 §5.2 JSON body, ``Cache-Control: no-store``, and the RFC 6750 §3 challenge if any."""
    challenge = exc.www_authenticate
    if challenge is None and isinstance(exc, InvalidToken | InsufficientScope):
        challenge = shapes.challenge("Bearer", error=exc.error, error_description=exc.description)
    headers = {} if challenge is None else {"WWW-Authenticate": challenge}
    return shapes.oauth_error_response(exc.error, exc.description, exc.status_code, headers)


def exception_handlers(metrics: Metrics) -> dict[int | type[Exception], ExceptionHandler]:
    """Litestar exception handlers: OAuth errors, then :func:`servicekit.http.errors.exception_handlers`."""

    def on_oauth_error(request: Request[Any, Any, Any], exc: OAuthError) -> Response[Any]:
        metrics.oauth_errors.labels(exc.error).inc()
        _log.info("oauth_error", extra={"error": exc.error, "route": request.scope.get("path_template"),
                                        "detail": exc.detail})
        return oauth_error_response(exc)

    return shapes.exception_handlers(_log, {OAuthError: on_oauth_error})


__all__ = ["PROBLEM_JSON", "InsufficientScope", "InvalidClient", "InvalidGrant", "InvalidRequest", "InvalidScope",
           "InvalidToken", "OAuthError", "TemporarilyUnavailable", "UnauthorizedClient", "UnsupportedGrantType",
           "exception_handlers", "oauth_error_response", "problem_response"]
