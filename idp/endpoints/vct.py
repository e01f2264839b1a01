"""``GET /vct/{name}``: SD-JWT VC Type Metadata (draft-ietf-oauth-sd-jwt-vc §6.3.1), served at the ``vct`` URL of
each credential type, as the exact octets hashed into the credentials' ``vct#integrity`` — so the document is
static and may be cached for good (§6.3.4).
"""

from __future__ import annotations

from typing import Final

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from credentials.oid4vci.configurations import CONFIGURATIONS
from credentials.oid4vci.metadata import type_metadata_bytes
from idp.runtime import Services
from servicekit.http import openapi as doc

PATH: Final = "/vct/{name:str}"
_BY_NAME: Final = {c.vct_name: c for c in CONFIGURATIONS.values()}


@get(PATH, summary="SD-JWT VC Type Metadata", tags=["OpenID4VCI"], sync_to_thread=False)
def type_metadata(name: FromPath[str], services: NamedDependency[Services]) -> Response[bytes]:
    """The type metadata of one ``vct``."""
    config = _BY_NAME.get(name)
    if config is None:
        raise NotFoundException()
    return Response(type_metadata_bytes(config, services.settings.issuer), media_type="application/json",
                    headers={"Cache-Control": "public, max-age=86400"})


OPENAPI: Final = {"/vct/{name}": {"get": doc.operation(responses=doc.responses(
    doc.json_answer(200, "the SD-JWT VC Type Metadata (draft-ietf-oauth-sd-jwt-vc §6.3.1)"),
    doc.not_found("no credential type of this name")))}}

ROUTES: Final = (type_metadata,)
