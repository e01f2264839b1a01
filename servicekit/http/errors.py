"""Error answers as clients see them, and the one exception-to-response mapping both services install.

Shapes: the OAuth 2.0 error object (RFC 6749 §5.2) for OAuth and Wallet endpoints, ``WWW-Authenticate``
challenges for the ``Bearer`` (RFC 6750 §3) and ``DPoP`` (RFC 9449 §7.1) schemes, and RFC 9457 problem details
(``application/problem+json``) everywhere else. Every error answer is ``Cache-Control: no-store``::

    oauth_error_response("invalid_request", "parameter scope is repeated", 400)
    challenge("DPoP", realm="https://op.example", algs=("ES256",), error="invalid_token")
    problem_response(503, "database unavailable")
    Litestar(..., exception_handlers=exception_handlers(logging.getLogger("svc.errors"),
                                                        {MyError: on_my_error}))

Each service keeps its own error classes and codes and passes their handlers in; :func:`exception_handlers`
adds the shared ones: a refused body (:class:`~servicekit.http.bodies.BodyError`) is a 400 problem, an
``HTTPException`` a problem of its status, an unreachable database
(:class:`~servicekit.database.DatabaseUnavailable`) a 503 problem with ``Retry-After`` (RFC 9110 §15.6.4), anything
else a bare 500 with a log line naming the exception type — never its message or a trace to the client.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final

from litestar import Request, Response
from litestar.exceptions import HTTPException

from servicekit.database import RETRY_AFTER_SECONDS, DatabaseUnavailable
from servicekit.http.bodies import BodyError

PROBLEM_JSON: Final = "application/problem+json"
NO_STORE: Final = {"Cache-Control": "no-store"}
#: RFC 6749 §5.2 / RFC 6750 §3: error_description is limited to %x20-21 / %x23-5B / %x5D-7E.
_UNSAFE_DESCRIPTION: Final = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")

ExceptionHandler = Callable[[Request[Any, Any, Any], Any], Response[Any]]


def safe_description(text: str) -> str:
    """``text`` with every character RFC 6749 §5.2 forbids in ``error_description`` replaced by ``?`` (which also
    keeps it safe inside a quoted challenge parameter)."""
    return _UNSAFE_DESCRIPTION.sub("?", text)


def oauth_error_response(error: str, description: str, status: int,
                         headers: Mapping[str, str] | None = None) -> Response[dict[str, str]]:
    """The RFC 6749 §5.2 error object ``{"error", "error_description"}`` as JSON, not cached (§5.1)."""
    return Response({"error": error, "error_description": description}, status_code=status,
                    headers={**NO_STORE, **(headers or {})}, media_type="application/json")


def challenge(scheme: str, *, realm: str | None = None, algs: Sequence[str] = (), error: str | None = None,
              error_description: str | None = None) -> str:
    """A ``WWW-Authenticate`` challenge: ``Bearer`` (RFC 6750 §3) or ``DPoP`` (RFC 9449 §7.1, with ``algs``).
    Values are quoted as given: callers pass codes and :func:`safe_description` text only."""
    params = [f'{name}="{value}"' for name, value in (("realm", realm), ("algs", " ".join(algs)), ("error", error),
                                                      ("error_description", error_description)) if value]
    return f"{scheme} {', '.join(params)}" if params else scheme


def problem_response(status: int, detail: str | None = None, headers: Mapping[str, str] | None = None, *,
                     extensions: Mapping[str, Any] | None = None) -> Response[dict[str, Any]]:
    """An RFC 9457 problem details response: ``type`` about:blank with its status's phrase as ``title``
    (§4.2.1), ``detail`` when given, and extension members (§3.2) after them."""
    body: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extensions or {})
    return Response(body, status_code=status, headers={**NO_STORE, **(headers or {})}, media_type=PROBLEM_JSON)


def exception_handlers(log: logging.Logger, handlers: Mapping[int | type[Exception], ExceptionHandler] | None = None
                       ) -> dict[int | type[Exception], ExceptionHandler]:
    """Litestar exception handlers: the service's own ``handlers`` (litestar picks the closest class), a refused
    body as a 400 problem, ``HTTPException`` as a problem of its status (a 4xx detail kept unless it is the phrase;
    headers such as ``Allow`` kept), and anything else as a bare 500 problem, logged on ``log`` as
    ``unhandled_exception`` with the exception type."""

    def on_body_error(request: Request[Any, Any, Any], exc: BodyError) -> Response[Any]:
        return problem_response(400, exc.description)

    def on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
        status = exc.status_code
        detail = exc.detail if status < 500 and exc.detail != HTTPStatus(status).phrase else None
        return problem_response(status, detail, exc.headers)

    def on_database_unavailable(request: Request[Any, Any, Any], exc: DatabaseUnavailable) -> Response[Any]:
        log.warning("database_unavailable", extra={"route": request.scope.get("path_template"),
                                                   "exception_type": str(exc)})
        return problem_response(503, "the database is unavailable; retry later",
                                {"Retry-After": str(RETRY_AFTER_SECONDS)})

    def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        log.error("unhandled_exception", exc_info=exc, extra={"route": request.scope.get("path_template"),
                                                              "exception_type": type(exc).__name__})
        return problem_response(500)

    return {BodyError: on_body_error, HTTPException: on_http_error, DatabaseUnavailable: on_database_unavailable,
            Exception: on_unexpected, **(handlers or {})}


__all__ = ["NO_STORE", "PROBLEM_JSON", "ExceptionHandler", "challenge", "exception_handlers", "oauth_error_response",
           "problem_response", "safe_description"]
