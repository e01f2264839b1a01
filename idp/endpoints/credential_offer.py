"""``GET /credential-offer/{id}``: a Credential Offer by reference (OpenID4VCI 1.0 §4.1.3), ``application/json``,
unsigned; each offer has its own URI (§4.1.3 note) and lives as long as its pre-authorized code
(:mod:`idp.vci.preauth`)."""

from __future__ import annotations

from typing import Any, Final

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from idp.runtime import Services, utcnow
from idp.vci.preauth import OFFER_KIND, OFFER_PATH
from servicekit.http import openapi as doc
from servicekit.http.openapi import STRING

PATH = OFFER_PATH + "/{offer_id:str}"


@get(PATH, summary="Credential Offer by reference", tags=["OpenID4VCI"])
async def credential_offer(offer_id: FromPath[str], services: NamedDependency[Services]) -> Response[dict[str, Any]]:
    """The offer object."""
    stored = await services.objects.find(OFFER_KIND, offer_id, now=utcnow()) if 0 < len(offer_id) <= 64 else None
    if stored is None:
        raise NotFoundException()
    return Response(stored.payload, media_type="application/json", headers={"Cache-Control": "no-store"})


OPENAPI: Final = {OFFER_PATH + "/{offer_id}": {"get": doc.operation(responses=doc.responses(
    doc.json_answer(200, "the Credential Offer (OpenID4VCI 1.0 §4.1.1)", doc.obj(
        {**doc.strings("credential_issuer"), "credential_configuration_ids": {"type": "array", "items": STRING}},
        ("credential_issuer", "credential_configuration_ids"))),
    doc.not_found("unknown or expired offer")))}}

ROUTES: Final = (credential_offer,)
