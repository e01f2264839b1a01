"""``GET /assets/design.css``: the pages' stylesheet (:mod:`servicekit.design`), from the provider's own origin so
that the pages' CSP allows it as ``style-src 'self'``; the pages link it with its digest, so it is cached for long."""

from __future__ import annotations

from typing import Final

from litestar import Response, get

from servicekit.design import STYLESHEET, STYLESHEET_PATH
from servicekit.http import openapi as doc


@get(STYLESHEET_PATH, summary="The pages' stylesheet", tags=["Pages"], sync_to_thread=False)
def stylesheet() -> Response[str]:
    """The stylesheet (the ``v`` query parameter only versions the URL)."""
    return Response(STYLESHEET.text, media_type="text/css; charset=utf-8", headers=STYLESHEET.headers)


OPENAPI: Final = {STYLESHEET_PATH: {"get": doc.operation(responses=doc.answer((200,), "the stylesheet",
                                                                              {"text/css": {"type": "string"}}))}}

ROUTES: Final = (stylesheet,)

__all__ = ["ROUTES"]
