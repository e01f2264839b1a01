"""``GET /clients/{client_id}/logo``: a client's logo as the provider stored it (:mod:`idp.web.logos`: fetched once
at registration, decoded and re-encoded as PNG), so that the login and consent pages show it from the provider's
own origin (``img-src 'self'``) and the client never learns who looked at them. The URL carries the logo's digest
(``?v=``), so the answer is cacheable for long."""

from __future__ import annotations

from typing import Final

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from idp.runtime import Services
from servicekit.http import openapi as doc

PATH: Final = "/clients/{client_id:str}/logo"
_HEADERS: Final = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff",
                   "Content-Security-Policy": "default-src 'none'; sandbox",
                   "Cross-Origin-Resource-Policy": "same-origin"}


@get(PATH, summary="A client's logo", tags=["Pages"])
async def client_logo(client_id: FromPath[str], services: NamedDependency[Services]) -> Response[bytes]:
    """The stored PNG, or 404."""
    png = await services.clients.logo(client_id) if len(client_id) <= 255 else None
    if png is None:
        raise NotFoundException()
    return Response(png, media_type="image/png", headers=_HEADERS)


OPENAPI: Final = {"/clients/{client_id}/logo": {"get": doc.operation(
    parameters=[doc.parameter("path", "client_id", "the client", required=True)],
    responses=doc.responses(doc.answer((200,), "the logo as PNG", {"image/png": None}),
                            doc.not_found("no such client, or it has no logo")))}}

ROUTES: Final = (client_logo,)

__all__ = ["PATH", "ROUTES"]
