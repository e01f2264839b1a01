"""``POST /notification``: the Notification Endpoint (OpenID4VCI 1.0 §11): ``credential_accepted``,
``credential_failure`` or ``credential_deleted`` for a ``notification_id``; 204, idempotent."""

from __future__ import annotations

from typing import Any, Final

from litestar import Response, post
from litestar.di import NamedDependency

from credentials.oid4vci.errors import IssuanceErrorCode
from idp.metrics import Metrics
from idp.runtime import Services
from idp.vci.access import ERROR_RESPONSES, PARAMETERS, serve
from idp.vci.issue import notification as record
from idp.web.forms import AnyRequest
from servicekit.http import openapi as doc

PATH: Final = "/notification"
#: Members of the Credential Issuer Metadata (OpenID4VCI 1.0 §12.2.4).
ISSUER_METADATA: Final = {"notification_endpoint": PATH}


@post(PATH, status_code=200, request_max_body_size=4096, summary="Notification Endpoint", tags=["OpenID4VCI"])
async def notification(request: AnyRequest, services: NamedDependency[Services],
                       metrics: NamedDependency[Metrics]) -> Response[Any]:
    """Record what became of the issued credentials."""
    return await serve(request, services, metrics, path=PATH, error=IssuanceErrorCode.INVALID_NOTIFICATION_REQUEST,
                       handler=lambda access, body: record(services, access, body))


OPENAPI: Final = {PATH: {"post": doc.operation(
    parameters=PARAMETERS,
    body=doc.json_body(doc.obj({**doc.strings("notification_id", "event_description"), "event": {
        "type": "string", "enum": ["credential_accepted", "credential_failure", "credential_deleted"]}},
        ("notification_id", "event"))),
    responses=doc.responses({"204": {"description": "recorded (OpenID4VCI 1.0 §11.2)"}}, ERROR_RESPONSES))}}

ROUTES: Final = (notification,)
