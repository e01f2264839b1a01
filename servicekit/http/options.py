"""``OPTIONS`` answers that list every method of the resource (RFC 9110 §9.3.7, §10.2.1 ``Allow``).

litestar 2.x builds its automatic ``OPTIONS`` handler when the first handler of a path is registered, so a path
whose methods come from separate handlers (``GET`` and ``POST /interaction/{uid}/consent``) is answered with the
first handler's methods only (litestar-org/litestar#4169, fixed in 3.x). Installed as ``before_request``, this
answers ``OPTIONS`` itself from the application's route map::

    Litestar(..., before_request=options_answer)
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.status_codes import HTTP_204_NO_CONTENT


async def options_answer(request: Request[Any, Any, Any]) -> Response[None] | None:
    """For ``OPTIONS``: 204 with ``Allow`` naming every method the request's path serves; else ``None`` (go on).
    A coroutine function: litestar runs a plain function given as ``before_request`` in a worker thread, a thread
    hand-off on every request of every route."""
    if request.method != "OPTIONS":
        return None
    handlers = request.app.route_handler_method_map
    methods = {method for path in request.route_handler.paths for method in handlers.get(path, {})}
    return Response(None, status_code=HTTP_204_NO_CONTENT, headers={"Allow": ", ".join(sorted(methods))})


__all__ = ["options_answer"]
