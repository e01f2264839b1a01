"""``POST /nonce``: the Nonce Endpoint (OpenID4VCI 1.0 §7): a fresh, unpredictable ``c_nonce`` (256 bits), single
use, valid ``credentials.nonce_ttl``, consumed by the Credential Request whose proofs carry it. Not a protected
resource; ``Cache-Control: no-store`` and a ``DPoP-Nonce`` for the Credential Request (§7.2)."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Final

from litestar import Response, post
from litestar.di import NamedDependency

from idp.oauth import dpop
from idp.runtime import Services, utcnow
from idp.storage.credentials import NONCE_KIND
from servicekit.http import openapi as doc

PATH: Final = "/nonce"
#: Members of the Credential Issuer Metadata (OpenID4VCI 1.0 §12.2.4).
ISSUER_METADATA: Final = {"nonce_endpoint": PATH}


@post(PATH, status_code=200, request_max_body_size=1024, summary="Nonce Endpoint", tags=["OpenID4VCI"])
async def nonce(services: NamedDependency[Services]) -> Response[dict[str, str]]:
    """A new ``c_nonce``."""
    now = utcnow()
    value = secrets.token_urlsafe(32)
    await services.objects.upsert(NONCE_KIND, value, {}, now + dt.timedelta(seconds=services.settings.credentials
                                                                            .nonce_ttl))
    return Response({"c_nonce": value}, media_type="application/json",
                    headers={"Cache-Control": "no-store", "DPoP-Nonce": await dpop.current_nonce(services, now)})


OPENAPI: Final = {PATH: {"post": doc.operation(responses=doc.responses(
    doc.json_answer(200, "a fresh c_nonce (OpenID4VCI 1.0 §7.2)", doc.obj(doc.strings("c_nonce"), ("c_nonce",)),
                    headers=doc.DPOP_NONCE),
    doc.too_large()))}}

ROUTES: Final = (nonce,)
