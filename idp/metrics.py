"""Prometheus metrics: requests, errors by code, latency; and the ASGI wrapper that records them.

Labels hold only bounded, non-personal values: the HTTP method (unknown methods become ``OTHER``),
the route template (``unmatched`` for 404s, never the raw path), the status code and OAuth error codes.
With several workers (``idp serve --workers N``) each process writes its samples to
``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` aggregates all of them, so any worker answers for all.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Final

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_log = logging.getLogger("idp.request")


class Metrics:
    """The provider's metrics, in a registry of their own (one per application)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("idp_http_requests", "HTTP requests by method, route template and status.",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("idp_http_request_duration_seconds", "HTTP request latency by route template.",
                                 ["method", "route"], buckets=_BUCKETS, registry=self.registry)
        self.oauth_errors = Counter("idp_oauth_errors", "OAuth error responses by error code (RFC 6749 §5.2).",
                                    ["error"], registry=self.registry)
        self.tokens_issued = Counter("idp_tokens_issued", "Successful token responses by grant type.",
                                     ["grant_type"], registry=self.registry)
        self.token_reuse = Counter("idp_token_reuse", "Replays of a used authorization code or rotated refresh "
                                   "token, each of which revoked its grant (RFC 9700 §4.14.2).",
                                   ["kind"], registry=self.registry)
        self.refresh_replays = Counter("idp_refresh_replays", "Replays of a rotated refresh token by outcome: "
                                       "answered (the one identical retry within the grace) or revoked (the grant "
                                       "with all its tokens; RFC 9700 §4.14.2).", ["outcome"], registry=self.registry)

    def exposition(self) -> bytes:
        """The text exposition format; across all workers when ``PROMETHEUS_MULTIPROC_DIR`` is set."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


class RequestObserver:
    """Wraps the whole ASGI application (404s included): counts, times and logs each HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics, *, log_requests: bool) -> None:
        self._app = app
        self._metrics = metrics
        self._log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, observe)
        finally:
            elapsed = time.perf_counter() - started
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            route = scope.get("path_template") or "unmatched"
            self._metrics.requests.labels(method, route, str(status)).inc()
            self._metrics.latency.labels(method, route).observe(elapsed)
            if self._log_requests:
                _log.info("request", extra={"method": method, "route": route, "status": status,
                                            "duration_ms": round(elapsed * 1000, 3)})
