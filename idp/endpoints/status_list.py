"""``GET /statuslists/{id}``: Token Status Lists (draft-ietf-oauth-status-list §8.1) as
``application/statuslist+jwt`` (:mod:`idp.vci.status`), cacheable for the token's ``ttl``."""

from __future__ import annotations

from typing import Final

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from idp.runtime import Services, utcnow
from idp.vci.status import STATUS_PATH, status_list_token
from servicekit.http import openapi as doc

PATH: Final = STATUS_PATH + "/{list_id:int}"
MEDIA_TYPE: Final = "application/statuslist+jwt"


@get(PATH, summary="Token Status List", tags=["Status lists"])
async def status_list(list_id: FromPath[int], services: NamedDependency[Services]) -> Response[str]:
    """The signed Status List Token."""
    token = await status_list_token(services, list_id, utcnow()) if 0 < list_id < 1 << 31 else None
    if token is None:
        raise NotFoundException()
    max_age = int(services.settings.credentials.status_list_ttl)
    return Response(token, media_type=MEDIA_TYPE, headers={"Cache-Control": f"public, max-age={max_age}"})


OPENAPI: Final = {STATUS_PATH + "/{list_id}": {"get": doc.operation(responses=doc.responses(
    doc.answer((200,), "the Status List Token (draft-ietf-oauth-status-list §5.1)", {MEDIA_TYPE: {"type": "string"}}),
    doc.not_found("no such status list")))}}

ROUTES: Final = (status_list,)
