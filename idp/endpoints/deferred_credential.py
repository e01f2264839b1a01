"""``POST /deferred_credential``: the Deferred Credential Endpoint (OpenID4VCI 1.0 §9): ``{"transaction_id"}``
with the access token of the original request; 200 with the credentials once the signing certificate's status
is known, 202 again while it is not, ``invalid_transaction_id`` for unknown or used transactions."""

from __future__ import annotations

from typing import Any, Final

from litestar import Response, post
from litestar.di import NamedDependency

from credentials.oid4vci.errors import IssuanceErrorCode
from idp.metrics import Metrics
from idp.runtime import Services, utcnow
from idp.vci.access import PARAMETERS, credential_responses, serve
from idp.vci.issue import deferred_request
from idp.web.forms import AnyRequest
from servicekit.http import openapi as doc

PATH: Final = "/deferred_credential"
#: Members of the Credential Issuer Metadata (OpenID4VCI 1.0 §12.2.4).
ISSUER_METADATA: Final = {"deferred_credential_endpoint": PATH}


@post(PATH, status_code=200, request_max_body_size=4096, summary="Deferred Credential Endpoint", tags=["OpenID4VCI"])
async def deferred_credential(request: AnyRequest, services: NamedDependency[Services],
                              metrics: NamedDependency[Metrics]) -> Response[Any]:
    """The credentials of a deferred issuance, or 202 again."""
    return await serve(request, services, metrics, path=PATH, error=IssuanceErrorCode.INVALID_CREDENTIAL_REQUEST,
                       handler=lambda access, body: deferred_request(services, access, body, utcnow()))


OPENAPI: Final = {PATH: {"post": doc.operation(
    parameters=PARAMETERS,
    body=doc.json_body(doc.obj(doc.strings("transaction_id"), ("transaction_id",))),
    responses=credential_responses("the credentials (OpenID4VCI 1.0 §9.2)", "still deferred (§9.2)"))}}

ROUTES: Final = (deferred_credential,)
