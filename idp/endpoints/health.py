"""``GET /healthz``: ready when the database answers and every enabled algorithm has a current key."""

from __future__ import annotations

import logging
from typing import Any, Final

from litestar import Response, get
from litestar.di import NamedDependency
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from idp.errors import problem_response
from idp.runtime import Services, utcnow
from keys.service.errors import KeyServiceError
from servicekit.http import openapi as doc

PATH: Final = "/healthz"
_log = logging.getLogger("idp.health")


@get(PATH, summary="Health check", tags=["Operations"])
async def healthz(services: NamedDependency[Services]) -> Response[Any]:
    """200 ``{"status": "ok"}``, or a 503 problem naming the failing dependency."""
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
    return Response({"status": "ok"}, headers={"Cache-Control": "no-store"})


OPENAPI: Final = {PATH: {"get": doc.operation(responses=doc.responses(
    doc.json_answer(200, "ready", doc.obj(doc.strings("status"), ("status",))),
    doc.problem(503, description="the database or a signing key is unavailable")))}}

ROUTES: Final = (healthz,)
