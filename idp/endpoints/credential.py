"""``POST /credential``: the Credential Endpoint (OpenID4VCI 1.0 §8): see :mod:`idp.vci.issue` for the checks.

200 ``{"credentials": [{"credential": …}], "notification_id"}``, 202 ``{"transaction_id", "interval"}`` while the
signing certificate's revocation status is unknown; errors 400 with the §8.3.1.2 codes, 401/403 with RFC 6750
challenges."""

from __future__ import annotations

from typing import Any, Final

from litestar import Response, post
from litestar.di import NamedDependency

from credentials.oid4vci.errors import IssuanceErrorCode
from idp.metrics import Metrics
from idp.runtime import Services, utcnow
from idp.vci.access import MAX_JSON_BODY, PARAMETERS, credential_responses, serve
from idp.vci.issue import credential_request
from idp.web.forms import AnyRequest
from servicekit.http import openapi as doc

PATH: Final = "/credential"
#: Members of the Credential Issuer Metadata (OpenID4VCI 1.0 §12.2.4).
ISSUER_METADATA: Final = {"credential_endpoint": PATH}


@post(PATH, status_code=200, request_max_body_size=MAX_JSON_BODY, summary="Credential Endpoint", tags=["OpenID4VCI"])
async def credential(request: AnyRequest, services: NamedDependency[Services],
                     metrics: NamedDependency[Metrics]) -> Response[Any]:
    """Issue credentials for the access token's authorization."""
    return await serve(request, services, metrics, path=PATH, error=IssuanceErrorCode.INVALID_CREDENTIAL_REQUEST,
                       handler=lambda access, body: credential_request(services, access, body, utcnow()))


OPENAPI: Final = {PATH: {"post": doc.operation(
    parameters=PARAMETERS,
    body=doc.json_body(doc.obj({**doc.strings("credential_configuration_id", "credential_identifier"),
                                "proofs": doc.OBJECT, "credential_response_encryption": doc.OBJECT})),
    responses=credential_responses("the credentials (OpenID4VCI 1.0 §8.3)", "issuance deferred (§8.3)"))}}

ROUTES: Final = (credential,)
