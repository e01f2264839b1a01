"""``GET /healthz`` (alive: the database answers and every enabled algorithm has a current key) and ``GET /readyz``
(ready: alive, and the deployment's login can verify someone, :mod:`idp.login.readiness`).

Orchestrators probe liveness on ``/healthz`` (a provider whose card login is misconfigured is not restarted in a
loop: restarting does not fix settings) and readiness on ``/readyz`` (such a provider gets no traffic, so a rollout
with broken card-login settings never replaces a working one). ``/readyz`` answers 200 ``{"status": "ready",
"warnings": [{"setting", "problem"}]}`` or a 503 problem whose ``problems`` name each setting at fault.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from litestar import Response, get
from litestar.di import NamedDependency
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from idp.errors import problem_response
from idp.login.authenticator import CardAuthenticator
from idp.login.readiness import Readiness, card_login_readiness
from idp.runtime import Services, utcnow
from keys.service.errors import KeyServiceError
from servicekit.http import openapi as doc

PATH: Final = "/healthz"
READY_PATH: Final = "/readyz"
_NO_STORE: Final = {"Cache-Control": "no-store"}
_log = logging.getLogger("idp.health")


async def _unhealthy(services: Services) -> Response[Any] | None:
    """A 503 problem naming the failing dependency, or ``None`` when the database and the signing keys work."""
    try:
        async with services.db.connection() as conn:
            await conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        _log.warning("health_database", extra={"error": type(exc).__name__})
        return problem_response(503, "database unavailable")
    now = utcnow()
    try:
        for alg in services.keyset.algorithms:
            await services.keyset.signer(alg, now)
    except KeyServiceError as exc:
        _log.warning("health_keys", extra={"fault": exc.fault.value})
        return problem_response(503, "signing keys unavailable")
    return None


async def login_readiness(services: Services) -> Readiness:
    """Whether the deployment's login can verify someone: the card checks for ``login.authenticator = "card"``;
    other authenticators (the test form) need no configuration."""
    if services.settings.login.authenticator != CardAuthenticator.name:
        return Readiness()
    return await card_login_readiness(services.settings, utcnow())


@get(PATH, summary="Health check (liveness)", tags=["Operations"])
async def healthz(services: NamedDependency[Services]) -> Response[Any]:
    """200 ``{"status": "ok"}``, or a 503 problem naming the failing dependency."""
    return await _unhealthy(services) or Response({"status": "ok"}, headers=_NO_STORE)


@get(READY_PATH, summary="Readiness check", tags=["Operations"])
async def readyz(services: NamedDependency[Services]) -> Response[Any]:
    """200 ``{"status": "ready", "warnings": [...]}``, or a 503 problem naming the failing dependency or, in
    ``problems``, each login setting that stops every login."""
    unhealthy = await _unhealthy(services)
    if unhealthy is not None:
        return unhealthy
    readiness = await login_readiness(services)
    warnings = [w.as_dict() for w in readiness.warnings]
    if not readiness.ready:
        detail = "login unavailable: " + "; ".join(f"{p.setting}: {p.problem}" for p in readiness.problems)
        return problem_response(503, detail, extensions={"problems": [p.as_dict() for p in readiness.problems],
                                                         "warnings": warnings})
    return Response({"status": "ready", "warnings": warnings}, headers=_NO_STORE)


_WARNING: Final = doc.obj(doc.strings("setting", "problem"), ("setting", "problem"))
OPENAPI: Final = {
    PATH: {"get": doc.operation(responses=doc.responses(
        doc.json_answer(200, "alive", doc.obj(doc.strings("status"), ("status",))),
        doc.problem(503, description="the database or a signing key is unavailable")))},
    READY_PATH: {"get": doc.operation(responses=doc.responses(
        doc.json_answer(200, "ready: logins can be verified (warnings name settings worth a look)",
                        doc.obj({"status": {"type": "string"}, "warnings": {"type": "array", "items": _WARNING}},
                                ("status", "warnings"))),
        doc.problem(503, description="not ready: the database, a signing key, or the login settings named in "
                                     "problems")))},
}

ROUTES: Final = (healthz, readyz)
