"""OAuth error answers an endpoint builds itself, when it needs another status or extra headers (a DPoP nonce,
a resource server's challenge); counted and logged like every other OAuth error (:mod:`idp.errors`)::

    return error_response(exc, metrics, status=401, headers={"WWW-Authenticate": challenge})
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from litestar import Response

from idp.errors import OAuthError, oauth_error_response
from idp.metrics import Metrics
from servicekit.http.errors import NO_STORE

_log = logging.getLogger("idp.token")


def error_response(exc: OAuthError, metrics: Metrics, *, status: int | None = None,
                   headers: Mapping[str, str] | None = None) -> Response[dict[str, str]]:
    """The RFC 6749 §5.2 answer to ``exc``, with ``status`` and ``headers`` when given."""
    metrics.oauth_errors.labels(exc.error).inc()
    _log.info("oauth_error", extra={"error": exc.error, "detail": exc.detail})
    response = oauth_error_response(exc)
    if status is not None:
        response.status_code = status
    response.headers.update(headers or {})
    return response


__all__ = ["NO_STORE", "error_response"]
