"""Provider metadata: ``/.well-known/openid-configuration`` (OIDC Discovery §4) and
``/.well-known/oauth-authorization-server`` (RFC 8414 §3).

Only implemented features are advertised: each endpoint module contributes its own members (``METADATA``,
``feature_metadata``), read from the one list of endpoints (:func:`idp.endpoints.provider_members`).
:data:`PENDING` lists the members still to come with the
rest of issue 4; a test checks that none of them is advertised early.
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Response, get
from litestar.di import NamedDependency

from idp.endpoints import provider_members
from idp.runtime import Services
from idp.settings import Settings
from servicekit.http import openapi as doc

OPENID_CONFIGURATION: Final = "/.well-known/openid-configuration"
OAUTH_AUTHORIZATION_SERVER: Final = "/.well-known/oauth-authorization-server"

#: Members to advertise once their endpoint or feature exists (move each into its endpoint module's METADATA).
PENDING: Final[tuple[str, ...]] = ()


def provider_metadata(settings: Settings) -> dict[str, Any]:
    """The metadata document for ``settings.issuer``."""
    return {"issuer": settings.issuer, **provider_members(settings)}


def _response(services: Services) -> Response[dict[str, Any]]:
    max_age = int(services.settings.http.discovery_max_age)
    return Response(provider_metadata(services.settings), media_type="application/json",
                    headers={"Cache-Control": f"public, max-age={max_age}"})


@get(OPENID_CONFIGURATION, summary="OpenID Provider metadata", tags=["OpenID Connect"], sync_to_thread=False)
def openid_configuration(services: NamedDependency[Services]) -> Response[dict[str, Any]]:
    """OpenID Connect Discovery 1.0 §4 provider configuration."""
    return _response(services)


@get(OAUTH_AUTHORIZATION_SERVER, summary="OAuth 2.0 authorization server metadata", tags=["OAuth 2.0"],
     sync_to_thread=False)
def oauth_authorization_server(services: NamedDependency[Services]) -> Response[dict[str, Any]]:
    """RFC 8414 §3 authorization server metadata."""
    return _response(services)


_METADATA_DOCUMENT: Final = doc.operation(responses=doc.json_answer(
    200, "the metadata document", doc.obj(doc.strings("issuer"), ("issuer",))))
OPENAPI: Final = {OPENID_CONFIGURATION: {"get": _METADATA_DOCUMENT},
                  OAUTH_AUTHORIZATION_SERVER: {"get": _METADATA_DOCUMENT}}

ROUTES: Final = (openid_configuration, oauth_authorization_server)
