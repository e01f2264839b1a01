"""``GET /.well-known/jwt-vc-issuer``: JWT VC Issuer Metadata (draft-ietf-oauth-sd-jwt-vc §5): the issuer and the
credential signing keys (next, current, and retired ones whose credentials may still be valid), for verifiers
that resolve issuer keys by ``iss`` rather than by the ``x5c`` chain every credential also carries.
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Response, get
from litestar.di import NamedDependency

from credentials.oid4vci.metadata import jwt_vc_issuer_metadata
from credentials.sdjwtvc import WELL_KNOWN
from idp.runtime import Services, utcnow
from idp.vci.service import issuer_of
from servicekit.http import openapi as doc

PATH: Final = WELL_KNOWN


@get(PATH, summary="JWT VC Issuer Metadata", tags=["OpenID4VCI"])
async def jwt_vc_issuer(services: NamedDependency[Services]) -> Response[dict[str, Any]]:
    """The issuer's credential signing keys."""
    vci = issuer_of(services)
    jwks = {"keys": []} if vci is None else await vci.keys.jwks(utcnow())
    return Response(jwt_vc_issuer_metadata(services.settings.issuer, jwks), media_type="application/json",
                    headers={"Cache-Control": f"public, max-age={int(services.settings.keys.jwks_max_age)}"})


OPENAPI: Final = {PATH: {"get": doc.operation(responses=doc.json_answer(
    200, "the JWT VC Issuer Metadata (draft-ietf-oauth-sd-jwt-vc §5)",
    doc.obj({**doc.strings("issuer"), "jwks": {"type": "object"}}, ("issuer", "jwks"))))}}

ROUTES: Final = (jwt_vc_issuer,)
