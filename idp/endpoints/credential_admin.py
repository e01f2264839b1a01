"""``POST /admin/credentials/status``: the admin API for credential statuses (off unless
``credentials.admin_token`` is set; ``Authorization: Bearer <admin token>``, compared in constant time).

Body ``{"status": "invalid"|"suspended"|"valid", …}`` with one selection: ``"credential_id"``, ``"status_list"``
(the ``uri`` of a status reference, or the list number) with ``"idx"``, or ``"dataset"``. INVALID is final;
``valid`` reinstates a SUSPENDED credential only. Answer ``{"changed": n}``; errors RFC 9457 problem details.
"""

from __future__ import annotations

import hmac
from typing import Any, Final

from litestar import Response, post
from litestar.di import NamedDependency

from idp.errors import problem_response
from idp.runtime import Services
from idp.vci.status import STATUS_PATH, STATUSES, change_status
from idp.web.forms import AnyRequest
from servicekit.http.bodies import BodyError, parse_json

PATH: Final = "/admin/credentials/status"
_MAX_BODY: Final = 4096


def _list_id(value: object, issuer: str) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    prefix = issuer + STATUS_PATH + "/"
    if isinstance(value, str) and value.startswith(prefix) and value[len(prefix):].isdigit():
        return int(value[len(prefix):])
    return None


@post(PATH, status_code=200, request_max_body_size=_MAX_BODY, summary="Change credential statuses", tags=["Admin"],
      include_in_schema=False)
async def credential_status(request: AnyRequest, services: NamedDependency[Services]) -> Response[Any]:
    """Revoke, suspend or reinstate credentials."""
    token = services.settings.credentials.admin_token
    given = request.headers.get("authorization", "")
    if not token or not given.startswith("Bearer ") or not hmac.compare_digest(given[7:].encode(),
                                                                             token.reveal().encode()):
        return problem_response(401 if token else 404, headers={"WWW-Authenticate": 'Bearer realm="admin"'})
    try:
        body = parse_json(await request.body(), max_bytes=_MAX_BODY)
    except BodyError as exc:
        return problem_response(400, exc.description)
    if body.get("status") not in STATUSES:
        return problem_response(400, "status is valid, invalid or suspended")
    selection: dict[str, Any] = {}
    if isinstance(body.get("credential_id"), int):
        selection["credential_id"] = body["credential_id"]
    elif "status_list" in body and isinstance(body.get("idx"), int):
        list_id = _list_id(body["status_list"], services.settings.issuer)
        if list_id is None:
            return problem_response(400, "status_list is not one of this issuer's lists")
        selection.update(status_list_id=list_id, status_idx=body["idx"])
    elif isinstance(body.get("dataset"), str):
        selection["dataset"] = body["dataset"]
    else:
        return problem_response(400, "select by credential_id, by status_list and idx, or by dataset")
    changed = await change_status(services, body["status"], actor="admin_api", **selection)
    return Response({"changed": changed}, media_type="application/json", headers={"Cache-Control": "no-store"})


ROUTES: Final = (credential_status,)
