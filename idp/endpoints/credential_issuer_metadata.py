"""``GET /.well-known/openid-credential-issuer``: Credential Issuer Metadata (OpenID4VCI 1.0 §12.2), display in
Japanese and English, one configuration per credential we issue (:mod:`credentials.oid4vci.configurations`).

The provider is the issuer's authorization server, so ``authorization_servers`` is absent (§12.2.4) and the
provider's own metadata gains ``authorization_details_types_supported`` (RFC 9396 §10; the authorization
endpoint's members, from the registry of :mod:`idp.oauth.authorization_request.details`). The endpoints listed are the
``ISSUER_METADATA`` of the endpoint modules (:func:`idp.endpoints.issuer_endpoints`).
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Response, get
from litestar.di import NamedDependency

from credentials.oid4vci.configurations import CONFIGURATIONS
from credentials.oid4vci.metadata import IssuerDescription, KeyAttestationRequirement, issuer_metadata
from idp.endpoints import issuer_endpoints
from idp.runtime import Services
from idp.settings import Settings
from servicekit.http import openapi as doc

PATH: Final = "/.well-known/openid-credential-issuer"


def description(settings: Settings) -> IssuerDescription:
    """What the metadata says about this deployment."""
    options = settings.credentials
    attestations = None
    if options.key_attestations == "required":
        attestations = KeyAttestationRequirement(options.key_storage_levels, options.user_authentication_levels)
    return IssuerDescription(issuer=settings.issuer, endpoints=issuer_endpoints(),
                             display={"ja": options.display_name_ja, "en": options.display_name_en},
                             batch_size=options.batch_size, key_attestations=attestations)


@get(PATH, summary="Credential Issuer Metadata", tags=["OpenID4VCI"], sync_to_thread=False)
def credential_issuer_metadata(services: NamedDependency[Services]) -> Response[dict[str, Any]]:
    """The Credential Issuer Metadata document (unsigned JSON, §12.2.2)."""
    document = issuer_metadata(list(CONFIGURATIONS.values()), description(services.settings))
    max_age = int(services.settings.http.discovery_max_age)
    return Response(document, media_type="application/json", headers={"Cache-Control": f"public, max-age={max_age}",
                                                                      "Content-Language": "ja, en"})


OPENAPI: Final = {PATH: {"get": doc.operation(responses=doc.json_answer(
    200, "the Credential Issuer Metadata (OpenID4VCI 1.0 §12.2.4)",
    doc.obj({**doc.strings("credential_issuer", "credential_endpoint"), "credential_configurations_supported": {
        "type": "object"}}, ("credential_issuer", "credential_endpoint", "credential_configurations_supported"))))}}

ROUTES: Final = (credential_issuer_metadata,)
